import { DrizzleQueryError } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import {
  allThenThrow,
  connectionLossAdvice,
  describeError,
  fullErrorText,
  isConnectionLoss,
  isNoSpace,
  StorageError,
  UserError,
} from './errors.js';

const uniqueViolation = () =>
  Object.assign(new Error('duplicate key value violates unique constraint "events_idempotency_key_unique"'), {
    code: '23505',
    severity: 'ERROR',
    detail: 'Key (idempotency_key)=(order:lt-1) already exists.',
  });

describe('describeError: one line a user can act on', () => {
  it('names the cause of a failed query, never its SQL', () => {
    const sql = `insert into "events" ("id", "idempotency_key", "portfolio", "week_id")\n${'values ($1, $2, $3, $4)\n'.repeat(20)}`;
    const error = new DrizzleQueryError(sql, ['a', 'b'], uniqueViolation());
    const line = describeError(error);
    expect(line).toBe(
      'duplicate key value violates unique constraint "events_idempotency_key_unique": Key (idempotency_key)=(order:lt-1) already exists.',
    );
    expect(line).not.toMatch(/insert|values|Failed query/);
    // The whole story stays available for --verbose and the log.
    expect(fullErrorText(error)).toMatch(/Failed query: insert into "events"[\s\S]*caused by:[\s\S]*23505/);
  });

  it('says "no space left on device" for a full disk, from the file system or the database', () => {
    const enospc = Object.assign(new Error("ENOSPC: no space left on device, write '/home/x/runs/a.json.12.tmp'"), {
      code: 'ENOSPC',
      path: '/home/x/runs/a.json.12.tmp',
    });
    expect(describeError(enospc)).toBe('no space left on device (/home/x/runs/a.json.12.tmp)');
    expect(describeError(new DrizzleQueryError('update "runs" set …', [], enospc))).toMatch(/^no space left on device/);
    const pgDiskFull = Object.assign(new Error('could not extend file "base/5/16384": No space left on device'), {
      code: '53100',
      severity: 'ERROR',
    });
    expect(describeError(pgDiskFull)).toBe('no space left on device (the database could not write)');
    expect(isNoSpace(new Error('wrapped', { cause: enospc }))).toBe(true);
    expect(isNoSpace(uniqueViolation())).toBe(false);
  });

  it('never prints [object Object]: a thrown plain object shows its message or its JSON', () => {
    expect(describeError({ message: 'PGlite is closed' })).toBe('PGlite is closed');
    expect(describeError({ status: 'aborted', reason: 42 })).toBe('{"status":"aborted","reason":42}');
    expect(describeError('plain text')).toBe('plain text');
  });

  it('keeps to one line', () => {
    expect(describeError(new Error('first line\nsecond line'))).toBe('first line');
    expect(describeError(new AggregateError([new Error('connect ECONNREFUSED 127.0.0.1:1')]))).toBe('connect ECONNREFUSED 127.0.0.1:1');
  });
});

describe('allThenThrow: no caller goes on while a sibling is still working', () => {
  it('rejects with the first rejection only after every promise has settled', async () => {
    const order: string[] = [];
    const slow = new Promise<string>((resolve) =>
      setTimeout(() => {
        order.push('slow finished');
        resolve('slow');
      }, 30),
    );
    const refused = Promise.reject(new Error('refused first'));
    const later = new Promise<string>((_, reject) => setTimeout(() => reject(new Error('refused later')), 10));
    const outcome = await allThenThrow([slow, refused, later]).then(
      () => 'resolved',
      (error: unknown) => {
        order.push('rejected');
        return (error as Error).message;
      },
    );
    expect(outcome).toBe('refused first');
    expect(order).toEqual(['slow finished', 'rejected']);
  });

  it('resolves to the values in order when all succeed', async () => {
    const late = new Promise<number>((resolve) => setTimeout(() => resolve(1), 5));
    expect(await allThenThrow([late, Promise.resolve(2), Promise.resolve(3)])).toEqual([1, 2, 3]);
  });
});

describe('isConnectionLoss: the database server went away', () => {
  const pgError = (code: string, message: string) => Object.assign(new Error(message), { code, severity: 'FATAL' });
  it.each([
    ['a restart ending sessions', pgError('57P01', 'terminating connection due to administrator command')],
    ['a server not accepting connections yet', pgError('57P03', 'the database system is starting up')],
    ['a connection exception', pgError('08006', 'connection failure')],
    ['a reset socket', Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' })],
    ['a refused connection', Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' })],
    ['node-postgres on an ended connection', new Error('Connection terminated unexpectedly')],
    ['wrapped by drizzle', new Error('Failed query: select 1', { cause: pgError('57P01', 'terminating connection') })],
  ])('%s', (_name, error) => expect(isConnectionLoss(error)).toBe(true));
  it.each([
    ['a constraint violation', pgError('23505', 'duplicate key value violates unique constraint')],
    ['a timeout of a statement', pgError('57014', 'canceling statement due to statement timeout')],
    ['a full disk', Object.assign(new Error('no space'), { code: 'ENOSPC' })],
    ['a plain error', new Error('something else')],
    ['not an error', 'text'],
  ])('not %s', (_name, error) => expect(isConnectionLoss(error)).toBe(false));
});

describe('connectionLossAdvice: what a command that lost its database says to do', () => {
  const lost = Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01', severity: 'FATAL' });
  it('tells a command that lost its connection mid-way to run again, wrapped or not', () => {
    const wrapped = new DrizzleQueryError('select 1', [], lost);
    for (const error of [lost, wrapped])
      expect(connectionLossAdvice(error)).toMatch(/connection to the database was lost: .*run the command again; it resumes/);
  });
  it('adds nothing to a database that cannot be reached at start (that message says where), a refusal, or another error', () => {
    expect(connectionLossAdvice(new StorageError('cannot connect to postgresql://x@h/db: connect ECONNREFUSED', { cause: lost }))).toBe('');
    expect(connectionLossAdvice(new UserError('week:default:2024-03-06 is busy', { cause: lost }))).toBe('');
    expect(connectionLossAdvice(new Error('duplicate key value'))).toBe('');
  });
});
