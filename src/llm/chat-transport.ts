import OpenAI, { APIConnectionError, APIConnectionTimeoutError, APIError, APIUserAbortError } from 'openai';
import { Agent } from 'undici';
import { authorizationHeader, type ProviderPreset } from './providers.js';
import { isRetryableStatus } from './retry-policy.js';
import { asRecord } from './usage-cost.js';

/**
 * One HTTP exchange with an OpenAI-compatible endpoint through the `openai` SDK, classified into an
 * outcome the client can act on. The SDK's own retries are off (maxRetries 0): retry timing, Retry-After,
 * fallbacks and budgets belong to the client. The raw body text is kept for the audit log.
 */
export type Exchange = { ok: true; httpStatus: number; bodyText: string; body: Record<string, unknown> } | ExchangeFailure;

export interface ExchangeFailure {
  ok: false;
  kind: 'http_error' | 'network_error' | 'timeout' | 'aborted';
  httpStatus: number | null;
  message: string;
  retryable: boolean;
  /** Response headers of an HTTP error (Retry-After lives here). */
  headers?: Headers;
}

export interface ExchangeOptions {
  timeoutMs: number;
  /** The caller's signal (stage deadline, run cancellation); our timeout is layered on top. */
  signal: AbortSignal;
}

/**
 * The HTTP connection pool of every provider call. Node's fetch gives up on a response whose headers
 * (or next body chunk) take more than 300 s, whatever timeout the caller set: a synchronous deep
 * research or a long-thinking chairman would fail at five minutes and be retried as a network error.
 * Here those transport timers are off; each exchange's own deadline (ExchangeOptions.timeoutMs, an
 * AbortSignal over headers and body) is the one limit.
 */
const providerConnections = new Agent({ headersTimeout: 0, bodyTimeout: 0 });

export class ChatTransport {
  private readonly clients = new Map<string, OpenAI>();

  /** A chat completion: POST {baseURL}/chat/completions. */
  chat(preset: ProviderPreset, body: Record<string, unknown>, options: ExchangeOptions): Promise<Exchange> {
    return this.exchange(preset, options, (client, signal, timeout) =>
      client.chat.completions
        .create(body as unknown as OpenAI.ChatCompletionCreateParamsNonStreaming, { signal, timeout, maxRetries: 0 })
        .asResponse(),
    );
  }

  /**
   * Any other JSON request to the provider (the async job API), with its headers and key. `url` is
   * absolute: the caller joins it to the API root itself (the SDK would append it to the base URL).
   */
  request(preset: ProviderPreset, method: 'get' | 'post', url: string, body: unknown, options: ExchangeOptions): Promise<Exchange> {
    return this.exchange(preset, options, (client, signal, timeout) => {
      const opts = { signal, timeout, maxRetries: 0, ...(body === undefined ? {} : { body }) };
      return (method === 'get' ? client.get(url, opts) : client.post(url, opts)).asResponse();
    });
  }

  private clientFor(preset: ProviderPreset): OpenAI {
    let client = this.clients.get(preset.name);
    if (!client) {
      client = new OpenAI({
        baseURL: preset.baseURL,
        // Local servers (Ollama, vLLM) ignore the key but the SDK insists on one. Without a key, a
        // user:password of the base URL goes as Basic auth instead (these headers override the SDK's).
        apiKey: preset.apiKey ?? 'no-key',
        // Explicit nulls: otherwise the SDK picks up the user's OPENAI_ORG_ID / OPENAI_PROJECT_ID /
        // OPENAI_ADMIN_KEY and would send OpenAI account details to a router. Its own logging is off
        // (OPENAI_LOG=debug would print request details); our audit log is the record.
        organization: null,
        project: null,
        adminAPIKey: null,
        webhookSecret: null,
        logLevel: 'off',
        defaultHeaders: { ...preset.headers, ...authorizationHeader(preset) },
        maxRetries: 0,
        fetchOptions: { dispatcher: providerConnections },
      });
      this.clients.set(preset.name, client);
    }
    return client;
  }

  private async exchange(
    preset: ProviderPreset,
    { timeoutMs, signal: callerSignal }: ExchangeOptions,
    send: (client: OpenAI, signal: AbortSignal, timeout: number) => Promise<Response>,
  ): Promise<Exchange> {
    // The SDK's timeout stops at the response headers; ours also covers reading the body, so a server
    // that sends headers and then stalls still times out.
    const timeoutSignal = AbortSignal.timeout(Math.max(1, Math.ceil(timeoutMs)));
    const signal = AbortSignal.any([callerSignal, timeoutSignal]);
    try {
      const response = await send(this.clientFor(preset), signal, Math.max(1, Math.ceil(timeoutMs)));
      return await readJsonBody(response);
    } catch (error) {
      return classifyError(error, callerSignal, timeoutSignal);
    }
  }
}

/** Status, body text and JSON of a response, or why the body was unusable. */
export async function readJsonBody(response: Response): Promise<Exchange> {
  const bodyText = await response.text();
  let body: unknown;
  try {
    body = JSON.parse(bodyText);
  } catch {
    // A proxy's HTML page or a body cut off in transit: transient more often than not.
    return {
      ok: false,
      kind: 'http_error',
      httpStatus: response.status,
      message: `the response body is not JSON: ${bodyText.slice(0, 200)}`,
      retryable: true,
    };
  }
  const record = asRecord(body);
  if (!record)
    return {
      ok: false,
      kind: 'http_error',
      httpStatus: response.status,
      message: 'the response body is not a JSON object',
      retryable: true,
    };
  // Routers sometimes report an upstream failure inside a 200 body: {error: {code, message}}.
  const error = asRecord(record.error);
  if (error && !('choices' in record)) {
    const code = typeof error.code === 'number' ? error.code : null;
    const message = typeof error.message === 'string' ? error.message : JSON.stringify(error);
    return {
      ok: false,
      kind: 'http_error',
      httpStatus: code ?? response.status,
      message: `provider error: ${message}`,
      retryable: code === null || isRetryableStatus(code),
    };
  }
  return { ok: true, httpStatus: response.status, bodyText, body: record };
}

export function classifyError(error: unknown, callerSignal: AbortSignal, timeoutSignal: AbortSignal): ExchangeFailure {
  if (callerSignal.aborted)
    return { ok: false, kind: 'aborted', httpStatus: null, message: `aborted: ${reasonText(callerSignal.reason)}`, retryable: false };
  if (timeoutSignal.aborted || error instanceof APIConnectionTimeoutError) {
    return { ok: false, kind: 'timeout', httpStatus: null, message: 'no complete answer before the per-call timeout', retryable: true };
  }
  if (error instanceof APIUserAbortError) return { ok: false, kind: 'aborted', httpStatus: null, message: 'aborted', retryable: false };
  if (error instanceof APIConnectionError)
    return { ok: false, kind: 'network_error', httpStatus: null, message: `connection failed: ${causeText(error)}`, retryable: true };
  if (error instanceof APIError && typeof error.status === 'number') {
    return {
      ok: false,
      kind: 'http_error',
      httpStatus: error.status,
      message: `HTTP ${error.message}`,
      retryable: isRetryableStatus(error.status),
      ...(error.headers ? { headers: error.headers } : {}),
    };
  }
  // Errors while reading the body (socket closed mid-response) surface as plain errors.
  return { ok: false, kind: 'network_error', httpStatus: null, message: `connection failed: ${causeText(error)}`, retryable: true };
}

function causeText(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const cause = error instanceof Error && error.cause instanceof Error ? ` (${error.cause.message})` : '';
  return `${message}${cause}`;
}

function reasonText(reason: unknown): string {
  return reason instanceof Error ? reason.message : String(reason ?? 'signal aborted');
}
