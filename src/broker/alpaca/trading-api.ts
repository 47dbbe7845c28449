/**
 * What the Alpaca broker (src/broker/alpaca-broker.ts) needs from one Alpaca paper account, whatever
 * carries the calls: the HTTP client (client.ts, BROKER=alpaca) or alpaca-mcp-server's tools over MCP
 * (src/broker/alpaca-mcp/, BROKER=alpaca-mcp). Both answer in the same wire types (wire.ts, parsed
 * once with zod) and fail with the same errors (errors.ts), so the broker's idempotency, timing and
 * failure isolation are written once.
 *
 * Contracts every implementation keeps:
 *   - lookups that may find nothing (getPosition, getOrderByClientOrderId) return null, never throw, for
 *     "not there";
 *   - submitOrder checks the order with order-request.ts before anything is sent, and an id the account
 *     already used throws DuplicateClientOrderIdError (the broker then looks the order up);
 *   - no message, property or cause of an error holds a key.
 */
import type { ClosePositionOptions, LatestFeed } from './client.js';
import type { SubmitOrderInput } from './order-request.js';
import type { AlpacaAccount, AlpacaCalendarDay, AlpacaClock, AlpacaEquityPoint, AlpacaOrder, AlpacaPosition, AlpacaTrade } from './wire.js';

export interface AlpacaTradingApi {
  /** How messages name the account, e.g. "3 (sonnet)"; never a key. */
  readonly accountLabel: string;
  getAccount(): Promise<AlpacaAccount>;
  /** The account's equity at each close from `start` (YYYY-MM-DD) — Alpaca's portfolio history; absent where the transport has no such call (MCP). */
  getDailyEquity?(start: string): Promise<AlpacaEquityPoint[]>;
  listPositions(): Promise<AlpacaPosition[]>;
  /** The open position in `symbol`, or null when there is none. */
  getPosition(symbol: string): Promise<AlpacaPosition | null>;
  submitOrder(input: SubmitOrderInput): Promise<AlpacaOrder>;
  getOrderByClientOrderId(clientOrderId: string): Promise<AlpacaOrder | null>;
  getClock(): Promise<AlpacaClock>;
  /** Trading days from `start` to `end` (YYYY-MM-DD, inclusive). */
  getCalendar(start: string, end: string): Promise<AlpacaCalendarDay[]>;
  /** Close all (or `percentage`/`qty` of) the position in `symbol` with a market order; never repeated after an ambiguous failure. */
  closePosition(symbol: string, options?: ClosePositionOptions): Promise<AlpacaOrder>;
}

/**
 * What the sub-ledger broker (src/broker/alpaca-subledger-broker.ts) needs from the one paper account:
 * the trading calls, and the latest trade of a symbol (an internal cross is priced at it; a position
 * Alpaca does not hold is marked with it). The HTTP client (BROKER=alpaca) and alpaca-mcp-server's
 * tools (BROKER=alpaca-mcp, get_stock_latest_trade) both provide it.
 *
 * getLatestTrade: the latest trade of `symbol` on `feed` (default iex); a symbol without one fails with
 * an AlpacaError (Alpaca's 404), not with an account failure, so a caller can tell the two apart.
 */
export type AlpacaSubledgerApi = AlpacaTradingApi & {
  getLatestTrade(symbol: string, options?: { feed?: LatestFeed }): Promise<AlpacaTrade>;
};
