/**
 * BROKER=alpaca-mcp: alpaca-mcp-server processes, each holding one key pair for its whole life
 * (ALPACA_API_KEY / ALPACA_SECRET_KEY in its environment) and acting on that one Alpaca account. So:
 *   - accounts mode (APCA_ACCT{n}_KEY_ID / APCA_ACCT{n}_SECRET_KEY): one server per account, our six
 *     accounts being six paper accounts;
 *   - sub-ledger mode (only APCA_API_KEY_ID / APCA_API_SECRET_KEY): one server for the one paper
 *     account the six sub-ledgers share; it must also offer get_stock_latest_trade.
 * Servers start on first use (see connection.ts), so a command that does not trade starts none.
 *
 * What the child gets in its environment: the SDK's default (HOME, LOGNAME, PATH, SHELL, TERM, USER),
 * proxy / certificate / locale / uv settings so uvx can install and run the server where we can, and
 * the server's own variables: ALPACA_API_KEY, ALPACA_SECRET_KEY, ALPACA_PAPER_TRADE (from
 * APCA_API_BASE_URL, see env.ts), ALPACA_TOOLSETS (only the toolsets with the tools we call) and
 * DATA_API_URL (APCA_DATA_BASE_URL when set). Nothing else of ours (LLM keys, DATABASE_URL).
 */
import type { AppConfig } from '../../config/app-config.js';
import { alpacaMcpPaperTrade, type AlpacaKeyPair, type Env } from '../../config/env.js';
import { SUBLEDGER_ACCOUNT_LABEL } from '../alpaca-subledger-broker.js';
import { AlpacaMcpApi, alpacaMcpTools } from './api.js';
import { McpConnection } from './connection.js';

/** The server's toolsets holding our tools: account (get_account_info), trading, assets (clock, calendar), stock-data (bars, latest trade). */
export const ALPACA_MCP_TOOLSETS = 'account,trading,assets,stock-data';

/** Variables of ours a server may need to be installed and run (never a secret of ours). */
const PASSED_THROUGH =
  /^(UV_\w+|XDG_\w+|HTTPS?_PROXY|NO_PROXY|https?_proxy|no_proxy|SSL_CERT_FILE|SSL_CERT_DIR|REQUESTS_CA_BUNDLE|TMPDIR|LANG|LC_\w+)$/;

export interface AlpacaMcpAccounts {
  /** Accounts mode: one api (one server) per account id; empty in sub-ledger mode. */
  apis: Map<number, AlpacaMcpApi>;
  /** Sub-ledger mode: the one server of the one key pair, for all six sub-ledgers; null in accounts mode. */
  subledger: AlpacaMcpApi | null;
  /** Process ids of the servers running now (for tests and diagnostics). */
  pids(): number[];
  /** Stops every server (idempotent). */
  close(): Promise<void>;
}

export interface AlpacaMcpAccountsOptions {
  /** Deadline of one tool call (default 60 s). */
  callTimeoutMs?: number;
  /** Our environment, for the pass-through variables (default process.env). */
  processEnv?: NodeJS.ProcessEnv;
}

export function alpacaMcpAccounts(env: Env, config: AppConfig, options: AlpacaMcpAccountsOptions = {}): AlpacaMcpAccounts {
  const paperTrade = alpacaMcpPaperTrade(env.alpaca);
  const passed: Record<string, string> = {};
  for (const [name, value] of Object.entries(options.processEnv ?? process.env))
    if (value !== undefined && PASSED_THROUGH.test(name)) passed[name] = value;
  const connections: McpConnection[] = [];
  const serverOf = (pair: AlpacaKeyPair, accountLabel: string, mode: 'accounts' | 'subledger'): AlpacaMcpApi => {
    const secrets = [pair.keyId, pair.secretKey];
    const connection = new McpConnection({
      accountLabel,
      argv: env.alpaca.mcpCommand,
      env: {
        ...passed,
        ALPACA_API_KEY: pair.keyId,
        ALPACA_SECRET_KEY: pair.secretKey,
        ALPACA_PAPER_TRADE: paperTrade,
        ALPACA_TOOLSETS: ALPACA_MCP_TOOLSETS,
        ...(env.alpaca.dataBaseUrl ? { DATA_API_URL: env.alpaca.dataBaseUrl } : {}),
      },
      secrets,
      requiredTools: alpacaMcpTools(mode),
      ...(options.callTimeoutMs !== undefined ? { callTimeoutMs: options.callTimeoutMs } : {}),
    });
    connections.push(connection);
    return new AlpacaMcpApi(connection, { secrets });
  };
  const apis = new Map<number, AlpacaMcpApi>();
  let subledger: AlpacaMcpApi | null = null;
  // The same choice as checkBrokerEnv: any APCA_ACCT{n} key means a paper account per account.
  if (env.alpaca.mode === 'subledger' && env.alpaca.defaultPair)
    subledger = serverOf(env.alpaca.defaultPair, SUBLEDGER_ACCOUNT_LABEL, 'subledger');
  else
    for (const account of config.models.accounts) {
      const pair = env.alpaca.accounts[account.id];
      if (pair) apis.set(account.id, serverOf(pair, `${account.id} (${account.owner})`, 'accounts'));
    }
  return {
    apis,
    subledger,
    pids: () => connections.flatMap((c) => (c.pid === null ? [] : [c.pid])),
    close: async () => {
      await Promise.all(connections.map((c) => c.close()));
    },
  };
}
