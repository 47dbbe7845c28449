/**
 * One alpaca-mcp-server process for one Alpaca paper account, spoken to over MCP stdio with
 * @modelcontextprotocol/sdk. The SDK is imported when the first call needs the server (dynamic
 * import), so commands that never trade through MCP never load it.
 *
 * Lifecycle: started on the first call (not when the App opens: a command that does not trade never
 * spawns six servers); on start the tool list is read and every tool we use must be there, else the
 * server is stopped and a clear error names the missing tools (a v1 server, or a toolset filter). A
 * server that exits later is started again by the next call; the call that was in flight fails
 * (AlpacaUnavailableError: the broker reports that order as failed and does not record it, and the next
 * run finds it by client_order_id if it was placed). close() stops it (stdin closed, then SIGTERM,
 * then SIGKILL: the SDK's StdioClientTransport.close).
 *
 * Secrets: the key pair reaches the child only through its environment (never argv). The child's
 * environment is the SDK's safe default (HOME, LOGNAME, PATH, SHELL, TERM, USER) plus what the caller
 * passes, so the LLM keys and the database URL are not handed to it. Its stderr is kept (the last
 * lines, redacted with the account's keys) only to explain a failure; it is never printed as it comes.
 */
import type { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { AlpacaConfigError, AlpacaUnavailableError } from '../alpaca/errors.js';
import { showCommandLine } from './command.js';
import { protocolError, redact, unavailable } from './result.js';

export interface McpConnectionOptions {
  /** How messages name the account, e.g. "3 (sonnet)"; never a key. */
  accountLabel: string;
  /** The server's argv (ALPACA_MCP_COMMAND, parsed by command.ts). */
  argv: readonly string[];
  /** Added to the SDK's default environment of the child: the keys and the server's settings. */
  env: Readonly<Record<string, string>>;
  /** Redacted from every message (the key id and the secret). */
  secrets: readonly string[];
  /** Tools the server must offer. */
  requiredTools: readonly string[];
  /** Deadline of one tool call (default 60 s; the server's own HTTP timeout is 30 s). */
  callTimeoutMs?: number;
  /** Deadline of start-up and the tool list (default 120 s: uvx may download the server the first time). */
  startTimeoutMs?: number;
  /** Working directory of the child (default: ours). */
  cwd?: string;
}

const STDERR_TAIL = 2000;
const CLIENT_INFO = { name: 'llm-trading', version: '0.1.0' };

export class McpConnection {
  readonly accountLabel: string;
  readonly #options: McpConnectionOptions;
  #client: Client | null = null;
  #connecting: Promise<Client> | null = null;
  /** A start that can only fail again (command not found, missing tools): kept, not retried. */
  #configError: AlpacaConfigError | null = null;
  #stderr = '';
  #pid: number | null = null;
  #closed = false;

  constructor(options: McpConnectionOptions) {
    this.accountLabel = options.accountLabel;
    this.#options = options;
  }

  /** The running server's process id (null when none runs). */
  get pid(): number | null {
    return this.#client ? this.#pid : null;
  }

  /** Calls `tool` and returns the raw MCP result (see result.ts for reading it). */
  async callTool(tool: string, args: Record<string, unknown>): Promise<unknown> {
    const ctx = { tool, accountLabel: this.accountLabel, secrets: this.#options.secrets };
    const client = await this.#connected(tool);
    const { CallToolResultSchema, ErrorCode, McpError } = await import('@modelcontextprotocol/sdk/types.js');
    const timeout = this.#options.callTimeoutMs ?? 60_000;
    try {
      // client.request, not client.callTool: callTool checks structuredContent against the output
      // schema the server declares; we read the answer ourselves (result.ts), whatever it declares.
      return await client.request({ method: 'tools/call', params: { name: tool, arguments: args } }, CallToolResultSchema, {
        timeout,
      });
    } catch (error) {
      if (error instanceof McpError) {
        if (error.code === (ErrorCode.RequestTimeout as number)) throw unavailable(ctx, null, `no answer within ${timeout} ms`);
        if (error.code === (ErrorCode.ConnectionClosed as number))
          throw unavailable(ctx, null, `the server exited or closed the connection during the call${this.#stderrNote()}`);
        throw protocolError(ctx, `an MCP error ${error.code}: ${error.message}`);
      }
      if (error instanceof Error && /not connected/i.test(error.message))
        throw unavailable(ctx, null, `the server is not running${this.#stderrNote()}`);
      throw error;
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    const pending = this.#connecting;
    const client = this.#client;
    this.#client = null;
    this.#connecting = null;
    if (client) await client.close().catch(() => undefined);
    if (pending) await pending.then((c) => c.close()).catch(() => undefined);
  }

  async #connected(tool: string): Promise<Client> {
    if (this.#closed) throw new AlpacaConfigError(`the Alpaca MCP server of account ${this.accountLabel} was closed`);
    if (this.#configError) throw this.#configError;
    if (this.#client) return this.#client;
    this.#connecting ??= this.#start(tool).finally(() => {
      this.#connecting = null;
    });
    return this.#connecting;
  }

  async #start(tool: string): Promise<Client> {
    const [{ Client }, { StdioClientTransport }] = await Promise.all([
      import('@modelcontextprotocol/sdk/client/index.js'),
      import('@modelcontextprotocol/sdk/client/stdio.js'),
    ]);
    const [command, ...args] = this.#options.argv;
    if (command === undefined) throw new AlpacaConfigError('ALPACA_MCP_COMMAND is empty');
    const shown = redact({ secrets: this.#options.secrets }, showCommandLine(this.#options.argv));
    this.#stderr = '';
    const transport = new StdioClientTransport({
      command,
      args,
      env: { ...this.#options.env },
      stderr: 'pipe',
      ...(this.#options.cwd ? { cwd: this.#options.cwd } : {}),
    });
    transport.stderr?.on('data', (chunk: Buffer | string) => {
      this.#stderr = (this.#stderr + chunk.toString()).slice(-STDERR_TAIL);
    });
    const client = new Client(CLIENT_INFO, { capabilities: {} });
    const timeout = this.#options.startTimeoutMs ?? 120_000;
    try {
      await client.connect(transport, { timeout });
    } catch (error) {
      await client.close().catch(() => undefined);
      const code = (error as { code?: unknown }).code;
      if (code === 'ENOENT' || code === 'EACCES') {
        this.#configError = new AlpacaConfigError(
          redact(
            { secrets: this.#options.secrets },
            `cannot start the Alpaca MCP server for account ${this.accountLabel}: ${code === 'ENOENT' ? 'command not found' : 'permission denied'}: ${JSON.stringify(command)} (ALPACA_MCP_COMMAND=${shown}; the default needs uv's uvx on PATH)`,
          ),
        );
        throw this.#configError;
      }
      const why = error instanceof Error ? error.message : String(error);
      throw new AlpacaUnavailableError(
        redact(
          { secrets: this.#options.secrets },
          `the Alpaca MCP server for account ${this.accountLabel} (${shown}) did not start: ${why}${this.#stderrNote()}`,
        ),
        { status: null, accountLabel: this.accountLabel, method: 'MCP', path: tool, attempts: 1 },
      );
    }
    this.#pid = transport.pid;
    try {
      const names = new Set<string>();
      let cursor: string | undefined;
      do {
        const page = await client.listTools(cursor === undefined ? {} : { cursor }, { timeout });
        for (const t of page.tools) names.add(t.name);
        cursor = page.nextCursor;
      } while (cursor !== undefined);
      const missing = this.#options.requiredTools.filter((name) => !names.has(name));
      if (missing.length > 0) {
        this.#configError = new AlpacaConfigError(
          redact(
            { secrets: this.#options.secrets },
            `the Alpaca MCP server for account ${this.accountLabel} (${shown}) lacks the tools ${missing.join(', ')}: alpaca-mcp-server v2 is needed (v1's tools are gone)`,
          ),
        );
        throw this.#configError;
      }
    } catch (error) {
      await client.close().catch(() => undefined);
      if (error instanceof AlpacaConfigError) throw error;
      const why = error instanceof Error ? error.message : String(error);
      throw unavailable(
        { tool: 'tools/list', accountLabel: this.accountLabel, secrets: this.#options.secrets },
        null,
        `${why}${this.#stderrNote()}`,
      );
    }
    client.onclose = () => {
      if (this.#client === client) this.#client = null;
    };
    if (this.#closed) {
      await client.close().catch(() => undefined);
      throw new AlpacaConfigError(`the Alpaca MCP server of account ${this.accountLabel} was closed`);
    }
    this.#client = client;
    return client;
  }

  #stderrNote(): string {
    const tail = this.#stderr.trim().split('\n').slice(-5).join(' | ').replace(/\s+/g, ' ').slice(-600);
    return tail === '' ? '' : `; its stderr ends: ${JSON.stringify(redact({ secrets: this.#options.secrets }, tail))}`;
  }
}
