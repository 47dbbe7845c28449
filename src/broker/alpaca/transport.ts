/**
 * One Alpaca request over fetch, with the retries of retry.ts, classified into a JSON answer or one of
 * the errors of errors.ts.
 *
 * Auth is the two headers APCA-API-KEY-ID and APCA-API-SECRET-KEY (the spec's securitySchemes). The keys
 * live in this object only: every text that comes back from the network (Alpaca's messages, fetch's
 * errors) passes through redactSecrets with both keys before it reaches an error, and no error keeps a
 * Request, Response, Headers or fetch error object.
 *
 * Each try has its own deadline (timeoutMs, over the headers and the body). The caller's base URL may
 * carry a path prefix (a proxy, a local stand-in): paths are appended to it.
 */
import { redactSecrets } from '../../llm/redact.js';
import { isRetryableStatus, type RetrySettings } from '../../llm/retry-policy.js';
import {
  AlpacaAuthError,
  AlpacaError,
  AlpacaProtocolError,
  AlpacaUnavailableError,
  DuplicateClientOrderIdError,
  isDuplicateClientOrderId,
  isKeyRejection,
  type AlpacaErrorDetails,
} from './errors.js';
import { alpacaRetryWait, failedBeforeSending } from './retry.js';
import { parseErrorBody } from './wire.js';

export type FetchLike = (input: string, init: RequestInit) => Promise<Response>;

export interface TransportOptions {
  keyId: string;
  secretKey: string;
  accountLabel: string;
  retry: RetrySettings;
  timeoutMs: number;
  fetch: FetchLike;
  sleep: (ms: number) => Promise<void>;
  random: () => number;
  now: () => number;
}

export interface AlpacaRequest {
  baseUrl: string;
  method: 'GET' | 'POST' | 'DELETE';
  /** Path with its parameters already encoded, e.g. /v2/positions/BRK.B. */
  path: string;
  query?: Readonly<Record<string, string | undefined>>;
  body?: unknown;
  /**
   * Whether repeating the request after an ambiguous failure (5xx, timeout, dropped connection) is
   * harmless. 429s and connections refused before sending are retried either way.
   */
  repeatable: boolean;
  /** Return null for a 404 instead of throwing (a lookup that may find nothing). */
  notFoundIsNull?: boolean;
  /** For DuplicateClientOrderIdError: the client_order_id a POST /v2/orders carried. */
  clientOrderId?: string;
}

/** A 2xx answer: its parsed JSON body (undefined for 204 / an empty body). */
export interface AlpacaAnswer {
  status: number;
  json: unknown;
}

type Attempt =
  | { kind: 'answer'; answer: AlpacaAnswer }
  | { kind: 'not_found' }
  | { kind: 'retry'; status: number | null; headers: Headers | undefined; reason: string; sent: boolean };

export class AlpacaTransport {
  private readonly secrets: readonly string[];

  constructor(private readonly options: TransportOptions) {
    this.secrets = [options.keyId, options.secretKey];
  }

  /** The answer, null for a 404 when `notFoundIsNull`, or a thrown error of errors.ts. */
  async request(req: AlpacaRequest): Promise<AlpacaAnswer | null> {
    const { retry } = this.options;
    for (let attempt = 1; ; attempt++) {
      const outcome = await this.once(req, attempt);
      if (outcome.kind === 'answer') return outcome.answer;
      if (outcome.kind === 'not_found') return null;
      const mayRepeat = outcome.status === 429 || !outcome.sent || req.repeatable;
      if (!mayRepeat || attempt >= retry.max_attempts) {
        const tries = attempt > 1 ? ` after ${attempt} tries` : '';
        const unsafe = mayRepeat ? '' : ' (not retried: repeating it could act twice)';
        throw new AlpacaUnavailableError(
          this.redact(
            `Alpaca ${req.method} ${req.path} for account ${this.options.accountLabel} failed${tries}: ${outcome.reason}${unsafe}`,
          ),
          { status: outcome.status, accountLabel: this.options.accountLabel, method: req.method, path: req.path, attempts: attempt },
        );
      }
      await this.options.sleep(alpacaRetryWait(attempt, outcome.status, outcome.headers, retry, this.options.random, this.options.now()));
    }
  }

  private url(req: AlpacaRequest): string {
    const base = req.baseUrl.replace(/\/+$/, '');
    const query = new URLSearchParams();
    for (const [key, value] of Object.entries(req.query ?? {})) if (value !== undefined) query.set(key, value);
    const text = query.toString();
    return `${base}${req.path}${text ? `?${text}` : ''}`;
  }

  private async once(req: AlpacaRequest, attempt: number): Promise<Attempt> {
    const headers: Record<string, string> = {
      'APCA-API-KEY-ID': this.options.keyId,
      'APCA-API-SECRET-KEY': this.options.secretKey,
      Accept: 'application/json',
    };
    if (req.body !== undefined) headers['Content-Type'] = 'application/json';
    const timeout = AbortSignal.timeout(Math.max(1, Math.ceil(this.options.timeoutMs)));
    let response: Response;
    let text: string;
    try {
      response = await this.options.fetch(this.url(req), {
        method: req.method,
        headers,
        ...(req.body !== undefined ? { body: JSON.stringify(req.body) } : {}),
        signal: timeout,
        redirect: 'error',
      });
      text = await response.text();
    } catch (error) {
      const sent = !failedBeforeSending(error);
      const reason = timeout.aborted ? `no complete answer within ${this.options.timeoutMs} ms` : `connection failed: ${causeText(error)}`;
      return { kind: 'retry', status: null, headers: undefined, reason, sent };
    }

    const status = response.status;
    if (status >= 200 && status < 300) {
      if (text.trim() === '') return { kind: 'answer', answer: { status, json: undefined } };
      try {
        return { kind: 'answer', answer: { status, json: JSON.parse(text) } };
      } catch {
        // A proxy's page or a body cut off in transit: worth another try (a repeated order is refused as a duplicate).
        return { kind: 'retry', status, headers: response.headers, reason: `HTTP ${status} with a body that is not JSON`, sent: true };
      }
    }

    let json: unknown;
    try {
      json = text.trim() === '' ? undefined : JSON.parse(text);
    } catch {
      json = undefined;
    }
    const body = parseErrorBody(json);
    const alpacaMessage = this.redact(
      body.message ?? (text.trim() === '' ? response.statusText || 'no message' : text.trim().slice(0, 200)),
    );

    if (status === 429 || isRetryableStatus(status)) {
      return { kind: 'retry', status, headers: response.headers, reason: `HTTP ${status}: ${alpacaMessage}`, sent: true };
    }
    if (status === 404 && req.notFoundIsNull) return { kind: 'not_found' };

    const details: AlpacaErrorDetails = {
      status,
      code: body.code,
      alpacaMessage,
      accountLabel: this.options.accountLabel,
      method: req.method,
      path: req.path,
      requestId: response.headers.get('x-request-id'),
      attempts: attempt,
    };
    const label = this.options.accountLabel;
    if (isKeyRejection(status, body.code)) {
      throw new AlpacaAuthError(`Alpaca rejected the keys of account ${label} (${status}): ${alpacaMessage}`, details);
    }
    if (req.clientOrderId !== undefined && isDuplicateClientOrderId(status, body.message)) {
      throw new DuplicateClientOrderIdError(
        `Alpaca already has an order with client_order_id ${req.clientOrderId} for account ${label} (${status}): ${alpacaMessage}`,
        details,
        req.clientOrderId,
      );
    }
    const code = body.code === null ? '' : ` ${body.code}`;
    throw new AlpacaError(`Alpaca refused ${req.method} ${req.path} for account ${label} (${status}${code}): ${alpacaMessage}`, details);
  }

  /** A 2xx body that does not have the shape we need. */
  protocolError(req: Pick<AlpacaRequest, 'method' | 'path'>, what: string, problem: string): AlpacaProtocolError {
    return new AlpacaProtocolError(
      this.redact(`Alpaca sent ${what} we cannot read for account ${this.options.accountLabel} (${req.method} ${req.path}): ${problem}`),
      { accountLabel: this.options.accountLabel, method: req.method, path: req.path },
    );
  }

  private redact(text: string): string {
    return redactSecrets(text, this.secrets);
  }
}

function causeText(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  const cause = error instanceof Error ? (error.cause as { code?: unknown; message?: unknown } | undefined) : undefined;
  const detail = typeof cause?.code === 'string' ? cause.code : typeof cause?.message === 'string' ? cause.message : '';
  return detail ? `${message} (${detail})` : message;
}
