import { types, type PGlite, type Transaction } from '@electric-sql/pglite';

/**
 * drizzle's PGlite driver passes the same type parsers with every query (dates, timestamps and
 * intervals kept as text, for drizzle's own mapping). PGlite merges per-query parsers into its whole
 * parser table on each call, which about doubles the cost of a small statement (~90 → ~180 µs
 * measured here); a weekly run makes hundreds. So the client is created with those parsers once
 * (PGLITE_PARSERS) and `withSharedParsers` drops the per-query copy.
 *
 * The result is the same: drizzle's parsers are identities for these types, which the instance now
 * applies by itself. (Array types keep PGlite's element-wise array parsing; drizzle's array columns
 * accept a parsed array as well as the text form, and this schema has none.)
 */
const keepText = (value: string): string => value;

export const PGLITE_PARSERS = {
  [types.TIMESTAMP]: keepText,
  [types.TIMESTAMPTZ]: keepText,
  [types.INTERVAL]: keepText,
  [types.DATE]: keepText,
};

type QueryFn = Transaction['query'];

function withoutParsers(query: QueryFn, self: unknown): QueryFn {
  return ((sql: string, params?: unknown[], options?: Parameters<QueryFn>[2]) => {
    if (options?.parsers) {
      const { parsers: _shared, ...rest } = options;
      return query.call(self, sql, params, rest);
    }
    return query.call(self, sql, params, options);
  }) as QueryFn;
}

/** The client as drizzle should see it: queries (also inside transactions) without per-query parsers. */
export function withSharedParsers(client: PGlite): PGlite {
  return new Proxy(client, {
    get(target, property, receiver) {
      if (property === 'query') return withoutParsers(target.query, target);
      if (property === 'transaction') {
        return <T>(callback: (tx: Transaction) => Promise<T>) =>
          target.transaction((tx) =>
            callback(
              new Proxy(tx, {
                get: (t, p, r) => (p === 'query' ? withoutParsers(t.query, t) : Reflect.get(t, p, r)),
              }),
            ),
          );
      }
      const value: unknown = Reflect.get(target, property, receiver);
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}
