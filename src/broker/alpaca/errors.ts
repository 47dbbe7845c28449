/**
 * How an Alpaca call fails, as errors a caller can branch on. No message, property or cause ever holds
 * the key id or the secret: messages are built from Alpaca's own text (redacted with the account's
 * keys, in case a gateway echoes a header) and our words; no Request, Response or Headers object is
 * kept on an error.
 *
 *   AlpacaError (UserError)          Alpaca answered 4xx: the request, the account or the keys must
 *   ├─ AlpacaAuthError               change — retrying will not help. 401/403 name the account whose
 *   └─ DuplicateClientOrderIdError   keys failed; a 422 "client_order_id must be unique" is its own
 *                                    type, so the broker looks the order up instead of resending.
 *   AlpacaConfigError (UserError)    the client cannot be built (a missing key, a bad base URL).
 *   AlpacaOrderValidationError (UserError)   refused before sending: the order breaks one of Alpaca's
 *                                            rules (fractional short, notional opg, …); nothing was sent.
 *   AlpacaUnavailableError (Error)   429, 5xx, timeouts or network failures still there after the
 *                                    retries: transient, worth trying again later (a job may retry).
 *   AlpacaProtocolError (Error)      Alpaca answered 2xx with a body we cannot read (not JSON, or not the
 *                                    shape the spec promises for what we use).
 */
import { UserError } from '../../errors.js';

export interface AlpacaErrorDetails {
  status: number;
  /** Alpaca's error code (e.g. 40010001, 40310000), when its body had one. */
  code: number | string | null;
  /** Alpaca's message (redacted), or a description of the body when it had none. */
  alpacaMessage: string;
  accountLabel: string;
  method: string;
  /** Path without the query string, e.g. /v2/orders. */
  path: string;
  /** Alpaca's X-Request-ID, for a support ticket. */
  requestId: string | null;
  /** HTTP exchanges made, retries included. */
  attempts: number;
}

export class AlpacaError extends UserError {
  readonly status: number;
  readonly code: number | string | null;
  readonly alpacaMessage: string;
  readonly accountLabel: string;
  readonly method: string;
  readonly path: string;
  readonly requestId: string | null;
  readonly attempts: number;

  constructor(message: string, details: AlpacaErrorDetails) {
    super(message);
    this.status = details.status;
    this.code = details.code;
    this.alpacaMessage = details.alpacaMessage;
    this.accountLabel = details.accountLabel;
    this.method = details.method;
    this.path = details.path;
    this.requestId = details.requestId;
    this.attempts = details.attempts;
  }
}

/** 401, or a 403 that is not an order refusal: the keys are wrong, revoked, or for another environment. */
export class AlpacaAuthError extends AlpacaError {}

/** 422 "client_order_id must be unique": an order with this id exists (ids stay taken after a cancel). */
export class DuplicateClientOrderIdError extends AlpacaError {
  readonly clientOrderId: string;
  /** True when an earlier try of this same request may have placed the order (it failed in transit). */
  readonly afterRetry: boolean;

  constructor(message: string, details: AlpacaErrorDetails, clientOrderId: string) {
    super(message, details);
    this.clientOrderId = clientOrderId;
    this.afterRetry = details.attempts > 1;
  }
}

/** The client's options are unusable; the message names the account and the option, never a key. */
export class AlpacaConfigError extends UserError {}

/** An order refused before it was sent, because Alpaca would refuse it (see order-request.ts). */
export class AlpacaOrderValidationError extends UserError {
  readonly clientOrderId: string | null;

  constructor(message: string, clientOrderId: string | null) {
    super(message);
    this.clientOrderId = clientOrderId;
  }
}

export interface AlpacaUnavailableDetails {
  /** The last HTTP status, or null when the last try got no answer (network error, timeout). */
  status: number | null;
  accountLabel: string;
  method: string;
  path: string;
  attempts: number;
}

export class AlpacaUnavailableError extends Error {
  readonly status: number | null;
  readonly accountLabel: string;
  readonly method: string;
  readonly path: string;
  readonly attempts: number;

  constructor(message: string, details: AlpacaUnavailableDetails) {
    super(message);
    this.name = new.target.name;
    this.status = details.status;
    this.accountLabel = details.accountLabel;
    this.method = details.method;
    this.path = details.path;
    this.attempts = details.attempts;
  }
}

export class AlpacaProtocolError extends Error {
  readonly accountLabel: string;
  readonly method: string;
  readonly path: string;

  constructor(message: string, details: { accountLabel: string; method: string; path: string }) {
    super(message);
    this.name = new.target.name;
    this.accountLabel = details.accountLabel;
    this.method = details.method;
    this.path = details.path;
  }
}

/** Alpaca's code for refusals of a valid request by an account that cannot do it (buying power, qty available). */
export const FORBIDDEN_BY_ACCOUNT_CODE = 40310000;
/** Alpaca's code for a malformed or refused request; the duplicate client_order_id is one of its messages. */
export const INVALID_REQUEST_CODE = 40010001;

/** Whether a 422 body is Alpaca's duplicate client_order_id refusal (its message; the code is shared with others). */
export function isDuplicateClientOrderId(status: number, message: string | null): boolean {
  return status === 422 && message !== null && /client_order_id must be unique/i.test(message);
}

/**
 * Whether a 401/403 means the keys (not the order): every 401, and a 403 without Alpaca's 40310000
 * code. Alpaca also answers 403 with 40310000 for orders the account cannot afford or cover
 * ("insufficient buying power", "insufficient qty available for order"): those are order refusals.
 */
export function isKeyRejection(status: number, code: number | string | null): boolean {
  if (status === 401) return true;
  return status === 403 && Number(code) !== FORBIDDEN_BY_ACCOUNT_CODE;
}
