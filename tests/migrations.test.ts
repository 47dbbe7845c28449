import { readFileSync } from 'node:fs';
import type { PGlite } from '@electric-sql/pglite';
import { afterAll, describe, expect, it } from 'vitest';
import { newPglite } from '../src/storage/pglite-open.js';

/** The statements of one migration file, split where drizzle-kit marks the breakpoints. */
function statements(file: string): string[] {
  const text = readFileSync(new URL(`../src/storage/migrations/${file}`, import.meta.url), 'utf8');
  return text
    .split('--> statement-breakpoint')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

async function apply(db: PGlite, file: string): Promise<void> {
  for (const sql of statements(file)) await db.exec(sql);
}

describe('migration 0002 (llm_calls keeps params; prompt and response live in the event)', () => {
  // A database with no schema: the build's blank template, else initdb.
  const db = newPglite({}).client;
  afterAll(async () => {
    await db.close();
  });

  it('upgrades a database with recorded calls without losing their parameters', async () => {
    await apply(db, '0000_init.sql');
    await apply(db, '0001_llm.sql');
    const request = { messages: [{ role: 'user', content: 'pitch' }], params: { model: 'openai/gpt-5.1', schema: 'pm_pitch' } };
    await db.query(
      `insert into llm_calls (id, week_id, stage, seat, provider, model, attempt, status, latency_ms, prompt_tokens,
        completion_tokens, reasoning_tokens, cached_tokens, cost_usd, cost_source, usage, cache_key, request, response_text, citations)
       values ('c1', '2024-03-06', 'pm_pitches', 'gpt', 'requesty', 'openai/gpt-5.1', 1, 'ok', 900, 10, 5, 0, 0, 0.01, 'provider',
        '{}', 'k', $1, '{"a":1}', '[]')`,
      [JSON.stringify(request)],
    );
    await apply(db, '0002_llm_calls_params.sql');

    const { rows } = await db.query<{ params: unknown }>(`select params from llm_calls where id = 'c1'`);
    expect(rows).toEqual([{ params: { model: 'openai/gpt-5.1', schema: 'pm_pitch' } }]);
    const columns = await db.query<{ column_name: string }>(
      `select column_name from information_schema.columns where table_name = 'llm_calls' order by column_name`,
    );
    const names = columns.rows.map((r) => r.column_name);
    expect(names).toContain('params');
    expect(names).not.toContain('request');
    expect(names).not.toContain('response_text');
  });
});

describe('migration 0003 (portfolios)', () => {
  const db = newPglite({}).client;
  afterAll(async () => {
    await db.close();
  });

  it('puts what a database held into the `default` portfolio, and refuses rows without a portfolio afterwards', async () => {
    for (const file of ['0000_init.sql', '0001_llm.sql', '0002_llm_calls_params.sql']) await apply(db, file);
    // A week as the code before portfolios stored it.
    await db.exec(`
      insert into runs (week_id, asof_et, data_through, fill_date, mode, seed, status)
        values ('2024-03-06', '2024-03-06T08:00:00-05:00', '2024-03-05', '2024-03-06', 'offline', 's', 'completed');
      insert into stage_runs (week_id, stage, status, output, started_at, finished_at) values ('2024-03-06', 'execute', 'completed', '{}', now(), now());
      insert into accounts (id, owner, broker, starting_cash, cash) values (1, 'gpt', 'sim', 100000, 90000);
      insert into orders (client_order_id, account_id, week_id, checkpoint, action, ticker, side, qty, order_type, status, submitted_at)
        values ('lt-2024-03-06-a1-weekly-open-SPY', 1, '2024-03-06', 'weekly', 'open-SPY', 'SPY', 'buy', 20, 'market', 'filled', now());
      insert into fills (client_order_id, account_id, ticker, side, qty, price, commission, filled_at)
        values ('lt-2024-03-06-a1-weekly-open-SPY', 1, 'SPY', 'buy', 20, 500, 0, now());
      insert into positions (account_id, ticker, qty, avg_entry_price) values (1, 'SPY', 20, 500);
      insert into events (idempotency_key, week_id, kind, payload) values ('order:x', '2024-03-06', 'order', '{}'), ('global', null, 'note', '{}');
    `);
    await apply(db, '0003_portfolios.sql');

    const { rows: portfolios } = await db.query(`select name, kind, broker, starting_cash::float as cash from portfolios`);
    expect(portfolios).toEqual([{ name: 'default', kind: 'live', broker: 'sim', cash: 100000 }]);
    for (const table of ['runs', 'stage_runs', 'accounts', 'orders', 'fills', 'positions']) {
      const { rows } = await db.query<{ portfolio: string }>(`select distinct portfolio from ${table}`);
      expect(rows, table).toEqual([{ portfolio: 'default' }]);
    }
    const { rows: events } = await db.query(`select idempotency_key, portfolio from events order by id`);
    expect(events).toEqual([
      { idempotency_key: 'order:x', portfolio: 'default' },
      { idempotency_key: 'global', portfolio: null },
    ]);
    // No default any more: a write that forgets its portfolio fails instead of landing in `default`.
    await expect(
      db.exec(`insert into accounts (id, owner, broker, starting_cash, cash) values (2, 'gemini', 'sim', 1, 1)`),
    ).rejects.toThrow(/null value in column "portfolio"/);
    // The same account id in another portfolio is another account.
    await db.exec(`insert into accounts (portfolio, id, owner, broker, starting_cash, cash) values ('other', 1, 'gpt', 'sim', 1, 1)`);
    const { rows: ones } = await db.query(`select portfolio from accounts where id = 1 order by portfolio`);
    expect(ones).toEqual([{ portfolio: 'default' }, { portfolio: 'other' }]);
  });
});
