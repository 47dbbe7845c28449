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
