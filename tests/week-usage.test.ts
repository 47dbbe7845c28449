/**
 * A week's LLM usage: read from the recorded calls, except in a backtest of offline agents, which can
 * make none (its workers refuse other agents) and so does not ask the database for them (nor does
 * its progress line).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backtestProgress, openBacktest, weeksBetween } from '../src/backtest/backtest.js';
import { portfolioWeekUsage } from '../src/council/week-usage.js';
import { DbLlmCallSink } from '../src/llm/call-audit.js';
import type { LlmCallRecord } from '../src/ports/llm.js';
import { openStore, type Store } from '../src/storage/db.js';
import { resetStore, testApp } from './helpers/app.js';

const WEEK = '2024-01-03';

function call(seat: string): LlmCallRecord {
  return {
    id: `call-${seat}`,
    weekId: WEEK,
    stage: 'pm_pitches',
    seat,
    provider: 'openrouter',
    model: 'openai/gpt-5.1',
    attempt: 1,
    status: 'ok',
    http_status: 200,
    error: null,
    latency_ms: 120,
    usage: { calls: 1, prompt_tokens: 100, completion_tokens: 20, reasoning_tokens: 0, cached_tokens: 0, cost_usd: 0.01 },
    cost_source: 'provider',
    cache_key: 'k',
    request: { messages: [{ role: 'user', content: 'pick one trade' }], params: {} },
    response_text: '{}',
    citations: [],
  };
}

describe('the usage of a week', () => {
  let store: Store;
  beforeAll(async () => {
    store = await openStore({ memory: true });
    await resetStore(store);
  });
  afterAll(async () => {
    await store.close();
  });

  it('is the recorded calls of the portfolio, and none for a backtest of offline agents without a query', async () => {
    const live = await testApp(store, {}, { portfolio: 'live-usage' });
    const backtest = await testApp(store, {}, { portfolio: 'bt-usage', portfolioKind: 'backtest' });
    try {
      expect(backtest.agents.mode).toBe('offline');
      await new DbLlmCallSink(store.db, 'live-usage').record(call('gpt'));
      // A row no offline backtest can have made: were it read, the usage would show it.
      await new DbLlmCallSink(store.db, 'bt-usage').record(call('sonnet'));

      const liveUsage = await portfolioWeekUsage(live, WEEK);
      expect(liveUsage).toMatchObject({ calls: 1, cost_usd: 0.01, by_seat: [expect.objectContaining({ seat: 'gpt', calls: 1 })] });
      expect(await portfolioWeekUsage(backtest, WEEK)).toEqual({
        calls: 0,
        prompt_tokens: 0,
        completion_tokens: 0,
        cost_usd: 0,
        cache_hits: 0,
        by_seat: [],
      });
      // Nor does its progress count calls.
      const row = await openBacktest(backtest, 'usage', weeksBetween(backtest.config, WEEK, WEEK), {
        offline: true,
        allow_offline_seats: false,
      });
      expect(row.mode).toBe('offline');
      expect(await backtestProgress(store.db, row)).toMatchObject({ llm_calls: 0, llm_cost_usd: 0 });
    } finally {
      await live.cleanup();
      await backtest.cleanup();
    }
  });
});
