/**
 * What alpaca-mcp-server (v2, FastMCP) answers to a tool call → the Alpaca JSON it carries, or the
 * errors of ../alpaca/errors.ts, classified as the HTTP transport classifies Alpaca's answers (so the
 * broker treats a refusal, bad keys or an unavailable Alpaca the same whichever way the call went).
 *
 * The server's answers, as read in its source (server.py, security.py, overrides.py,
 * market_data_overrides.py; FastMCP's OpenAPI tool):
 *   - success: `structuredContent` = the trust-boundary envelope
 *     `{"_alpaca_mcp_security": {trust, tool_name, risk, instructions}, "data": <payload>}`, and the
 *     same envelope as JSON in one text content block. The payload is Alpaca's JSON body; a list
 *     (positions, calendar) is wrapped as `{"result": [...]}`.
 *   - an Alpaca HTTP error on the tools generated from the OpenAPI spec (get_account_info,
 *     get_order_by_client_id, get_clock, …): `isError: true` with the text
 *     "Error calling tool 'X': HTTP error 404: Not Found - {'code': 40410000, 'message': '…'}" (the
 *     body in Python's repr); timeouts and connection failures say "HTTP request timed out" /
 *     "Request error (…)".
 *   - an Alpaca HTTP error on the hand-written tools (place_stock_order, get_stock_bars): a normal
 *     result whose payload is `{"error": {"message", "http_status", "detail": <Alpaca's body>}}`, or
 *     `{"error": {"message", "timeout": true}}` when the order may have been placed.
 * Read robustly: structuredContent first, else the text parsed as JSON; the envelope is optional (a
 * server without it still works); anything else is an AlpacaProtocolError naming the tool. Every text
 * that reaches an error is redacted with the account's keys.
 */
import { z } from 'zod';
import { redactSecrets } from '../../llm/redact.js';
import {
  AlpacaAuthError,
  AlpacaError,
  AlpacaOrderValidationError,
  AlpacaProtocolError,
  AlpacaUnavailableError,
  DuplicateClientOrderIdError,
  isDuplicateClientOrderId,
  isKeyRejection,
  type AlpacaErrorDetails,
} from '../alpaca/errors.js';

export const SECURITY_KEY = '_alpaca_mcp_security';

/** Who asked what: for messages (never a key) and for redaction (the keys). */
export interface ToolCallContext {
  tool: string;
  accountLabel: string;
  secrets: readonly string[];
  /** The order a place_stock_order call carried (for DuplicateClientOrderIdError). */
  clientOrderId?: string;
  /** Read an Alpaca 404 as "nothing there" (null) instead of an error. */
  notFoundIsNull?: boolean;
}

const toolResultSchema = z.looseObject({
  isError: z.boolean().optional(),
  content: z.array(z.looseObject({ type: z.string(), text: z.string().optional() })).optional(),
  structuredContent: z.record(z.string(), z.unknown()).optional(),
});

const errorDictSchema = z.looseObject({
  error: z.looseObject({
    message: z.string().optional(),
    http_status: z.number().optional(),
    timeout: z.boolean().optional(),
    detail: z.unknown().optional(),
  }),
});

const alpacaErrorBody = z.looseObject({
  code: z.union([z.number(), z.string()]).optional(),
  message: z.string().optional(),
});

/** The payload of a tool's answer (Alpaca's JSON), null for a 404 the caller expects, or a thrown error. */
export function payloadOf(answer: unknown, ctx: ToolCallContext): unknown {
  const parsed = toolResultSchema.safeParse(answer);
  if (!parsed.success) throw protocolError(ctx, 'an answer that is not an MCP tool result');
  const result = parsed.data;
  const text = (result.content ?? [])
    .filter((c) => c.type === 'text' && typeof c.text === 'string')
    .map((c) => c.text)
    .join('\n');
  if (result.isError === true) return errorOfText(text, ctx);

  let body: unknown = result.structuredContent;
  if (body === undefined) {
    if (text.trim() === '') throw protocolError(ctx, 'an empty answer');
    try {
      body = JSON.parse(text);
    } catch {
      throw protocolError(ctx, `text that is not JSON: ${JSON.stringify(clip(text, 120))}`);
    }
  }
  const data = unwrapEnvelope(body);
  const failure = errorDictSchema.safeParse(data);
  if (failure.success) return errorOfDict(failure.data.error, ctx);
  return data;
}

/** A list payload: Alpaca's array, which FastMCP wraps as {"result": [...]}. */
export function listOf(payload: unknown): unknown {
  if (Array.isArray(payload)) return payload;
  if (payload !== null && typeof payload === 'object' && Array.isArray((payload as { result?: unknown }).result))
    return (payload as { result: unknown[] }).result;
  return payload;
}

function unwrapEnvelope(body: unknown): unknown {
  if (body !== null && typeof body === 'object' && !Array.isArray(body) && SECURITY_KEY in body && 'data' in body)
    return (body as { data: unknown }).data;
  return body;
}

/** `isError` text of a generated (OpenAPI) tool. */
function errorOfText(text: string, ctx: ToolCallContext): null {
  const http = /HTTP error (\d{3})\b([^\n]*)/.exec(text);
  if (http) {
    const status = Number(http[1]);
    const rest = http[2] ?? '';
    const code = /['"]code['"]\s*:\s*['"]?(\d+)/.exec(rest)?.[1];
    const message = /['"]message['"]\s*:\s*(['"])((?:\\.|(?!\1).)*)\1/.exec(rest)?.[2];
    const reason = / - (.*)$/.exec(rest)?.[1];
    return classify(status, code === undefined ? null : Number(code), message ?? reason?.trim() ?? null, ctx);
  }
  if (/timed out|Request error|Rate limited|Connection|temporarily/i.test(text))
    throw unavailable(ctx, null, `the server could not reach Alpaca: ${clip(text, 300)}`);
  throw protocolError(ctx, `an error: ${JSON.stringify(clip(text, 300))}`);
}

/** `{"error": {...}}` payload of a hand-written tool (place_stock_order, get_stock_bars). */
function errorOfDict(error: z.infer<typeof errorDictSchema>['error'], ctx: ToolCallContext): null {
  const message = error.message ?? 'no message';
  if (error.timeout === true) throw unavailable(ctx, null, `no answer from Alpaca in time (${clip(message, 300)})`);
  if (error.http_status !== undefined) {
    const detail = alpacaErrorBody.safeParse(error.detail);
    const alpacaMessage = detail.success ? (detail.data.message ?? null) : null;
    const code = detail.success ? (detail.data.code ?? null) : null;
    const raw = typeof (error.detail as { raw?: unknown } | undefined)?.raw === 'string' ? (error.detail as { raw: string }).raw : null;
    return classify(error.http_status, code, alpacaMessage ?? raw ?? message, ctx);
  }
  if (/transport error|timed out/i.test(message)) throw unavailable(ctx, null, `the server could not reach Alpaca: ${clip(message, 300)}`);
  if (ctx.tool === 'place_stock_order')
    throw new AlpacaOrderValidationError(
      redact(ctx, `alpaca-mcp-server refused order ${ctx.clientOrderId ?? '?'} of account ${ctx.accountLabel}: ${clip(message, 300)}`),
      ctx.clientOrderId ?? null,
    );
  throw protocolError(ctx, `an error: ${JSON.stringify(clip(message, 300))}`);
}

/** Alpaca's HTTP status (and its code and message) → the error the HTTP transport would throw. */
function classify(status: number, code: number | string | null, message: string | null, ctx: ToolCallContext): null {
  const label = ctx.accountLabel;
  const alpacaMessage = redact(ctx, clip(message ?? 'no message', 300));
  if (status === 404 && ctx.notFoundIsNull) return null;
  if (status === 429 || status === 408 || status >= 500) throw unavailable(ctx, status, `Alpaca answered ${status}: ${alpacaMessage}`);
  const details: AlpacaErrorDetails = {
    status,
    code,
    alpacaMessage,
    accountLabel: label,
    method: 'MCP',
    path: ctx.tool,
    requestId: null,
    attempts: 1,
  };
  if (isKeyRejection(status, code))
    throw new AlpacaAuthError(`Alpaca rejected the keys of account ${label} (${status}): ${alpacaMessage}`, details);
  if (ctx.clientOrderId !== undefined && isDuplicateClientOrderId(status, message))
    throw new DuplicateClientOrderIdError(
      `Alpaca already has an order with client_order_id ${ctx.clientOrderId} for account ${label} (${status}): ${alpacaMessage}`,
      details,
      ctx.clientOrderId,
    );
  const shownCode = code === null ? '' : ` ${code}`;
  throw new AlpacaError(`Alpaca refused ${ctx.tool} for account ${label} (${status}${shownCode}): ${alpacaMessage}`, details);
}

export function protocolError(ctx: Pick<ToolCallContext, 'tool' | 'accountLabel' | 'secrets'>, what: string): AlpacaProtocolError {
  return new AlpacaProtocolError(redact(ctx, `alpaca-mcp-server's ${ctx.tool} answered ${what} (account ${ctx.accountLabel})`), {
    accountLabel: ctx.accountLabel,
    method: 'MCP',
    path: ctx.tool,
  });
}

/** Transient: Alpaca or the server did not answer (worth another try later). */
export function unavailable(
  ctx: Pick<ToolCallContext, 'tool' | 'accountLabel' | 'secrets'>,
  status: number | null,
  why: string,
): AlpacaUnavailableError {
  return new AlpacaUnavailableError(redact(ctx, `alpaca-mcp-server's ${ctx.tool} for account ${ctx.accountLabel} failed: ${why}`), {
    status,
    accountLabel: ctx.accountLabel,
    method: 'MCP',
    path: ctx.tool,
    attempts: 1,
  });
}

export function redact(ctx: Pick<ToolCallContext, 'secrets'>, text: string): string {
  return redactSecrets(text, ctx.secrets);
}

function clip(text: string, max: number): string {
  const one = text.replace(/\s+/g, ' ').trim();
  return one.length > max ? `${one.slice(0, max - 1)}…` : one;
}
