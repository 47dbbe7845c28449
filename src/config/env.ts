import { resolve } from 'node:path';
import { z } from 'zod';
import { UserError } from '../errors.js';
import { CommandLineError, DEFAULT_ALPACA_MCP_COMMAND, parseCommandLine } from '../broker/alpaca-mcp/command.js';

/**
 * The process environment, parsed once. Every variable of the README's configuration table is here.
 * Secrets stay in this object and are only read by the adapters that need them.
 */
const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === '' ? undefined : v.trim()));

const optionalEnum = <T extends readonly [string, ...string[]]>(values: T) =>
  z.preprocess((v) => (typeof v === 'string' && v.trim() === '' ? undefined : v), z.enum(values).optional());

const positiveNumber = (fallback: number) =>
  z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v.trim() === '') return fallback;
      const n = Number(v);
      if (!Number.isFinite(n) || n <= 0) {
        ctx.addIssue({ code: 'custom', message: `expected a positive number, got "${v}"` });
        return z.NEVER;
      }
      return n;
    });

/** The six paper accounts, one key pair each (APCA_ACCT{n}_KEY_ID / APCA_ACCT{n}_SECRET_KEY). */
export const ALPACA_ACCOUNT_IDS = [1, 2, 3, 4, 5, 6] as const;

const EnvSchema = z.object({
  DATABASE_URL: optionalString,
  DB_MIN_POOL_SIZE: positiveNumber(10),
  DB_MAX_POOL_SIZE: positiveNumber(50),
  DB_COMMAND_TIMEOUT: positiveNumber(60),
  LLM_TRADING_HOME: optionalString,
  REQUESTY_API_KEY: optionalString,
  REQUSTY_API_KEY: optionalString,
  REQUESTY_BASE_URL: optionalString,
  OPENROUTER_API_KEY: optionalString,
  OPENROUTER_BASE_URL: optionalString,
  PERPLEXITY_API_KEY: optionalString,
  PERPLEXITY_BASE_URL: optionalString,
  GEMINI_API_KEY: optionalString,
  GEMINI_BASE_URL: optionalString,
  MARKET_DATA_DIR: optionalString,
  LLM_TRADING_PROMPTS_DIR: optionalString,
  LLM_PROVIDER: optionalEnum(['offline', 'requesty', 'openrouter'] as const),
  BROKER: optionalEnum(['sim', 'alpaca', 'alpaca-mcp'] as const),
  MARKET_DATA: optionalEnum(['bundled', 'alpaca'] as const),
  LLM_TRADING_PORTFOLIO: optionalString,
  APCA_API_KEY_ID: optionalString,
  APCA_API_SECRET_KEY: optionalString,
  APCA_API_BASE_URL: optionalString,
  APCA_DATA_BASE_URL: optionalString,
  ...Object.fromEntries(
    ALPACA_ACCOUNT_IDS.flatMap((n) => [
      [`APCA_ACCT${n}_KEY_ID`, optionalString],
      [`APCA_ACCT${n}_SECRET_KEY`, optionalString],
    ]),
  ),
  ALPACA_FILL_TIMEOUT_SECONDS: positiveNumber(7200),
  ALPACA_ORDER_WAIT_SECONDS: positiveNumber(60),
  ALPACA_POLL_SECONDS: positiveNumber(2),
  ALPACA_MCP_COMMAND: optionalString,
  ALPACA_DATA_FEED: optionalEnum(['iex', 'sip'] as const),
});

export interface Env {
  databaseUrl: string | undefined;
  pool: { min: number; max: number; commandTimeoutMs: number };
  home: string;
  marketDataDir: string | undefined;
  /** LLM_TRADING_PROMPTS_DIR; unset: the prompts/ folder of the config directory. */
  promptsDir: string | undefined;
  llmProvider: 'offline' | 'requesty' | 'openrouter';
  /** alpaca-mcp: the Alpaca broker, its calls made through alpaca-mcp-server's tools (src/broker/alpaca-mcp/). */
  broker: 'sim' | 'alpaca' | 'alpaca-mcp';
  /** Whether BROKER was set (else the broker was chosen from the keys present). */
  brokerExplicit: boolean;
  marketData: 'bundled' | 'alpaca';
  /** LLM_TRADING_PORTFOLIO: the portfolio commands act on when --portfolio is not given. */
  portfolio: string | undefined;
  keys: { requesty?: string; openrouter?: string; perplexity?: string; gemini?: string };
  /** Alpaca settings; key pairs stay here and are only read by the Alpaca broker adapter. */
  alpaca: AlpacaEnv;
  baseUrls: { requesty: string; openrouter: string; perplexity: string; gemini: string };
}

export interface AlpacaKeyPair {
  keyId: string;
  secretKey: string;
}

export interface AlpacaEnv {
  /** The key pair of each account that has both APCA_ACCT{n}_KEY_ID and APCA_ACCT{n}_SECRET_KEY. */
  accounts: Partial<Record<number, AlpacaKeyPair>>;
  /** The variables of APCA_ACCT1..6 that are missing (names only), when at least one is set. */
  missing: string[];
  /** Whether any APCA_ACCT{n}_* variable is set. */
  anyAccountKey: boolean;
  /** APCA_API_KEY_ID / APCA_API_SECRET_KEY: the one paper account of the sub-ledger mode. */
  defaultPair: AlpacaKeyPair | undefined;
  /** The variable of the default pair that is missing when only the other one is set, else undefined. */
  defaultPairMissing: string | undefined;
  /**
   * Which way the accounts trade on Alpaca: 'accounts' (any APCA_ACCT{n} key set: one paper account per
   * account, all six pairs needed), 'subledger' (only APCA_API_KEY_ID/_SECRET_KEY: six sub-ledgers of
   * one paper account), or null (no Alpaca keys).
   */
  mode: 'accounts' | 'subledger' | null;
  tradingBaseUrl: string | undefined;
  dataBaseUrl: string | undefined;
  /** ALPACA_FILL_TIMEOUT_SECONDS (default 7200): how long a run waits for opening/closing-auction fills. */
  fillTimeoutMs: number;
  /** ALPACA_ORDER_WAIT_SECONDS (default 60): how long a run waits for a market order during the session. */
  orderWaitMs: number;
  /** ALPACA_POLL_SECONDS (default 2): how often an open order is looked at while waiting. */
  pollMs: number;
  /** ALPACA_MCP_COMMAND (default `uvx alpaca-mcp-server`) as argv, split without a shell (BROKER=alpaca-mcp). */
  mcpCommand: string[];
  /** ALPACA_DATA_FEED: the market-data feed, overriding config/market-data.yaml. */
  dataFeed: 'iex' | 'sip' | undefined;
}

export class EnvError extends UserError {}

/**
 * The broker the environment asks for, or why it cannot be used: BROKER, else Alpaca when its keys
 * are there, else the simulated broker. Alpaca's two ways (README "Alpaca paper accounts"), over HTTP
 * (BROKER=alpaca) or through alpaca-mcp-server (BROKER=alpaca-mcp, a server per paper account):
 *   - all six APCA_ACCT{n} key pairs → one paper account per account (a default pair also set is not
 *     used: the per-account keys are the more specific choice);
 *   - APCA_API_KEY_ID + APCA_API_SECRET_KEY and no APCA_ACCT{n} key → six sub-ledgers of one paper account.
 * Some of the six pairs but not all is a mistake (one account would trade elsewhere, or — with the
 * default pair also set — the two ways would mix in one portfolio): refused, naming what is missing.
 * So is half of the default pair. BROKER=alpaca-mcp also needs a trading URL the server can use.
 */
export function checkBrokerEnv(env: Env): void {
  const a = env.alpaca;
  const sixPairs = 'all six APCA_ACCT{n}_KEY_ID/_SECRET_KEY pairs (one paper account each)';
  const onePair = 'APCA_API_KEY_ID and APCA_API_SECRET_KEY (one paper account, six sub-ledgers)';
  const alpaca = env.broker === 'alpaca' || env.broker === 'alpaca-mcp';
  const keysMatter = alpaca || !env.brokerExplicit;
  if (a.anyAccountKey && a.missing.length > 0 && keysMatter) {
    if (a.defaultPair)
      throw new EnvError(
        `both kinds of Alpaca keys are set, APCA_API_KEY_ID and some APCA_ACCT{n} keys (missing ${a.missing.join(', ')}): set ${sixPairs}, or remove the APCA_ACCT{n} keys to use ${onePair}`,
      );
    if (env.broker === 'alpaca') throw new EnvError(`BROKER=alpaca needs one key pair per account; missing: ${a.missing.join(', ')}`);
    if (env.broker === 'alpaca-mcp')
      throw new EnvError(
        `BROKER=alpaca-mcp runs one alpaca-mcp-server per paper account and, with APCA_ACCT{n} keys, needs one key pair per account (or remove them to use ${onePair}); missing: ${a.missing.join(', ')}`,
      );
    throw new EnvError(
      `some Alpaca account keys are set but not all six: missing ${a.missing.join(', ')} (set them, or BROKER=sim to ignore the keys)`,
    );
  }
  if (a.defaultPairMissing && !a.anyAccountKey && keysMatter)
    throw new EnvError(`half of Alpaca's key pair is set: ${a.defaultPairMissing} is missing (or set BROKER=sim to ignore the key)`);
  if (alpaca && a.mode === null) throw new EnvError(`BROKER=${env.broker} needs ${onePair}, or ${sixPairs}`);
  if (env.broker === 'alpaca-mcp') alpacaMcpPaperTrade(a);
}

const PAPER_URL = 'https://paper-api.alpaca.markets';
const LIVE_URL = 'https://api.alpaca.markets';

/**
 * ALPACA_PAPER_TRADE for alpaca-mcp-server from APCA_API_BASE_URL: the server cannot be pointed at any
 * other trading URL than Alpaca's paper or live one (it only reads ALPACA_PAPER_TRADE), so another
 * URL is refused rather than silently replaced by Alpaca's.
 */
export function alpacaMcpPaperTrade(alpaca: Pick<AlpacaEnv, 'tradingBaseUrl'>): 'true' | 'false' {
  const url = alpaca.tradingBaseUrl?.replace(/\/+$/, '');
  if (url === undefined || url === PAPER_URL) return 'true';
  if (url === LIVE_URL) return 'false';
  throw new EnvError(
    `BROKER=alpaca-mcp cannot use APCA_API_BASE_URL=${url}: alpaca-mcp-server only trades at ${PAPER_URL} or ${LIVE_URL} (unset it for paper)`,
  );
}

export function parseEnv(source: NodeJS.ProcessEnv = process.env): Env {
  const result = EnvSchema.safeParse(source);
  if (!result.success) {
    const issue = result.error.issues[0];
    const key = issue?.path.join('.') ?? '?';
    throw new EnvError(`environment variable ${key}: ${issue?.message ?? 'invalid'}`);
  }
  const e = result.data;
  const requesty = e.REQUESTY_API_KEY ?? e.REQUSTY_API_KEY;
  const keys = { requesty, openrouter: e.OPENROUTER_API_KEY, perplexity: e.PERPLEXITY_API_KEY, gemini: e.GEMINI_API_KEY };
  const alpaca = alpacaEnv(source, e);
  const llmProvider = e.LLM_PROVIDER ?? (requesty ? 'requesty' : e.OPENROUTER_API_KEY ? 'openrouter' : 'offline');
  return {
    databaseUrl: e.DATABASE_URL,
    pool: { min: e.DB_MIN_POOL_SIZE, max: e.DB_MAX_POOL_SIZE, commandTimeoutMs: e.DB_COMMAND_TIMEOUT * 1000 },
    home: resolve(e.LLM_TRADING_HOME ?? '.llm-trading'),
    marketDataDir: e.MARKET_DATA_DIR,
    promptsDir: e.LLM_TRADING_PROMPTS_DIR === undefined ? undefined : resolve(e.LLM_TRADING_PROMPTS_DIR),
    llmProvider,
    broker: e.BROKER ?? ((alpaca.mode === 'accounts' && alpaca.missing.length === 0) || alpaca.mode === 'subledger' ? 'alpaca' : 'sim'),
    brokerExplicit: e.BROKER !== undefined,
    marketData: e.MARKET_DATA ?? 'bundled',
    portfolio: e.LLM_TRADING_PORTFOLIO,
    keys,
    alpaca,
    baseUrls: {
      requesty: e.REQUESTY_BASE_URL ?? 'https://router.requesty.ai/v1',
      openrouter: e.OPENROUTER_BASE_URL ?? 'https://openrouter.ai/api/v1',
      perplexity: e.PERPLEXITY_BASE_URL ?? 'https://api.perplexity.ai',
      gemini: e.GEMINI_BASE_URL ?? 'https://generativelanguage.googleapis.com/v1beta/openai',
    },
  };
}

function alpacaEnv(source: NodeJS.ProcessEnv, e: z.infer<typeof EnvSchema>): AlpacaEnv {
  const value = (name: string): string | undefined => {
    const v = source[name];
    return v === undefined || v.trim() === '' ? undefined : v.trim();
  };
  const accounts: Partial<Record<number, AlpacaKeyPair>> = {};
  const missing: string[] = [];
  let anyAccountKey = false;
  for (const n of ALPACA_ACCOUNT_IDS) {
    const keyId = value(`APCA_ACCT${n}_KEY_ID`);
    const secretKey = value(`APCA_ACCT${n}_SECRET_KEY`);
    anyAccountKey ||= keyId !== undefined || secretKey !== undefined;
    if (keyId === undefined) missing.push(`APCA_ACCT${n}_KEY_ID`);
    if (secretKey === undefined) missing.push(`APCA_ACCT${n}_SECRET_KEY`);
    if (keyId !== undefined && secretKey !== undefined) accounts[n] = { keyId, secretKey };
  }
  const defaultPair =
    e.APCA_API_KEY_ID !== undefined && e.APCA_API_SECRET_KEY !== undefined
      ? { keyId: e.APCA_API_KEY_ID, secretKey: e.APCA_API_SECRET_KEY }
      : undefined;
  const defaultPairMissing =
    (e.APCA_API_KEY_ID === undefined) === (e.APCA_API_SECRET_KEY === undefined)
      ? undefined
      : e.APCA_API_KEY_ID === undefined
        ? 'APCA_API_KEY_ID'
        : 'APCA_API_SECRET_KEY';
  return {
    accounts,
    missing,
    anyAccountKey,
    defaultPair,
    defaultPairMissing,
    mode: anyAccountKey ? 'accounts' : defaultPair ? 'subledger' : null,
    tradingBaseUrl: e.APCA_API_BASE_URL,
    dataBaseUrl: e.APCA_DATA_BASE_URL,
    fillTimeoutMs: e.ALPACA_FILL_TIMEOUT_SECONDS * 1000,
    orderWaitMs: e.ALPACA_ORDER_WAIT_SECONDS * 1000,
    pollMs: e.ALPACA_POLL_SECONDS * 1000,
    mcpCommand: mcpCommandOf(e.ALPACA_MCP_COMMAND),
    dataFeed: e.ALPACA_DATA_FEED,
  };
}

function mcpCommandOf(text: string | undefined): string[] {
  try {
    return parseCommandLine(text ?? DEFAULT_ALPACA_MCP_COMMAND);
  } catch (error) {
    if (error instanceof CommandLineError) throw new EnvError(`environment variable ALPACA_MCP_COMMAND: ${error.message}`);
    throw error;
  }
}

/**
 * The key pair market data is read with: APCA_API_KEY_ID / APCA_API_SECRET_KEY, else the first
 * account's pair (market data is the same for every account), else a clear refusal.
 */
export function alpacaDataKeys(env: Env): AlpacaKeyPair & { label: string } {
  if (env.alpaca.defaultPair) return { ...env.alpaca.defaultPair, label: 'APCA_API_KEY_ID' };
  for (const n of ALPACA_ACCOUNT_IDS) {
    const pair = env.alpaca.accounts[n];
    if (pair) return { ...pair, label: `APCA_ACCT${n}_KEY_ID` };
  }
  throw new EnvError(
    'Alpaca market data needs a key pair: set APCA_API_KEY_ID and APCA_API_SECRET_KEY (or APCA_ACCT1_KEY_ID and APCA_ACCT1_SECRET_KEY)',
  );
}

/** A one-line description of where a Postgres URL points, with any password removed. */
export function describeDatabaseUrl(url: string): string {
  try {
    const u = new URL(url);
    return `postgresql://${u.username ? `${u.username}@` : ''}${u.host}${u.pathname}`;
  } catch {
    return 'postgresql://<unparseable DATABASE_URL>';
  }
}
