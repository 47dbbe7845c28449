import { describe, expect, it } from 'vitest';
import { AlpacaAuthError, AlpacaError, AlpacaProtocolError, AlpacaUnavailableError } from '../alpaca/errors.js';
import { ALPACA_MCP_SUBLEDGER_TOOLS, ALPACA_MCP_TOOLS, AlpacaMcpApi, alpacaMcpTools, type ToolCaller } from './api.js';
import { SECURITY_KEY } from './result.js';

const KEY = 'PKTESTKEY0000000001';
const SECRET = 'sEcReT-0123456789abcdefghij';
const LABEL = '1-6 (sub-ledgers of one paper account)';

/** A success as alpaca-mcp-server v2 sends it: the envelope as structuredContent and as JSON text. */
function ok(tool: string, data: unknown) {
  const envelope = {
    [SECURITY_KEY]: { trust: 'untrusted_tool_output', tool_name: tool, risk: 'api_structured', instructions: '…' },
    data,
  };
  return { content: [{ type: 'text', text: JSON.stringify(envelope) }], structuredContent: envelope };
}

/** A tool caller answering from a script, recording what it was asked. */
function scripted(answers: unknown[]): ToolCaller & { calls: { tool: string; args: Record<string, unknown> }[] } {
  const calls: { tool: string; args: Record<string, unknown> }[] = [];
  return {
    accountLabel: LABEL,
    calls,
    callTool: (tool, args) => {
      calls.push({ tool, args });
      return Promise.resolve(answers.shift());
    },
  };
}

const api = (caller: ToolCaller) => new AlpacaMcpApi(caller, { secrets: [KEY, SECRET], sleep: () => Promise.resolve() });

/** StockLatestTrades' spec example, as Alpaca sends it. */
const TRADE = { c: ['@', 'F', 'T'], i: 826, p: 172.78, s: 100, t: '2022-08-17T09:50:43.361102308Z', x: 'Q', z: 'C' };

async function failure(promise: Promise<unknown>): Promise<Error> {
  return promise.then(
    () => {
      throw new Error('expected a failure');
    },
    (error: unknown) => error as Error,
  );
}

describe('AlpacaMcpApi.getLatestTrade (get_stock_latest_trade)', () => {
  it('asks for the one symbol on the iex feed and reads it as the HTTP client does', async () => {
    const caller = scripted([ok('get_stock_latest_trade', { trades: { AAPL: TRADE } })]);
    expect(await api(caller).getLatestTrade('AAPL')).toEqual({
      symbol: 'AAPL',
      timestamp: '2022-08-17T09:50:43.361Z',
      price: 172.78,
      size: 100,
      exchange: 'Q',
    });
    expect(caller.calls).toEqual([{ tool: 'get_stock_latest_trade', args: { symbols: 'AAPL', feed: 'iex' } }]);
    const sip = scripted([ok('get_stock_latest_trade', { trades: { AAPL: TRADE } })]);
    await api(sip).getLatestTrade('AAPL', { feed: 'sip' });
    expect(sip.calls[0]?.args).toEqual({ symbols: 'AAPL', feed: 'sip' });
  });

  it('a symbol Alpaca has no trade for is an AlpacaError 404 (not an account failure); a bad ticker is refused unsent', async () => {
    const none = await failure(api(scripted([ok('get_stock_latest_trade', { trades: {} })])).getLatestTrade('ZZZZ'));
    expect(none).toBeInstanceOf(AlpacaError);
    expect(none).toMatchObject({ status: 404, accountLabel: LABEL, path: 'get_stock_latest_trade' });
    expect(none.message).toMatch(/no latest trade for ZZZZ/);
    const caller = scripted([]);
    await expect(api(caller).getLatestTrade('spy')).rejects.toThrow(/not a ticker/);
    expect(caller.calls).toEqual([]);
  });

  it('refused keys, an unreadable answer and an unavailable Alpaca are the errors the HTTP client throws, never with a key', async () => {
    const denied = {
      isError: true,
      content: [
        {
          type: 'text',
          text: `Error calling tool 'get_stock_latest_trade': HTTP error 401: Unauthorized - {'code': 40110000, 'message': 'request is not authorized ${KEY}'}`,
        },
      ],
    };
    const auth = await failure(api(scripted([denied])).getLatestTrade('SPY'));
    expect(auth).toBeInstanceOf(AlpacaAuthError);
    expect(auth.message).not.toContain(KEY);
    expect(await failure(api(scripted([ok('get_stock_latest_trade', { trade: TRADE })])).getLatestTrade('SPY'))).toBeInstanceOf(
      AlpacaProtocolError,
    );
    const down = {
      isError: true,
      content: [{ type: 'text', text: "Error calling tool 'get_stock_latest_trade': HTTP request timed out" }],
    };
    const caller = scripted([down, down, down]);
    expect(await failure(api(caller).getLatestTrade('SPY'))).toBeInstanceOf(AlpacaUnavailableError);
    expect(caller.calls).toHaveLength(3); // a read: tried again while unavailable
  });

  it('the tool is required only in sub-ledger mode', () => {
    expect(alpacaMcpTools('accounts')).toEqual(ALPACA_MCP_TOOLS);
    expect(alpacaMcpTools('accounts')).not.toContain('get_stock_latest_trade');
    expect(alpacaMcpTools('subledger')).toEqual(ALPACA_MCP_SUBLEDGER_TOOLS);
    expect(alpacaMcpTools('subledger')).toEqual([...ALPACA_MCP_TOOLS, 'get_stock_latest_trade']);
  });
});
