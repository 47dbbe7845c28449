import { describe, expect, it } from 'vitest';
import { UserError } from '../../errors.js';
import {
  AlpacaAuthError,
  AlpacaError,
  AlpacaUnavailableError,
  DuplicateClientOrderIdError,
  isDuplicateClientOrderId,
  isKeyRejection,
} from './errors.js';

const details = {
  status: 422,
  code: 40010001,
  alpacaMessage: 'client_order_id must be unique',
  accountLabel: '1',
  method: 'POST',
  path: '/v2/orders',
  requestId: null,
  attempts: 2,
};

describe('Alpaca errors', () => {
  it("tells key rejections from an account's order refusals", () => {
    expect(isKeyRejection(401, 40110000)).toBe(true);
    expect(isKeyRejection(401, null)).toBe(true);
    expect(isKeyRejection(403, null)).toBe(true); // {"message":"forbidden."}
    expect(isKeyRejection(403, 40310000)).toBe(false); // insufficient buying power / qty
    expect(isKeyRejection(422, null)).toBe(false);
  });

  it('recognises the duplicate client_order_id by its message (40010001 is shared with other refusals)', () => {
    expect(isDuplicateClientOrderId(422, 'client_order_id must be unique')).toBe(true);
    expect(isDuplicateClientOrderId(422, 'qty must be integer')).toBe(false);
    expect(isDuplicateClientOrderId(400, 'client_order_id must be unique')).toBe(false);
  });

  it("makes 4xx the user's to fix and transient failures not", () => {
    const duplicate = new DuplicateClientOrderIdError('dup', details, 'lt-1');
    expect(duplicate).toBeInstanceOf(AlpacaError);
    expect(duplicate).toBeInstanceOf(UserError);
    expect(duplicate).toMatchObject({ name: 'DuplicateClientOrderIdError', afterRetry: true, clientOrderId: 'lt-1' });
    expect(new AlpacaAuthError('keys', { ...details, status: 401 })).toBeInstanceOf(UserError);
    const unavailable = new AlpacaUnavailableError('down', {
      status: 503,
      accountLabel: '1',
      method: 'GET',
      path: '/v2/clock',
      attempts: 5,
    });
    expect(unavailable).not.toBeInstanceOf(UserError);
    expect(unavailable.name).toBe('AlpacaUnavailableError');
  });
});
