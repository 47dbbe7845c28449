import { fillPlaceholders, sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { submissionStatement, submissionValues } from '../src/broker/sim-writes.js';
import { selectFillsAfter } from '../src/ledger/portfolio-ledger.js';
import { cachedAnswers } from '../src/llm/response-cache.js';
import type { Store } from '../src/storage/db.js';
import type { Reusable } from '../src/storage/reusable-query.js';
import { storeFactories } from './helpers/stores.js';

/**
 * The statements a backtest runs every week must cost the same in its 750th week as in its first,
 * and the same in a database holding a hundred backtests as in a new one. These read the plans
 * PostgreSQL makes for them over tables already holding thousands of rows (as the embedded database
 * has them: never analyzed, since nothing runs autovacuum inside PGlite) and refuse any plan that
 * visits every row of a table that only grows.
 */
const ROWS = 4000;

describe.each(storeFactories)('query plans on $name', (factory) => {
  let store: Store;
  beforeAll(async () => {
    store = await factory.open();
    // Another portfolio's long history, then a few rows of the portfolio the statements work on.
    await store.db.execute(sql`
      insert into orders (client_order_id, portfolio, account_id, week_id, checkpoint, action, ticker, side, qty, order_type, status, submitted_at)
      select 'old-' || n, case when n > ${ROWS - 3} then 'p' else 'big' end, 1 + n % 6, '2020-01-01', 'weekly', 'open-SPY', 'SPY', 'buy', 1, 'market', 'filled', now()
      from generate_series(1, ${ROWS}) n`);
    await store.db.execute(sql`
      insert into fills (client_order_id, portfolio, account_id, ticker, side, qty, price, commission, filled_at)
      select 'old-' || n, case when n > ${ROWS - 3} then 'p' else 'big' end, 1 + n % 6, 'SPY', 'buy', 1, 100, 0, now()
      from generate_series(1, ${ROWS}) n`);
    // The response cache of many backtests (it belongs to no portfolio and is never emptied).
    await store.db.execute(sql`
      insert into llm_cache (key, provider, model, response)
      select md5(n::text), 'requesty', 'm', '{}'::jsonb from generate_series(1, ${ROWS}) n`);
    await store.db.execute(
      sql`insert into accounts (portfolio, id, owner, broker, starting_cash, cash) values ('p', 1, 'council', 'sim', 100000, 100000)`,
    );
  });
  afterAll(async () => {
    await store.close();
  });

  let explained = 0;
  const literal = (value: unknown): string =>
    Array.isArray(value)
      ? `array[${value.map(literal).join(', ')}]`
      : typeof value === 'number'
        ? String(value)
        : `'${String(value).replaceAll("'", "''")}'`;

  /**
   * The plans of a reusable statement with `values` bound: the custom plan PostgreSQL makes for the
   * values, and the generic plan it may switch to once the same prepared statement has run five times
   * (every statement here is one: pglite-prepared.ts on PGlite, drizzle's reusable text on both), for
   * which it cannot see the values.
   */
  async function plans<P extends object>(statement: Reusable<P, unknown>, values: P): Promise<{ custom: string; generic: string }> {
    const query = statement.query(store.db);
    const params = fillPlaceholders(query.params, values as Record<string, unknown>);
    const rowsOf = (result: unknown) => (result as { rows: Record<string, string>[] }).rows.map((row) => Object.values(row)[0]).join('\n');
    return store.db.transaction(async (tx) => {
      const run = (text: string) => tx._.session.prepareQuery({ sql: text, params }, undefined, undefined, false).execute();
      const custom = rowsOf(await run(`explain ${query.sql}`));
      // The generic plan: the statement prepared by name, then explained as it executes with the values
      // (as literals: EXECUTE takes no bound parameters). PREPARE outlives the transaction: deallocated.
      const name = `reusable_explained_${++explained}`;
      await tx.execute(sql.raw(`prepare ${name} as ${query.sql}`));
      let generic: string;
      try {
        await tx.execute(sql`set local plan_cache_mode = force_generic_plan`);
        generic = rowsOf(await tx.execute(sql.raw(`explain execute ${name}(${params.map(literal).join(', ')})`)));
      } finally {
        await tx.execute(sql.raw(`deallocate ${name}`));
      }
      return { custom, generic };
    });
  }

  it('a submission updates its orders through the primary key, not by hashing every order in the database', async () => {
    const { custom, generic } = await plans(
      submissionStatement,
      submissionValues({
        portfolio: 'p',
        positions: [{ portfolio: 'p', accountId: 1, ticker: 'SPY', qty: 0, avgEntryPrice: 100, updatedAt: new Date() }],
        cash: [{ portfolio: 'p', id: 1, cash: 100_100 }],
        fills: [],
        events: [],
        orders: [
          {
            clientOrderId: `old-${ROWS}`,
            status: 'filled',
            filledAt: new Date(),
            filledQty: 1,
            filledAvgPrice: 100,
            commission: 0,
            rejectReason: null,
            brokerOrderId: null,
          },
        ],
      }),
    );
    for (const text of [custom, generic]) {
      expect(text).toMatch(/Index Scan using orders_pkey on orders|Bitmap Index Scan on orders_pkey/);
      expect(text).not.toMatch(/Seq Scan on orders/);
      expect(text).not.toMatch(/Seq Scan on accounts/);
      expect(text).not.toMatch(/Seq Scan on positions/);
    }
  });

  it("a ledger's read of the new fills is an index range over ids, not every fill of the portfolio", async () => {
    const { custom, generic } = await plans(selectFillsAfter, { portfolio: 'big', lastId: ROWS - 10 });
    for (const text of [custom, generic]) {
      expect(text).toMatch(/Index Cond: \(.*\bid > /);
      expect(text).not.toMatch(/Seq Scan on fills/);
    }
  });

  it("an LLM call's cache lookup finds its keys through the primary key, not by reading the whole cache", async () => {
    const { custom, generic } = await plans(cachedAnswers, { keys: ['a1', 'b2'] });
    for (const text of [custom, generic]) {
      expect(text).toMatch(/Index (Only )?Scan using llm_cache_pkey on llm_cache|Bitmap Index Scan on llm_cache_pkey/);
      expect(text).not.toMatch(/Seq Scan on llm_cache/);
    }
  });
});
