import { describe, expect, it } from 'vitest';
import {
  AlpacaAuthError,
  AlpacaError,
  AlpacaOrderValidationError,
  AlpacaProtocolError,
  AlpacaUnavailableError,
  DuplicateClientOrderIdError,
} from '../alpaca/errors.js';
import { listOf, payloadOf, SECURITY_KEY, type ToolCallContext } from './result.js';

const KEY = 'PKTESTKEY0000000001';
const SECRET = 'sEcReT-0123456789abcdefghij';
const ctx = (tool: string, extra: Partial<ToolCallContext> = {}): ToolCallContext => ({
  tool,
  accountLabel: '3 (sonnet)',
  secrets: [KEY, SECRET],
  ...extra,
});

/** A success as alpaca-mcp-server v2 sends it: the envelope as structuredContent and as JSON text. */
function ok(tool: string, data: unknown) {
  const envelope = {
    [SECURITY_KEY]: { trust: 'untrusted_tool_output', tool_name: tool, risk: 'api_structured', instructions: '…' },
    data,
  };
  return { content: [{ type: 'text', text: JSON.stringify(envelope) }], structuredContent: envelope };
}

/** A generated tool's failure: FastMCP's ToolError text with the body in Python's repr. */
function failed(tool: string, status: number, reason: string, body: string) {
  return { isError: true, content: [{ type: 'text', text: `Error calling tool '${tool}': HTTP error ${status}: ${reason} - ${body}` }] };
}

function caught(fn: () => unknown): Error {
  try {
    fn();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a throw');
}

describe("reading alpaca-mcp-server's answers", () => {
  it('unwraps the envelope from structuredContent, or from the text when there is none; lists come as {result}', () => {
    const clock = { timestamp: '2024-03-06T08:00:00-05:00', is_open: false };
    expect(payloadOf(ok('get_clock', clock), ctx('get_clock'))).toEqual(clock);
    const textOnly = { content: ok('get_clock', clock).content };
    expect(payloadOf(textOnly, ctx('get_clock'))).toEqual(clock);
    // A server without the trust-boundary middleware (earlier 2.x) answers the payload itself.
    expect(payloadOf({ content: [], structuredContent: clock }, ctx('get_clock'))).toEqual(clock);
    expect(listOf(payloadOf(ok('get_all_positions', { result: [{ symbol: 'SPY' }] }), ctx('get_all_positions')))).toEqual([
      { symbol: 'SPY' },
    ]);
    expect(listOf([1, 2])).toEqual([1, 2]);
  });

  it('an answer that is not JSON, not a tool result or empty is a protocol error naming the tool', () => {
    const notJson = caught(() => payloadOf({ content: [{ type: 'text', text: `Account: ${KEY} cash $100` }] }, ctx('get_account_info')));
    expect(notJson).toBeInstanceOf(AlpacaProtocolError);
    expect(notJson.message).toMatch(/get_account_info answered text that is not JSON.*account 3 \(sonnet\)/);
    expect(notJson.message).not.toContain(KEY);
    expect(caught(() => payloadOf('hello', ctx('get_clock')))).toBeInstanceOf(AlpacaProtocolError);
    expect(caught(() => payloadOf({ content: [] }, ctx('get_clock'))).message).toMatch(/an empty answer/);
    const odd = caught(() => payloadOf({ isError: true, content: [{ type: 'text', text: 'Unknown tool: get_clock' }] }, ctx('get_clock')));
    expect(odd).toBeInstanceOf(AlpacaProtocolError);
  });

  it("classifies the generated tools' HTTP errors as the HTTP transport does", () => {
    const missing = failed('get_order_by_client_id', 404, 'Not Found', "{'code': 40410000, 'message': 'order not found for x'}");
    expect(payloadOf(missing, ctx('get_order_by_client_id', { notFoundIsNull: true }))).toBeNull();
    const notFound = caught(() => payloadOf(missing, ctx('get_order_by_client_id')));
    expect(notFound).toBeInstanceOf(AlpacaError);
    expect((notFound as AlpacaError).status).toBe(404);
    expect((notFound as AlpacaError).code).toBe(40410000);

    const keys = caught(() =>
      payloadOf(
        failed('get_account_info', 401, 'Unauthorized', `{'code': 40110000, 'message': 'request is not authorized ${SECRET}'}`),
        ctx('get_account_info'),
      ),
    );
    expect(keys).toBeInstanceOf(AlpacaAuthError);
    expect(keys.message).toMatch(/rejected the keys of account 3 \(sonnet\) \(401\): request is not authorized \[REDACTED\]/);
    expect(keys.message).not.toContain(SECRET);

    for (const status of [429, 500, 503]) {
      const e = caught(() => payloadOf(failed('get_clock', status, 'x', "{'message': 'busy'}"), ctx('get_clock')));
      expect(e).toBeInstanceOf(AlpacaUnavailableError);
      expect((e as AlpacaUnavailableError).status).toBe(status);
    }
    const timedOut = caught(() =>
      payloadOf(
        { isError: true, content: [{ type: 'text', text: "Error calling tool 'get_clock': HTTP request timed out (ReadTimeout)" }] },
        ctx('get_clock'),
      ),
    );
    expect(timedOut).toBeInstanceOf(AlpacaUnavailableError);
    expect(timedOut.message).toMatch(/get_clock for account 3 \(sonnet\) failed/);
  });

  it("classifies place_stock_order's error dicts: duplicate id, order refusals, key refusals, a timeout that may have placed it", () => {
    const order = (error: unknown) => ok('place_stock_order', { error });
    const c = ctx('place_stock_order', { clientOrderId: 'lt-abc' });
    const dup = caught(() =>
      payloadOf(
        order({
          message: 'API rejected the order',
          http_status: 422,
          detail: { code: 40010001, message: 'client_order_id must be unique' },
        }),
        c,
      ),
    );
    expect(dup).toBeInstanceOf(DuplicateClientOrderIdError);
    expect((dup as DuplicateClientOrderIdError).clientOrderId).toBe('lt-abc');
    const poor = caught(() =>
      payloadOf(
        order({ message: 'API rejected the order', http_status: 403, detail: { code: 40310000, message: 'insufficient buying power' } }),
        c,
      ),
    );
    expect(poor).toBeInstanceOf(AlpacaError);
    expect(poor).not.toBeInstanceOf(AlpacaAuthError);
    expect(poor.message).toMatch(/refused place_stock_order for account 3 \(sonnet\) \(403 40310000\): insufficient buying power/);
    expect(
      caught(() => payloadOf(order({ message: 'API rejected the order', http_status: 403, detail: { message: 'forbidden.' } }), c)),
    ).toBeInstanceOf(AlpacaAuthError);
    const maybe = caught(() =>
      payloadOf(order({ message: 'Request was sent but timed out… The order MAY have been placed.', timeout: true }), c),
    );
    expect(maybe).toBeInstanceOf(AlpacaUnavailableError);
    const invalid = caught(() => payloadOf(order({ message: 'stop_loss_limit_price requires stop_loss_stop_price' }), c));
    expect(invalid).toBeInstanceOf(AlpacaOrderValidationError);
    // get_stock_bars uses the same shape.
    const bars = caught(() =>
      payloadOf(
        ok('get_stock_bars', { error: { message: 'Market data API error', http_status: 400, detail: { message: 'invalid timeframe' } } }),
        ctx('get_stock_bars'),
      ),
    );
    expect(bars).toBeInstanceOf(AlpacaError);
    expect(bars.message).toMatch(/invalid timeframe/);
  });
});
