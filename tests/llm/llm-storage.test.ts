import { eq, inArray } from 'drizzle-orm';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DbLlmCallSink, llmUsageOfWeek } from '../../src/llm/call-audit.js';
import { createLlmClient, ZERO_USAGE } from '../../src/llm/index.js';
import type { LlmCallRecord } from '../../src/ports/llm.js';
import { LlmSeatError } from '../../src/llm/seat-error.js';
import { DbLlmResponseCache } from '../../src/llm/response-cache.js';
import type { Store } from '../../src/storage/db.js';
import { events, llmCache, llmCalls } from '../../src/storage/schema.js';
import { reply, startStandIn, type StandIn, type StandInScript } from '../helpers/llm-stand-in.js';
import { storeFactories } from '../helpers/stores.js';
import { FAKE_KEYS, GOOD_TRADE, standInEnv, testLlmConfig, tradeRequest } from './fixtures.js';

describe.each(storeFactories)('LLM storage on $name', (factory) => {
  let store: Store;
  let standIns: StandIn[] = [];
  beforeAll(async () => {
    store = await factory.open();
  });
  afterAll(async () => {
    await store.close();
  });
  afterEach(async () => {
    await Promise.all(standIns.map((s) => s.close()));
    standIns = [];
  });

  async function clientOn(script: StandInScript, cacheOverride?: 'use' | 'bypass') {
    const standIn = await startStandIn(script);
    standIns.push(standIn);
    // The production wiring: DbLlmResponseCache + DbLlmCallSink redacting the env's keys.
    const client = createLlmClient({
      env: standInEnv(standIn.url),
      config: testLlmConfig(),
      storage: { db: store.db, portfolio: 'default' },
      ...(cacheOverride ? { cacheOverride } : {}),
    });
    return { standIn, client };
  }

  it('a replay is answered from llm_cache with zero requests', async () => {
    const weekId = '2024-05-01';
    const live = await clientOn([reply.json(GOOD_TRADE, { cost: 0.031 })]);
    const first = await live.client.complete(tradeRequest({ weekId }));
    expect(first.cached).toBe(false);

    const replay = await clientOn([], 'use');
    const again = await replay.client.complete(tradeRequest({ weekId }));
    expect(again).toMatchObject({ value: GOOD_TRADE, cached: true });
    expect(replay.standIn.requests).toHaveLength(0);

    const rows = await store.db.select().from(llmCache).where(eq(llmCache.key, first.calls[0]!.cache_key));
    expect(rows).toHaveLength(1);
    // One read for several keys gives back those kept, under their keys.
    const found = await new DbLlmResponseCache(store.db).getMany([first.calls[0]!.cache_key, 'not-kept']);
    expect([...found.keys()]).toEqual([first.calls[0]!.cache_key]);
    expect(found.get(first.calls[0]!.cache_key)).toEqual(rows[0]!.response);
    expect((await new DbLlmResponseCache(store.db).getMany([])).size).toBe(0);
    expect(rows[0]).toMatchObject({
      provider: 'openrouter',
      model: 'openai/gpt-5.1',
      response: { value: GOOD_TRADE, model: 'openai/gpt-5.1' },
    });

    const calls = await store.db.select().from(llmCalls).where(eq(llmCalls.weekId, weekId)).orderBy(llmCalls.createdAt);
    expect(calls.map((c) => [c.status, c.costUsd])).toEqual([
      ['ok', 0.031],
      ['cache_hit', 0],
    ]);
  });

  it('lookups asked for in one turn of the event loop are one statement, each given only its own keys', async () => {
    const keep = async (key: string) =>
      store.db
        .insert(llmCache)
        .values({ key, provider: 'p', model: 'm', response: { raw: key } })
        .onConflictDoNothing();
    await keep('gather-a');
    await keep('gather-b');
    const cache = new DbLlmResponseCache(store.db);
    const session = store.db._.session;
    const prepare = session.prepareQuery.bind(session);
    const lookups: string[] = [];
    session.prepareQuery = ((query: { sql: string }, ...rest: unknown[]) => {
      if (query.sql.includes('from "llm_cache"')) lookups.push(query.sql);
      return (prepare as (...args: unknown[]) => unknown)(query, ...rest);
    }) as typeof session.prepareQuery;
    try {
      // The seats of a stage: asked together.
      const [a, b, none] = await Promise.all([
        cache.getMany(['gather-a', 'missing']),
        cache.getMany(['gather-b']),
        cache.getMany(['missing-too']),
      ]);
      expect(lookups).toHaveLength(1);
      expect([...a.entries()]).toEqual([['gather-a', { raw: 'gather-a' }]]);
      expect([...b.entries()]).toEqual([['gather-b', { raw: 'gather-b' }]]);
      expect(none.size).toBe(0);
      // A later turn: a statement of its own, which sees what was kept since.
      await keep('missing');
      expect([...(await cache.getMany(['missing'])).keys()]).toEqual(['missing']);
      expect(lookups).toHaveLength(2);
    } finally {
      session.prepareQuery = prepare;
    }
  });

  /** A call record as the client hands it to the sink. */
  const callRecord = (id: string, overrides: Partial<LlmCallRecord> = {}): LlmCallRecord => ({
    id,
    weekId: '2024-07-03',
    stage: 'pm_pitches',
    seat: 'gpt',
    provider: 'openrouter',
    model: 'openai/gpt-5.1',
    attempt: 1,
    status: 'ok',
    http_status: 200,
    error: null,
    latency_ms: 812,
    usage: { calls: 1, prompt_tokens: 1200, completion_tokens: 300, reasoning_tokens: 0, cached_tokens: 0, cost_usd: 0.0000001 },
    cost_source: 'provider',
    cache_key: `key-${id}`,
    request: { messages: [{ role: 'user', content: 'pitch' }], params: { temperature: 0.2 } },
    response_text: '{"ticker":"SPY"}',
    citations: ['https://example.com/a'],
    ...overrides,
  });

  /** The statements that write to the LLM tables while `body` runs. */
  async function llmWriteStatements(body: () => Promise<void>): Promise<string[]> {
    const session = store.db._.session;
    const prepare = session.prepareQuery.bind(session);
    const seen: string[] = [];
    session.prepareQuery = ((query: { sql: string }, ...rest: unknown[]) => {
      if (/insert into "(llm_calls|llm_cache|events)"/.test(query.sql)) seen.push(query.sql);
      return (prepare as (...args: unknown[]) => unknown)(query, ...rest);
    }) as typeof session.prepareQuery;
    try {
      await body();
    } finally {
      session.prepareQuery = prepare;
    }
    return seen;
  }

  it('the call records and answers kept in one turn are one statement; each caller resumes once its rows are stored', async () => {
    const sink = new DbLlmCallSink(store.db, 'default');
    const cache = new DbLlmResponseCache(store.db);
    const answer = (raw: string) => ({ raw, value: { raw }, model: 'm', citations: [], usage: ZERO_USAGE });
    const statements = await llmWriteStatements(async () => {
      // Five seats answered together: their records and answers, then the second answer under a key.
      await Promise.all([
        sink.record(callRecord('batch-1')),
        sink.record(callRecord('batch-2', { status: 'cache_hit', usage: ZERO_USAGE })),
        cache.put('batch-key', { provider: 'p', model: 'm', answer: answer('first') }),
        cache.put('batch-key', { provider: 'p', model: 'm', answer: answer('second') }),
        sink.record(callRecord('batch-1')),
      ]);
      // A later turn: a statement of its own, and the answer kept first still stands.
      await cache.put('batch-key', { provider: 'p', model: 'm', answer: answer('third') });
    });
    expect(statements).toHaveLength(2);
    const calls = await store.db
      .select()
      .from(llmCalls)
      .where(inArray(llmCalls.id, ['batch-1', 'batch-2']))
      .orderBy(llmCalls.id);
    expect(calls.map((c) => [c.id, c.status, c.costUsd, c.promptTokens, c.latencyMs, c.httpStatus, c.error])).toEqual([
      ['batch-1', 'ok', 0.0000001, 1200, 812, 200, null],
      ['batch-2', 'cache_hit', 0, 0, 812, 200, null],
    ]);
    expect(calls[0]).toMatchObject({
      portfolio: 'default',
      weekId: '2024-07-03',
      usage: callRecord('x').usage,
      params: { temperature: 0.2 },
      citations: ['https://example.com/a'],
      cacheKey: 'key-batch-1',
    });
    const logged = await store.db
      .select()
      .from(events)
      .where(inArray(events.idempotencyKey, ['llm_call:batch-1', 'llm_call:batch-2']));
    expect(logged.map((e) => e.idempotencyKey).sort()).toEqual(['llm_call:batch-1', 'llm_call:batch-2']);
    expect(logged.find((e) => e.idempotencyKey === 'llm_call:batch-1')).toMatchObject({
      kind: 'llm_call',
      stage: 'pm_pitches',
      seat: 'gpt',
      payload: { ...callRecord('batch-1'), request: { messages: [{ role: 'user', content: 'pitch' }], params: { temperature: 0.2 } } },
    });
    const [kept] = await store.db.select().from(llmCache).where(eq(llmCache.key, 'batch-key'));
    expect(kept?.response).toMatchObject({ raw: 'first' });
  });

  it('a statement that fails fails every write it held, and the next turn writes again; a usage figure without a JSON form is refused', async () => {
    const sink = new DbLlmCallSink(store.db, 'default');
    const cache = new DbLlmResponseCache(store.db);
    // PostgreSQL refuses a NUL character in JSON text: the whole statement fails.
    const results = await Promise.allSettled([
      sink.record(callRecord('fails-1', { response_text: 'bad \u0000 byte' })),
      cache.put('fails-key', {
        provider: 'p',
        model: 'm',
        answer: { raw: 'r', value: null, model: 'm', citations: [], usage: ZERO_USAGE },
      }),
    ]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect(await store.db.select().from(llmCache).where(eq(llmCache.key, 'fails-key'))).toEqual([]);
    expect(await store.db.select().from(llmCalls).where(eq(llmCalls.id, 'fails-1'))).toEqual([]);
    await sink.record(callRecord('after-failure'));
    expect(await store.db.select({ id: llmCalls.id }).from(llmCalls).where(eq(llmCalls.id, 'after-failure'))).toEqual([
      { id: 'after-failure' },
    ]);
    await expect(sink.record(callRecord('nan', { latency_ms: Number.NaN }))).rejects.toThrow(/not a finite number/);
  });

  it("a later command continues the week's budget: what the week's calls cost counts", async () => {
    const weekId = '2024-05-29';
    // Each client is what one CLI command builds; the cap is $0.05 per week's run.
    const capped = (script: StandInScript) =>
      clientOn(script).then(({ standIn }) => ({
        standIn,
        client: createLlmClient({
          env: standInEnv(standIn.url),
          config: testLlmConfig({ budget_usd_per_run: 0.05 }),
          storage: { db: store.db, portfolio: 'default' },
        }),
      }));
    const first = await capped([reply.json(GOOD_TRADE, { cost: 0.045 })]);
    await first.client.complete(tradeRequest({ weekId }));

    const resumed = await capped([reply.json(GOOD_TRADE, { cost: 0.01 })]);
    // Not the cached request (another temperature); its estimate (~$0.008) fits a fresh budget, not this one.
    const error = await resumed.client.complete(tradeRequest({ weekId, seat: 'sonnet', temperature: 0.2 })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect(String(error)).toMatch(/budget of \$0\.05 per run would be exceeded by sonnet's call .*\$0\.045 spent/);
    expect(resumed.standIn.chatRequests()).toHaveLength(0);

    // Another week has its own budget.
    const otherWeek = await resumed.client.complete(tradeRequest({ weekId: '2024-06-05', seat: 'sonnet', temperature: 0.2 }));
    expect(otherWeek.value).toEqual(GOOD_TRADE);
  });

  it('--no-cache (bypass) asks the provider again even when an answer is cached', async () => {
    const weekId = '2024-05-08';
    await (await clientOn([reply.json(GOOD_TRADE)])).client.complete(tradeRequest({ weekId }));
    const bypass = await clientOn([reply.json(GOOD_TRADE)], 'bypass');
    expect((await bypass.client.complete(tradeRequest({ weekId }))).cached).toBe(false);
    expect(bypass.standIn.requests).toHaveLength(1);
  });

  it('records every call as an llm_calls row and an llm_call event, and sums usage per seat', async () => {
    const weekId = '2024-05-15';
    const { client } = await clientOn([
      reply.status(500),
      reply.json(GOOD_TRADE, { cost: 0.01, usage: { prompt_tokens: 100, completion_tokens: 50, reasoning_tokens: 20, cached_tokens: 30 } }),
      reply.json(GOOD_TRADE, { cost: 0.02, usage: { prompt_tokens: 200, completion_tokens: 60 } }),
    ]);
    const gpt = await client.complete(tradeRequest({ weekId }));
    await client.complete(tradeRequest({ weekId, seat: 'sonnet', model: 'anthropic/claude-sonnet-4.5' }));

    const rows = await store.db.select().from(llmCalls).where(eq(llmCalls.weekId, weekId));
    expect(rows).toHaveLength(3);
    const failed = rows.find((r) => r.status === 'http_error')!;
    expect(failed).toMatchObject({ httpStatus: 500, seat: 'gpt', attempt: 1, costUsd: 0, costSource: 'none' });
    const ok = rows.find((r) => r.id === gpt.calls[1]!.id)!;
    expect(ok).toMatchObject({
      status: 'ok',
      attempt: 2,
      promptTokens: 100,
      completionTokens: 50,
      reasoningTokens: 20,
      cachedTokens: 30,
      costUsd: 0.01,
    });
    expect(ok.usage).toEqual(gpt.calls[1]!.usage);
    expect(ok.params).toMatchObject({ model: 'openai/gpt-5.1', schema: 'mini_trade' });

    const logged = await store.db.select().from(events).where(eq(events.kind, 'llm_call'));
    const ofWeek = logged.filter((e) => e.weekId === weekId);
    expect(ofWeek.map((e) => e.idempotencyKey).sort()).toEqual(rows.map((r) => `llm_call:${r.id}`).sort());
    expect(ofWeek.find((e) => e.idempotencyKey === `llm_call:${ok.id}`)!.payload).toMatchObject({
      status: 'ok',
      seat: 'gpt',
      response_text: expect.stringContaining('GLD'),
      request: { messages: [expect.objectContaining({ role: 'system' }), expect.objectContaining({ role: 'user' })] },
    });

    // Recording the same call twice (a retried write) adds nothing.
    await new DbLlmCallSink(store.db, 'default').record(gpt.calls[1]!);
    expect(await store.db.select().from(llmCalls).where(eq(llmCalls.weekId, weekId))).toHaveLength(3);
    expect((await store.db.select().from(events).where(eq(events.kind, 'llm_call'))).filter((e) => e.weekId === weekId)).toHaveLength(3);

    const usage = await llmUsageOfWeek(store.db, { portfolio: 'default', weekId });
    expect(usage).toEqual([
      {
        stage: 'pm_pitches',
        seat: 'gpt',
        calls: 2,
        cacheHits: 0,
        failedCalls: 1,
        promptTokens: 100,
        completionTokens: 50,
        reasoningTokens: 20,
        cachedTokens: 30,
        costUsd: 0.01,
        latencyMs: expect.any(Number),
        costIncomplete: false,
      },
      expect.objectContaining({ seat: 'sonnet', calls: 1, failedCalls: 0, promptTokens: 200, costUsd: 0.02 }),
    ]);
  });

  it('stores no key anywhere: not in llm_calls, events, llm_cache, nor in thrown messages', async () => {
    const weekId = '2024-05-22';
    // A gateway that echoes the Authorization header in its error, then a model that repeats it in its
    // answer, and a prompt that (by mistake) contains a key.
    const leaky = await clientOn([
      reply.echoAuthorization(401),
      reply.dynamic((req) => reply.json({ ...GOOD_TRADE, reason: `header was ${req.headers.authorization}` })),
    ]);
    const thrown: string[] = [];
    try {
      await leaky.client.complete(tradeRequest({ weekId }));
    } catch (error) {
      expect(error).toBeInstanceOf(LlmSeatError);
      thrown.push((error as Error).message, String((error as Error).stack), JSON.stringify((error as LlmSeatError).calls));
    }
    const prompt = [{ role: 'user' as const, content: `context: my key is ${FAKE_KEYS.perplexity}` }];
    const echoed = await leaky.client.complete(tradeRequest({ weekId, messages: prompt }));
    thrown.push(JSON.stringify(echoed));
    expect(echoed.value.reason).toBe('header was Bearer [REDACTED]');

    const tables = await Promise.all([store.db.select().from(llmCalls), store.db.select().from(events), store.db.select().from(llmCache)]);
    const text = [...tables.flat().map((row) => JSON.stringify(row)), ...thrown].join('\n');
    expect(text).toContain('[REDACTED]');
    for (const key of Object.values(FAKE_KEYS)) expect(text).not.toContain(key);
    expect(leaky.standIn.requests[0]!.headers.authorization).toBe(`Bearer ${FAKE_KEYS.openrouter}`);
  });
});
