/**
 * PGlite queries through named prepared statements.
 *
 * PGlite's `query` runs every statement through six separate calls into the WebAssembly backend
 * (Parse, Describe, Bind, Describe, Execute, Sync), and PostgreSQL parses and plans the text each
 * time. A run repeats the same few dozen statements (drizzle builds the same text for the same query
 * shape, with $n parameters): measured here, a simple insert costs ≈ 145 µs through `query` and
 * ≈ 50 µs as a named statement bound and executed in one call. So each distinct SELECT/INSERT/
 * UPDATE/DELETE/WITH text is parsed once into a named statement (with its parameter types, which pick
 * the value serializers exactly as `query` picks them), and then runs as one Bind, Describe, Execute
 * and Sync sent together; the results are parsed by PGlite's own parseResults. Everything else (DDL,
 * several statements in one text, COPY with blobs) goes through `query` as before.
 *
 * The statements live in the one backend session of the instance, at most MAX_STATEMENTS of them:
 * the least recently used one is closed to make room. A statement whose cached plan no longer fits
 * (a table changed under it: SQLSTATE 0A000) is prepared again once.
 *
 * Locking is PGlite's: outside a transaction a statement waits for any transaction to finish, as
 * `query` does; inside one (the `tx` of `transaction`) it runs at once. For instances made with
 * `relaxedDurability` (all of this project's, pglite-open.ts): `query` would otherwise also sync the
 * file system after each statement.
 */
import { parse, protocol, type PGlite, type QueryOptions, type Results, type Transaction } from '@electric-sql/pglite';

const { serialize } = protocol;
const MAX_STATEMENTS = 256;
const REUSABLE = /^\s*(select|insert|update|delete|with)\b/i;
const CACHED_PLAN_CHANGED = '0A000';

interface Prepared {
  name: string;
  paramTypes: number[];
}

type QueryFn = Transaction['query'];

class Statements {
  readonly #prepared = new Map<string, Prepared>();
  #serial = 0;

  constructor(
    private readonly client: PGlite,
    private readonly max: number,
  ) {}

  /** Runs `sql`; the caller holds PGlite's query lock (and the transaction lock outside a transaction). */
  async run(sql: string, params: readonly unknown[], options: QueryOptions | undefined, retried = false): Promise<Results> {
    const statement = await this.#prepare(sql, options);
    const values = params.map((value, i) => {
      if (value === null || value === undefined) return null;
      const type = statement.paramTypes[i] as number;
      const serializer = options?.serializers?.[type] ?? this.client.serializers[type];
      return binaryText(type, serializer ? String(serializer(value)) : String(value));
    });
    try {
      const messages = await this.client.execProtocolStream(
        concat([
          serialize.bind({ statement: statement.name, values }),
          serialize.describe({ type: 'P' }),
          serialize.execute({}),
          serialize.sync(),
        ]),
        { syncToFs: false },
      );
      return parse.parseResults(messages, this.client.parsers, options)[0] as Results;
    } catch (error) {
      if (!retried && codeOf(error) === CACHED_PLAN_CHANGED) {
        await this.#close(sql);
        return this.run(sql, params, options, true);
      }
      throw withQuery(error, sql, params, options);
    }
  }

  async #prepare(sql: string, options: QueryOptions | undefined): Promise<Prepared> {
    const known = this.#prepared.get(sql);
    if (known) {
      // Most recently used last: the first one is the one to close when room is needed.
      this.#prepared.delete(sql);
      this.#prepared.set(sql, known);
      return known;
    }
    const name = `llm_trading_${++this.#serial}`;
    const messages: Uint8Array[] = [];
    if (this.#prepared.size >= this.max) {
      const [oldest, statement] = this.#prepared.entries().next().value as [string, Prepared];
      this.#prepared.delete(oldest);
      messages.push(serialize.close({ type: 'S', name: statement.name }));
    }
    messages.push(
      serialize.parse({ name, text: sql, types: options?.paramTypes ?? [] }),
      serialize.describe({ type: 'S', name }),
      serialize.sync(),
    );
    let described;
    try {
      described = await this.client.execProtocolStream(concat(messages), { syncToFs: false });
    } catch (error) {
      throw withQuery(error, sql, [], options);
    }
    const prepared = { name, paramTypes: parse.parseDescribeStatementResults(described) };
    this.#prepared.set(sql, prepared);
    return prepared;
  }

  async #close(sql: string): Promise<void> {
    const statement = this.#prepared.get(sql);
    if (!statement) return;
    this.#prepared.delete(sql);
    await this.client.execProtocolStream(concat([serialize.close({ type: 'S', name: statement.name }), serialize.sync()]), {
      syncToFs: false,
    });
  }
}

/** Text-like types whose binary wire format is their UTF-8 text (jsonb: after a version byte). */
const TEXT_OID = 25;
const VARCHAR_OID = 1043;
const JSON_OID = 114;
const JSONB_OID = 3802;
const JSONB_VERSION = 1;
const BINARY_FROM_CHARS = 256;

/**
 * A long text, JSON or JSONB value as its binary wire format. Sent as a string, PGlite measures its
 * UTF-8 length character by character in JavaScript, twice (stage outputs and event payloads are tens
 * of KB: that loop was 6% of a backtest's time); as bytes, Node's native encoder does it once and the
 * value reaches PostgreSQL unchanged (binary text and json are the UTF-8 bytes; binary jsonb is a
 * version byte, then the same text).
 */
function binaryText(type: number, value: string): string | Uint8Array {
  if (value.length < BINARY_FROM_CHARS) return value;
  if (type === JSONB_OID) {
    const bytes = Buffer.allocUnsafeSlow(Buffer.byteLength(value) + 1);
    bytes[0] = JSONB_VERSION;
    bytes.write(value, 1);
    return bytes;
  }
  if (type === TEXT_OID || type === VARCHAR_OID || type === JSON_OID) return Buffer.from(value);
  return value;
}

/** Whether a statement may become a named one (see the file comment). */
function reusable(sql: string, options: QueryOptions | undefined): boolean {
  return REUSABLE.test(sql) && !options?.blob && !sql.includes(';');
}

/**
 * The client as drizzle should see it: statements through named prepared statements (also inside
 * transactions); `query` for everything else, with the options drizzle gives it (`withSharedParsers`
 * removes its per-query parsers first: apply it outside this).
 */
export function withPreparedStatements(client: PGlite, options: { maxStatements?: number } = {}): PGlite {
  const statements = new Statements(client, options.maxStatements ?? MAX_STATEMENTS);
  const outside = ((sql: string, params?: unknown[], options?: QueryOptions) => {
    if (!reusable(sql, options)) return client.query(sql, params, options);
    return client
      ._checkReady()
      .then(() => client._runExclusiveTransaction(() => client._runExclusiveQuery(() => statements.run(sql, params ?? [], options))));
  }) as QueryFn;
  const inside = (tx: Transaction): QueryFn =>
    ((sql: string, params?: unknown[], options?: QueryOptions) => {
      if (!reusable(sql, options)) return tx.query(sql, params, options);
      if (tx.closed) return Promise.reject(new Error('Transaction is closed'));
      return client._runExclusiveQuery(() => statements.run(sql, params ?? [], options));
    }) as QueryFn;
  return new Proxy(client, {
    get(target, property, receiver) {
      if (property === 'query') return outside;
      if (property === 'transaction')
        return <T>(callback: (tx: Transaction) => Promise<T>) =>
          target.transaction((tx) => callback(new Proxy(tx, { get: (t, p, r) => (p === 'query' ? inside(t) : Reflect.get(t, p, r)) })));
      const value: unknown = Reflect.get(target, property, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function codeOf(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null && 'code' in error ? String((error as { code: unknown }).code) : undefined;
}

/** As PGlite's `query` does: the failed statement, its parameters and options on the database error. */
function withQuery(error: unknown, sql: string, params: readonly unknown[], options: QueryOptions | undefined): unknown {
  if (typeof error === 'object' && error !== null && 'severity' in error)
    Object.assign(error, { query: sql, params: [...params], queryOptions: options });
  return error;
}
