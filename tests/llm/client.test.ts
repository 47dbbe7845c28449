import { afterEach, describe, expect, it } from 'vitest';
import { MemoryLlmCallSink } from '../../src/llm/call-audit.js';
import { OpenAiCompatibleClient, type OpenAiCompatibleClientOptions } from '../../src/llm/openai-compatible-client.js';
import { MemoryLlmResponseCache } from '../../src/llm/response-cache.js';
import { BacktestBudget, BacktestBudgetExceededError } from '../../src/llm/backtest-budget.js';
import { BudgetExceededError, RunBudget } from '../../src/llm/run-budget.js';
import { LlmSeatError } from '../../src/llm/seat-error.js';
import { parseEnv } from '../../src/config/env.js';
import { ConfigError } from '../../src/config/yaml-file.js';
import { createLlmClient } from '../../src/llm/index.js';
import { describeProviders } from '../../src/llm/providers.js';
import { reply, startStandIn, type StandIn, type StandInOptions, type StandInScript } from '../helpers/llm-stand-in.js';
import { FAKE_KEYS, GOOD_TRADE, standInEnv, testLlmConfig, TRADE_OUTPUT, tradeRequest } from './fixtures.js';

let standIns: StandIn[] = [];
afterEach(async () => {
  await Promise.all(standIns.map((s) => s.close()));
  standIns = [];
});

interface SetupOptions {
  config?: Record<string, unknown>;
  client?: Partial<OpenAiCompatibleClientOptions>;
  env?: NodeJS.ProcessEnv;
  standIn?: StandInOptions;
}

async function setup(script: StandInScript, options: SetupOptions = {}) {
  const standIn = await startStandIn(script, options.standIn);
  standIns.push(standIn);
  const sink = new MemoryLlmCallSink();
  const client = new OpenAiCompatibleClient({
    env: standInEnv(standIn.url, options.env),
    config: testLlmConfig(options.config),
    sink,
    ...options.client,
  });
  return { standIn, sink, client };
}

async function seatErrorOf(promise: Promise<unknown>): Promise<LlmSeatError> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(LlmSeatError);
    return error as LlmSeatError;
  }
  throw new Error('expected an LlmSeatError');
}

describe('OpenAiCompatibleClient against the stand-in', () => {
  it('sends the OpenRouter request as the wire format expects and returns the validated value', async () => {
    const { standIn, sink, client } = await setup([
      reply.json(GOOD_TRADE, { cost: 0.0042, usage: { prompt_tokens: 120, completion_tokens: 40 } }),
    ]);
    const result = await client.complete(tradeRequest());
    expect(result.value).toEqual(GOOD_TRADE);
    expect(result).toMatchObject({ provider: 'openrouter', model: 'openai/gpt-5.1', cached: false });
    expect(result.usage).toMatchObject({ calls: 1, prompt_tokens: 120, completion_tokens: 40, cost_usd: 0.0042 });

    expect(standIn.requests).toHaveLength(1);
    const [req] = standIn.requests;
    expect(req!.path).toBe('/api/v1/chat/completions');
    expect(req!.headers.authorization).toBe(`Bearer ${FAKE_KEYS.openrouter}`);
    expect(req!.headers['x-title']).toBe('LLM Trading');
    expect(req!.headers['http-referer']).toMatch(/^https:\/\//);
    expect(req!.chat).toMatchObject({ model: 'openai/gpt-5.1', temperature: 0.7, max_tokens: 800, usage: { include: true } });
    // The schema is "mini_trade"; its wire name is letters and digits only (Perplexity's rule).
    expect(req!.chat!.response_format).toMatchObject({ type: 'json_schema', json_schema: { name: 'miniTrade', strict: false } });
    expect(req!.chat!.response_format!.json_schema!.schema).toMatchObject({
      type: 'object',
      required: ['ticker', 'direction', 'conviction', 'reason'],
    });
    expect(req!.chat!.messages).toEqual(tradeRequest().messages);

    expect(sink.calls).toHaveLength(1);
    expect(sink.calls[0]).toMatchObject({
      status: 'ok',
      http_status: 200,
      cost_source: 'provider',
      attempt: 1,
      seat: 'gpt',
      stage: 'pm_pitches',
      weekId: '2024-03-06',
    });
    expect(sink.calls[0]!.response_text).toContain('chat.completion');
    expect(result.calls).toEqual(sink.calls);
  });

  it.each([
    ['JSON inside prose', reply.prose(GOOD_TRADE)],
    ['a fenced ```json block', reply.fenced(GOOD_TRADE)],
    ['trailing commas', reply.trailingCommas(GOOD_TRADE)],
  ])('accepts %s in one request', async (_name, answer) => {
    const { standIn, client } = await setup([answer]);
    const result = await client.complete(tradeRequest());
    expect(result.value).toEqual(GOOD_TRADE);
    expect(standIn.requests).toHaveLength(1);
  });

  it('re-asks with the precise validation errors and accepts the repaired answer', async () => {
    const wrong = { ticker: 'XLE', direction: 'LONG', conviction: 3, reason: '' };
    const { standIn, sink, client } = await setup([reply.json(wrong), reply.json(GOOD_TRADE)]);
    const result = await client.complete(tradeRequest());
    expect(result.value).toEqual(GOOD_TRADE);
    expect(sink.calls.map((c) => c.status)).toEqual(['invalid_output', 'ok']);
    expect(sink.calls[0]!.error).toMatch(/ticker: /);

    const reask = standIn.requests[1]!.chat!.messages!;
    expect(reask.slice(0, 2)).toEqual(tradeRequest().messages);
    expect(reask[2]).toEqual({ role: 'assistant', content: JSON.stringify(wrong) });
    const fix = reask[3]!;
    expect(fix.role).toBe('user');
    expect(fix.content).toMatch(/not a valid mini_trade object/);
    expect(fix.content).toMatch(/^- ticker: .*SPY.*TLT.*GLD/m);
    expect(fix.content).toMatch(/^- conviction: .*2/m);
    expect(fix.content).toMatch(/^- reason: /m);
  });

  it('re-asks when a refinement (output.check) fails, quoting the rule', async () => {
    const { standIn, client } = await setup([reply.json({ ...GOOD_TRADE, direction: 'SHORT' }), reply.json(GOOD_TRADE)]);
    await client.complete(tradeRequest());
    expect(standIn.requests[1]!.chat!.messages!.at(-1)!.content).toContain('- conviction: must be < 0 for a SHORT trade');
  });

  it('fails the seat with the reason when the answer stays invalid after max_repairs re-asks — no default value', async () => {
    const wrong = reply.json({ ticker: 'SPY', direction: 'UP', conviction: 1, reason: 'x' });
    const { standIn, client } = await setup([wrong, wrong, wrong, reply.json(GOOD_TRADE)]);
    const error = await seatErrorOf(client.complete(tradeRequest()));
    expect(error.kind).toBe('invalid_output');
    expect(error.reason).toMatch(/^openai\/gpt-5\.1: invalid mini_trade \(still invalid after 2 re-asks\): direction: /);
    expect(error.message).toMatch(/^gpt \(openrouter\): /);
    expect(error.calls.map((c) => c.status)).toEqual(['invalid_output', 'invalid_output', 'invalid_output']);
    expect(standIn.requests).toHaveLength(3);
  });

  it('treats truncated JSON as truncated: re-asks for a complete, shorter answer', async () => {
    const { standIn, sink, client } = await setup([reply.truncated(GOOD_TRADE), reply.json(GOOD_TRADE)]);
    expect((await client.complete(tradeRequest())).value).toEqual(GOOD_TRADE);
    expect(sink.calls[0]!.error).toMatch(/incomplete.*output token limit/s);
    expect(standIn.requests[1]!.chat!.messages!.at(-1)!.content).toMatch(/cut off/);
  });

  it('never accepts a truncated answer, even one a repair library could close', async () => {
    const cut = reply.text('{"ticker": "GLD", "direction": "LONG", "conviction": 2, "reason": "real yields', { finishReason: 'length' });
    const { client } = await setup([cut, cut, cut]);
    const error = await seatErrorOf(client.complete(tradeRequest()));
    expect(error.reason).toMatch(/incomplete/);
  });

  it('honours Retry-After on 429 (measured wait ≥ 1 s) and then succeeds', async () => {
    const { standIn, sink, client } = await setup([reply.status(429, { retryAfter: '1' }), reply.json(GOOD_TRADE)]);
    const result = await client.complete(tradeRequest());
    expect(result.value).toEqual(GOOD_TRADE);
    const [first, second] = standIn.requests;
    expect(second!.receivedAt - first!.receivedAt).toBeGreaterThanOrEqual(995);
    expect(sink.calls.map((c) => [c.status, c.http_status])).toEqual([
      ['http_error', 429],
      ['ok', 200],
    ]);
  });

  it('reads Retry-After as an HTTP date and caps it at max_retry_after_ms', async () => {
    const waits: number[] = [];
    const sleep = async (ms: number) => void waits.push(ms);
    const inTwoSeconds = new Date(Date.now() + 2000).toUTCString();
    const { client } = await setup(
      [reply.status(429, { retryAfter: inTwoSeconds }), reply.status(503, { retryAfter: '3600' }), reply.json(GOOD_TRADE)],
      {
        client: { sleep },
      },
    );
    await client.complete(tradeRequest());
    expect(waits).toHaveLength(2);
    expect(waits[0]).toBeGreaterThan(900);
    expect(waits[0]).toBeLessThanOrEqual(2000);
    expect(waits[1]).toBe(3000);
  });

  it('retries a 500 with jittered exponential backoff, then succeeds', async () => {
    const waits: number[] = [];
    const sleep = async (ms: number) => void waits.push(ms);
    const { standIn, sink, client } = await setup([reply.status(500), reply.status(502), reply.json(GOOD_TRADE)], {
      client: { sleep, random: () => 1 },
    });
    expect((await client.complete(tradeRequest())).value).toEqual(GOOD_TRADE);
    expect(standIn.requests).toHaveLength(3);
    expect(waits).toEqual([5, 10]); // base_ms 5 · 2^(n−1), full jitter at its maximum
    expect(sink.calls.map((c) => c.http_status)).toEqual([500, 502, 200]);
  });

  it('does not retry a 400', async () => {
    const { standIn, client } = await setup([
      reply.status(400, { body: { error: { message: 'unsupported parameter: temperature' } } }),
      reply.json(GOOD_TRADE),
    ]);
    const error = await seatErrorOf(client.complete(tradeRequest()));
    expect(error.kind).toBe('http_error');
    expect(error.reason).toMatch(/400 unsupported parameter: temperature/);
    expect(standIn.requests).toHaveLength(1);
  });

  it('times out a hanging call at the per-call timeout, retries it, then fails the seat', async () => {
    const { standIn, sink, client } = await setup([reply.hang(), reply.hang(), reply.json(GOOD_TRADE)], {
      config: {
        timeouts: { call_seconds: 0.2, research_seconds: 5, poll_seconds: 0.02 },
        retries: { max_attempts: 2, base_ms: 1, max_ms: 1, max_retry_after_ms: 10 },
      },
    });
    const started = Date.now();
    const error = await seatErrorOf(client.complete(tradeRequest()));
    const elapsed = Date.now() - started;
    expect(error.kind).toBe('timeout');
    expect(elapsed).toBeGreaterThanOrEqual(390);
    expect(elapsed).toBeLessThan(3000);
    expect(standIn.requests).toHaveLength(2);
    expect(sink.calls.map((c) => c.status)).toEqual(['timeout', 'timeout']);
  });

  it('times out a server that sends headers and then stalls the body', async () => {
    const { sink, client } = await setup([reply.stallAfterHeaders(), reply.json(GOOD_TRADE)], {
      config: { timeouts: { call_seconds: 0.2, research_seconds: 5, poll_seconds: 0.02 } },
    });
    expect((await client.complete(tradeRequest())).value).toEqual(GOOD_TRADE);
    expect(sink.calls.map((c) => c.status)).toEqual(['timeout', 'ok']);
  });

  it('waits for a slow answer within the timeout and records its latency', async () => {
    const { client } = await setup([reply.delay(150, reply.json(GOOD_TRADE))]);
    const result = await client.complete(tradeRequest());
    expect(result.calls[0]!.latency_ms).toBeGreaterThanOrEqual(140);
  });

  it('delays answers per model id when asked (per-seat latencies for the benchmark)', async () => {
    const { client } = await setup((req) => reply.json(GOOD_TRADE, { model: req.chat?.model ?? '' }), {
      standIn: { delayByModel: { 'slow/model': 200 } },
    });
    const [slow, fast] = await Promise.all([
      client.complete(tradeRequest({ model: 'slow/model' })),
      client.complete(tradeRequest({ model: 'fast/model' })),
    ]);
    expect(slow.calls[0]!.latency_ms).toBeGreaterThanOrEqual(190);
    expect(fast.calls[0]!.latency_ms).toBeLessThan(150);
  });

  it('retries a dropped connection as a network error', async () => {
    const { sink, client } = await setup([reply.drop(), reply.json(GOOD_TRADE)]);
    expect((await client.complete(tradeRequest())).value).toEqual(GOOD_TRADE);
    expect(sink.calls.map((c) => c.status)).toEqual(['network_error', 'ok']);
  });

  it('moves to the fallback model after the primary exhausts its retries', async () => {
    const { standIn, client } = await setup((req) => (req.chat?.model === 'openai/gpt-5.1' ? reply.status(503) : reply.json(GOOD_TRADE)));
    const result = await client.complete(tradeRequest({ fallbackModels: ['anthropic/claude-sonnet-4.5'] }));
    expect(result.model).toBe('anthropic/claude-sonnet-4.5');
    expect(standIn.requests.map((r) => r.chat!.model)).toEqual([
      'openai/gpt-5.1',
      'openai/gpt-5.1',
      'openai/gpt-5.1',
      'anthropic/claude-sonnet-4.5',
    ]);
    expect(result.calls.map((c) => `${c.model}:${c.status}`)).toEqual([
      'openai/gpt-5.1:http_error',
      'openai/gpt-5.1:http_error',
      'openai/gpt-5.1:http_error',
      'anthropic/claude-sonnet-4.5:ok',
    ]);
  });

  it('names every model tried when all fail, and skips fallbacks after an auth failure', async () => {
    const { client } = await setup((req) => (req.chat?.model === 'a/one' ? reply.status(404) : reply.text('no json here')), {
      config: { max_repairs: 0 },
    });
    const error = await seatErrorOf(client.complete(tradeRequest({ model: 'a/one', fallbackModels: ['b/two'] })));
    expect(error.reason).toMatch(/^a\/one: HTTP 404 .*; then b\/two: invalid mini_trade \(no re-ask allowed\): no JSON object found/);

    const auth = await setup([reply.status(401), reply.json(GOOD_TRADE)]);
    const authError = await seatErrorOf(auth.client.complete(tradeRequest({ fallbackModels: ['b/two'] })));
    expect(authError.kind).toBe('http_error');
    expect(auth.standIn.requests).toHaveLength(1);
  });

  it('runs a Perplexity async job: submit, poll to completion, keep citations and the reported cost', async () => {
    const answer = reply.json(GOOD_TRADE, {
      cost: 0.4172,
      costStyle: 'perplexity',
      usage: { prompt_tokens: 900, completion_tokens: 3000, reasoning_tokens: 12000 },
      citations: ['https://www.federalreserve.gov/a', 'https://fred.stlouisfed.org/b'],
      searchResults: [
        { title: 'FRED', url: 'https://fred.stlouisfed.org/b' },
        { title: 'BLS', url: 'https://www.bls.gov/c' },
      ],
    });
    const { standIn, sink, client } = await setup([reply.asyncJob(3, answer)]);
    const result = await client.complete(
      tradeRequest({ provider: 'perplexity', model: 'sonar-deep-research', async: true, seat: 'researcher', stage: 'research' }),
    );
    expect(result.value).toEqual(GOOD_TRADE);
    expect(result.citations).toEqual(['https://www.federalreserve.gov/a', 'https://fred.stlouisfed.org/b', 'https://www.bls.gov/c']);
    expect(result.usage).toMatchObject({ cost_usd: 0.4172, reasoning_tokens: 12000 });

    // Perplexity's documented job API: POST /v1/async/sonar {request: <chat body>}, GET /v1/async/sonar/{id}.
    expect(standIn.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      'POST /perplexity/v1/async/sonar',
      'GET /perplexity/v1/async/sonar/job-1',
      'GET /perplexity/v1/async/sonar/job-1',
      'GET /perplexity/v1/async/sonar/job-1',
    ]);
    expect(Object.keys(standIn.requests[0]!.body as object)).toEqual(['request']);
    expect(standIn.requests[0]!.chat).toMatchObject({ model: 'sonar-deep-research', response_format: { type: 'json_schema' } });
    expect(standIn.requests[1]!.headers.authorization).toBe(`Bearer ${FAKE_KEYS.perplexity}`);
    expect(sink.calls).toHaveLength(1);
    expect(sink.calls[0]).toMatchObject({ status: 'ok', cost_source: 'provider', citations: result.citations });
    expect(sink.calls[0]!.request.params).toMatchObject({ async: true, job_id: 'job-1', async_path: '/v1/async/sonar' });
    expect(sink.calls[0]!.request.params.async_paths_tried).toBeUndefined();
    // The raw record is the final poll: the job object, its completion inside.
    expect(JSON.parse(sink.calls[0]!.response_text!)).toMatchObject({
      id: 'job-1',
      status: 'COMPLETED',
      response: { object: 'chat.completion' },
    });
  });

  it.each([
    ['without /v1', '/perplexity'],
    ['with /v1', '/perplexity/v1'],
    ['with /v1/', '/perplexity/v1/'],
  ])('joins the job API to a base URL given %s without doubling /v1; sync chat stays under the base URL', async (_name, basePath) => {
    const standIn = await startStandIn([reply.asyncJob(1, reply.json(GOOD_TRADE)), reply.json(GOOD_TRADE)]);
    standIns.push(standIn);
    const client = new OpenAiCompatibleClient({
      env: standInEnv(standIn.url, { PERPLEXITY_BASE_URL: `${standIn.url}${basePath}` }),
      config: testLlmConfig(),
    });
    await client.complete(tradeRequest({ provider: 'perplexity', model: 'sonar-deep-research', async: true }));
    await client.complete(tradeRequest({ provider: 'perplexity', model: 'sonar-pro' }));
    const sync = `${basePath.replace(/\/$/, '')}/chat/completions`;
    expect(standIn.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      'POST /perplexity/v1/async/sonar',
      'GET /perplexity/v1/async/sonar/job-1',
      `POST ${sync}`,
    ]);
  });

  it('falls back to the older /async/chat/completions when /v1/async/sonar answers 404, and remembers it', async () => {
    const { standIn, sink, client } = await setup([reply.asyncJob(1, reply.json(GOOD_TRADE)), reply.asyncJob(1, reply.json(GOOD_TRADE))], {
      standIn: { asyncRoutes: ['legacy'] },
    });
    const request = tradeRequest({ provider: 'perplexity', model: 'sonar-deep-research', async: true });
    expect((await client.complete(request)).value).toEqual(GOOD_TRADE);
    expect(standIn.requests.map((r) => `${r.method} ${r.path} ${r.kind}`)).toEqual([
      'POST /perplexity/v1/async/sonar other',
      'POST /perplexity/async/chat/completions async_submit',
      'GET /perplexity/async/chat/completions/job-1 async_poll',
    ]);
    expect(sink.calls).toHaveLength(1);
    expect(sink.calls[0]!.request.params).toMatchObject({
      job_id: 'job-1',
      async_path: '/async/chat/completions',
      async_paths_tried: ['/v1/async/sonar', '/async/chat/completions'],
    });

    // A later job (another client, same process and API root) goes straight to the path that worked.
    const again = new OpenAiCompatibleClient({ env: standInEnv(standIn.url), config: testLlmConfig(), sink });
    await again.complete(tradeRequest({ ...request, weekId: '2024-03-13' }));
    expect(standIn.requests.slice(3).map((r) => `${r.method} ${r.path}`)).toEqual([
      'POST /perplexity/async/chat/completions',
      'GET /perplexity/async/chat/completions/job-2',
    ]);
    expect(sink.calls[1]!.request.params).toMatchObject({ job_id: 'job-2', async_path: '/async/chat/completions' });
    expect(sink.calls[1]!.request.params.async_paths_tried).toBeUndefined();
  });

  it('fails clearly, without retrying, when neither job API path exists', async () => {
    const { standIn, sink, client } = await setup([reply.asyncJob(1, reply.json(GOOD_TRADE))], { standIn: { asyncRoutes: [] } });
    const error = await seatErrorOf(client.complete(tradeRequest({ provider: 'perplexity', model: 'sonar-deep-research', async: true })));
    expect(error.kind).toBe('http_error');
    expect(error.reason).toMatch(
      /the async job API answered 404 at \/v1\/async\/sonar and at \/async\/chat\/completions under http:\/\/127\.0\.0\.1:\d+\/perplexity: check PERPLEXITY_BASE_URL/,
    );
    expect(standIn.requests.map((r) => `${r.method} ${r.path}`)).toEqual([
      'POST /perplexity/v1/async/sonar',
      'POST /perplexity/async/chat/completions',
    ]);
    expect(sink.calls.map((c) => [c.status, c.http_status])).toEqual([['http_error', 404]]);
    expect(sink.calls[0]!.request.params).toMatchObject({ async_paths_tried: ['/v1/async/sonar', '/async/chat/completions'] });
  });

  it('reads sonar-deep-research answers past their <think> block, and re-asks when the reasoning never ends', async () => {
    const draft = JSON.stringify({ ticker: 'SPY', direction: 'SHORT', conviction: -1, reason: 'draft' });
    const reasoned = `<think>\nSearching… {maybe ${draft}\n\`\`\`json\n${draft}\n\`\`\`\n</think>\n${JSON.stringify(GOOD_TRADE)}`;
    const unfinished = `<think>\nSearching… ${JSON.stringify(GOOD_TRADE)} — let me double-check`;
    const { standIn, sink, client } = await setup([
      reply.asyncJob(1, reply.text(reasoned)),
      reply.asyncJob(1, reply.text(unfinished)),
      reply.asyncJob(1, reply.text(reasoned)),
    ]);
    const request = tradeRequest({ provider: 'perplexity', model: 'sonar-deep-research', async: true });
    const first = await client.complete(request);
    expect(first.value).toEqual(GOOD_TRADE);
    expect(first.raw).toBe(reasoned);

    const second = await client.complete({ ...request, weekId: '2024-03-13' });
    expect(second.value).toEqual(GOOD_TRADE);
    expect(sink.calls.map((c) => c.status)).toEqual(['ok', 'invalid_output', 'ok']);
    expect(sink.calls[1]!.error).toMatch(/ends inside its <think> reasoning block/);
    expect(standIn.chatRequests()[2]!.chat!.messages!.at(-1)!.content).toMatch(/^Your previous answer is not a valid mini_trade object/);
  });

  it('polls a running async job until it completes, and returns within a poll interval of completion', async () => {
    const { standIn, client } = await setup([reply.asyncJobFor(200, reply.json(GOOD_TRADE))]);
    const started = Date.now();
    const result = await client.complete(tradeRequest({ provider: 'perplexity', model: 'sonar-deep-research', async: true }));
    const elapsed = Date.now() - started;
    expect(result.value).toEqual(GOOD_TRADE);
    expect(elapsed).toBeGreaterThanOrEqual(200);
    // poll_seconds is 0.02 in the test config; generous slack for a loaded CI machine.
    expect(elapsed).toBeLessThan(200 + 250);
    const polls = standIn.requests.filter((r) => r.kind === 'async_poll');
    expect(polls.length).toBeGreaterThan(3);
    expect(standIn.chatRequests()).toHaveLength(1);
  });

  it('keeps polling through a few polls that answer something other than a job, instead of paying for a second job', async () => {
    const { standIn, sink, client } = await setup([reply.asyncJob(3, reply.json(GOOD_TRADE))], { standIn: { malformedPolls: 2 } });
    const result = await client.complete(tradeRequest({ provider: 'perplexity', model: 'sonar-deep-research', async: true }));
    expect(result.value).toEqual(GOOD_TRADE);
    expect(standIn.chatRequests()).toHaveLength(1);
    expect(standIn.requests.filter((r) => r.kind === 'async_poll')).toHaveLength(3);
    expect(sink.calls.map((c) => c.status)).toEqual(['ok']);
  });

  it('resubmits a FAILED async job, and gives up at the job deadline without resubmitting', async () => {
    const { standIn, client } = await setup([reply.asyncJob(1, reply.status(500)), reply.asyncJob(2, reply.json(GOOD_TRADE))]);
    const result = await client.complete(tradeRequest({ provider: 'perplexity', model: 'sonar-deep-research', async: true }));
    expect(result.value).toEqual(GOOD_TRADE);
    expect(result.calls.map((c) => c.status)).toEqual(['http_error', 'ok']);
    expect(result.calls[0]!.error).toMatch(/async job job-1 failed/);
    expect(standIn.chatRequests()).toHaveLength(2);

    const slow = await setup([reply.asyncJob(10_000, reply.json(GOOD_TRADE)), reply.json(GOOD_TRADE)]);
    const error = await seatErrorOf(
      slow.client.complete(tradeRequest({ provider: 'perplexity', model: 'sonar-deep-research', async: true, timeoutSeconds: 0.3 })),
    );
    expect(error.kind).toBe('timeout');
    expect(error.reason).toMatch(/async job job-1 did not complete within/);
    expect(slow.standIn.chatRequests()).toHaveLength(1);
  });

  it('stops at once when the caller aborts (stage deadline), without retrying', async () => {
    const { standIn, client } = await setup([reply.hang(), reply.json(GOOD_TRADE)]);
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('stage deadline')), 100);
    const started = Date.now();
    const error = await seatErrorOf(client.complete(tradeRequest({ signal: controller.signal })));
    expect(error.kind).toBe('aborted');
    expect(error.reason).toMatch(/stage deadline/);
    expect(Date.now() - started).toBeLessThan(1500);
    expect(standIn.requests).toHaveLength(1);
  });
});

describe('structured output names on the wire', () => {
  it('the stand-in refuses a name Perplexity refuses, in its 400 (chat) and 422 (async submit) shapes', async () => {
    const standIn = await startStandIn([reply.json(GOOD_TRADE)]);
    standIns.push(standIn);
    const chat = {
      model: 'sonar-pro',
      messages: [{ role: 'user', content: 'x' }],
      response_format: { type: 'json_schema', json_schema: { name: 'mini_trade', schema: { type: 'object' } } },
    };
    const post = (path: string, body: unknown) =>
      fetch(`${standIn.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const refused = await post('/perplexity/chat/completions', chat);
    expect(refused.status).toBe(400);
    expect(await refused.json()).toEqual({
      error: {
        message: expect.stringMatching(/json_schema -> name: String should match pattern/),
        type: 'bad_request',
        code: 400,
      },
    });
    const refusedJob = await post('/perplexity/v1/async/sonar', { request: chat });
    expect(refusedJob.status).toBe(422);
    expect(await refusedJob.json()).toMatchObject({ detail: [{ loc: ['body', 'request', 'response_format', 'json_schema', 'name'] }] });
    expect(standIn.chatRequests()).toHaveLength(2); // refused before the script: the one scripted reply is still there
    const accepted = await post('/perplexity/chat/completions', {
      ...chat,
      response_format: { ...chat.response_format, json_schema: { name: 'miniTrade', schema: {} } },
    });
    expect(accepted.status).toBe(200);
  });

  it.each([
    ['perplexity', false],
    ['perplexity', true],
    ['openrouter', false],
    ['requesty', false],
    ['gemini', false],
  ] as const)('sends a name %s accepts (async: %s) for every schema of the council', async (provider, async) => {
    const names = ['research_pack', 'pm_pitch_with_ranking', 'peer_review_ranking_vs_choice', 'chairman_decision', 'checkpoint_update'];
    const answer = async ? reply.asyncJob(1, reply.json(GOOD_TRADE)) : reply.json(GOOD_TRADE);
    const { standIn, client } = await setup(names.map(() => answer));
    for (const name of names) {
      const result = await client.complete(tradeRequest({ provider, model: 'm', async, output: { ...TRADE_OUTPUT, name } }));
      expect(result.value).toEqual(GOOD_TRADE);
    }
    expect(standIn.chatRequests().map((r) => r.chat!.response_format!.json_schema!.name)).toEqual([
      'researchPack',
      'pmPitchWithRanking',
      'peerReviewRankingVsChoice',
      'chairmanDecision',
      'checkpointUpdate',
    ]);
  });
});

describe('providers on the wire', () => {
  it('sends Requesty model ids as given, with its key, no OpenRouter extras, and prices from the table', async () => {
    const { standIn, client } = await setup([
      reply.json(GOOD_TRADE, { usage: { prompt_tokens: 1000, completion_tokens: 500, cached_tokens: 0 } }),
    ]);
    const result = await client.complete(tradeRequest({ provider: 'requesty', model: 'anthropic/claude-sonnet-4-5' }));
    const [req] = standIn.requests;
    expect(req!.path).toBe('/v1/chat/completions');
    expect(req!.chat!.model).toBe('anthropic/claude-sonnet-4-5');
    expect(req!.headers.authorization).toBe(`Bearer ${FAKE_KEYS.requesty}`);
    expect(req!.headers['x-title']).toBeUndefined();
    expect(req!.chat!.usage).toBeUndefined();
    expect(result.calls[0]!.cost_source).toBe('price_table');
    expect(result.usage.cost_usd).toBeCloseTo((1000 * 3 + 500 * 15) / 1e6, 12);
  });

  it('uses JSON mode plus the schema in the system prompt for a json_object server, and a fenced-block instruction in prompt mode', async () => {
    const providers = (url: string) => ({
      ollama: { base_url: `${url}/ollama/v1`, json_mode: 'json_object' },
      lmstudio: { base_url: `${url}/lmstudio/v1`, json_mode: 'prompt' },
    });
    const standIn = await startStandIn([reply.json(GOOD_TRADE), reply.fenced(GOOD_TRADE)]);
    standIns.push(standIn);
    const client = new OpenAiCompatibleClient({
      env: standInEnv(standIn.url),
      config: testLlmConfig({ providers: providers(standIn.url) }),
    });
    await client.complete(tradeRequest({ provider: 'ollama', model: 'qwen2.5:14b' }));
    await client.complete(tradeRequest({ provider: 'lmstudio', model: 'local-model' }));
    const [ollama, lmstudio] = standIn.requests;
    expect(ollama!.path).toBe('/ollama/v1/chat/completions');
    expect(ollama!.chat!.response_format).toEqual({ type: 'json_object' });
    expect(ollama!.chat!.messages![0]!.content).toMatch(
      /^You are a macro portfolio manager\. Answer in JSON\.\n\nAnswer as a single JSON object that conforms to the JSON Schema "mini_trade"/,
    );
    expect(ollama!.chat!.messages![0]!.content).toContain('"conviction"');
    expect(lmstudio!.chat!.response_format).toBeUndefined();
    expect(lmstudio!.chat!.messages![0]!.content).toMatch(/in a single ```json fenced block/);
  });

  it("never forwards the user's OpenAI account settings (OPENAI_ORG_ID, OPENAI_PROJECT_ID) to a router", async () => {
    const saved = { org: process.env.OPENAI_ORG_ID, project: process.env.OPENAI_PROJECT_ID };
    process.env.OPENAI_ORG_ID = 'org-should-not-leak';
    process.env.OPENAI_PROJECT_ID = 'proj-should-not-leak';
    try {
      const { standIn, client } = await setup([reply.json(GOOD_TRADE)]);
      await client.complete(tradeRequest());
      expect(JSON.stringify(standIn.requests[0]!.headers)).not.toMatch(/should-not-leak/);
    } finally {
      for (const [name, value] of [['OPENAI_ORG_ID', saved.org] as const, ['OPENAI_PROJECT_ID', saved.project] as const]) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
    }
  });

  it('fails the seat without a request when the provider is unknown or its key is missing', async () => {
    const standIn = await startStandIn([reply.json(GOOD_TRADE)]);
    standIns.push(standIn);
    const client = new OpenAiCompatibleClient({ env: parseEnv({ PERPLEXITY_BASE_URL: standIn.url }), config: testLlmConfig() });
    const missing = await seatErrorOf(client.complete(tradeRequest({ provider: 'perplexity', model: 'sonar-deep-research' })));
    expect(missing).toMatchObject({ kind: 'missing_key' });
    expect(missing.reason).toMatch(/set PERPLEXITY_API_KEY/);
    const unknown = await seatErrorOf(client.complete(tradeRequest({ provider: 'anthropic-direct' })));
    expect(unknown.reason).toMatch(/unknown provider "anthropic-direct" \(known: requesty, openrouter, perplexity, gemini\)/);
    expect(standIn.requests).toHaveLength(0);
  });
});

describe('budget', () => {
  it('refuses a call that would pass the cap before sending it', async () => {
    const { standIn, sink, client } = await setup([reply.json(GOOD_TRADE)], { client: { budget: new RunBudget(0.001) } });
    // 800 max tokens × $10 / M = $0.008 > $0.001
    await expect(client.complete(tradeRequest())).rejects.toThrow(BudgetExceededError);
    expect(standIn.requests).toHaveLength(0);
    expect(sink.calls.map((c) => c.status)).toEqual(['budget_exceeded']);
  });

  it('counts actual reported costs and stops the run when the next estimate no longer fits', async () => {
    // The next call's estimate is ≈ $0.008 (800 max tokens × $10/M, plus the short prompt).
    const budget = new RunBudget(0.295);
    const { standIn, client } = await setup([reply.json(GOOD_TRADE, { cost: 0.29 }), reply.json(GOOD_TRADE, { cost: 0.01 })], {
      client: { budget },
    });
    await client.complete(tradeRequest());
    expect(budget.spentUsd).toBeCloseTo(0.29, 12);
    await expect(client.complete(tradeRequest({ seat: 'gemini' }))).rejects.toThrow(
      /budget of \$0\.295 per run would be exceeded by gemini's call to openrouter\/openai\/gpt-5\.1/,
    );
    expect(standIn.requests).toHaveLength(1);
  });
});

describe("a backtest's budget", () => {
  it('holds with the run budget: refuses unsent what would pass the backtest cap, and never refuses a cached answer', async () => {
    const cache = new MemoryLlmResponseCache();
    // $0.01 already recorded in the backtest's portfolio; each call's estimate is ≈ $0.008 (800 max tokens × $10/M).
    const backtestBudget = new BacktestBudget(0.02, 'bt-test', async () => 0.01);
    const { standIn, sink, client } = await setup([reply.json(GOOD_TRADE, { cost: 0.006 }), reply.json(GOOD_TRADE, { cost: 0.006 })], {
      client: { cache, cacheOverride: 'use', backtestBudget, budget: new RunBudget(1) },
    });
    await client.complete(tradeRequest());
    expect(await backtestBudget.spentUsd()).toBeCloseTo(0.016, 12);
    const refused = client.complete(tradeRequest({ seat: 'gemini', temperature: 0.2 }));
    await expect(refused).rejects.toThrow(BacktestBudgetExceededError);
    await expect(refused).rejects.toThrow(
      /^LLM budget of \$0\.02 for this backtest would be exceeded by gemini's call to openrouter\/openai\/gpt-5\.1: \$0\.016 spent in portfolio bt-test \+ an estimated \$0\.008\d* for this call; nothing was sent\. Raise it with --budget-usd/,
    );
    expect(standIn.requests).toHaveLength(1);
    expect(sink.calls.map((c) => c.status)).toEqual(['ok', 'budget_exceeded']);
    expect(backtestBudget.refusal).toBeInstanceOf(BacktestBudgetExceededError);
    // The cached answer costs nothing and is served past the cap.
    expect((await client.complete(tradeRequest())).cached).toBe(true);
    expect(standIn.requests).toHaveLength(1);

    // The run budget still holds on its own: a backtest cap with room does not lift it.
    const tight = await setup([reply.json(GOOD_TRADE)], {
      client: { backtestBudget: new BacktestBudget(10, 'bt-test', async () => 0), budget: new RunBudget(0.001) },
    });
    await expect(tight.client.complete(tradeRequest())).rejects.toThrow(/per run would be exceeded/);
    expect(tight.standIn.requests).toHaveLength(0);
  });
});

/** Keeps the keys of every read. */
class ReadCountingCache extends MemoryLlmResponseCache {
  readonly reads: string[][] = [];
  override async getMany(keys: readonly string[]) {
    this.reads.push([...keys]);
    return super.getMany(keys);
  }
}

describe('response cache (in memory)', () => {
  it('answers a repeated request from the cache with zero requests and zero cost', async () => {
    const cache = new MemoryLlmResponseCache();
    const { standIn, sink, client } = await setup([reply.json(GOOD_TRADE, { cost: 0.02 })], { client: { cache } });
    await client.complete(tradeRequest());
    const again = await client.complete(tradeRequest());
    expect(again).toMatchObject({ value: GOOD_TRADE, cached: true, model: 'openai/gpt-5.1' });
    expect(again.usage).toMatchObject({ calls: 0, cost_usd: 0 });
    expect(standIn.requests).toHaveLength(1);
    expect(sink.calls.map((c) => c.status)).toEqual(['ok', 'cache_hit']);
    expect(sink.calls[1]).toMatchObject({ cost_source: 'none', http_status: null, cache_key: sink.calls[0]!.cache_key });
  });

  it('keys on every parameter that shapes the answer', async () => {
    const cache = new MemoryLlmResponseCache();
    const { standIn, client } = await setup(
      [reply.json(GOOD_TRADE), reply.json(GOOD_TRADE), reply.json(GOOD_TRADE), reply.json(GOOD_TRADE)],
      { client: { cache } },
    );
    await client.complete(tradeRequest());
    await client.complete(tradeRequest({ temperature: 0.2 }));
    await client.complete(tradeRequest({ maxTokens: 801 }));
    await client.complete(tradeRequest({ messages: [{ role: 'user', content: 'Pick one trade for the week of 2024-03-13.' }] }));
    expect(standIn.requests).toHaveLength(4);
    expect(cache.entries.size).toBe(4);
  });

  it('bypass (--no-cache) never reads but still writes; off neither reads nor writes; an invalid answer is never the answer', async () => {
    const cache = new MemoryLlmResponseCache();
    const bypass = await setup([reply.json(GOOD_TRADE), reply.json(GOOD_TRADE)], { client: { cache, cacheOverride: 'bypass' } });
    await bypass.client.complete(tradeRequest());
    await bypass.client.complete(tradeRequest());
    expect(bypass.standIn.requests).toHaveLength(2);
    expect(cache.entries.size).toBe(1);

    const offCache = new MemoryLlmResponseCache();
    const off = await setup([reply.json(GOOD_TRADE)], { client: { cache: offCache }, config: { cache: { live: 'off' } } });
    await off.client.complete(tradeRequest());
    expect(offCache.entries.size).toBe(0);

    // Invalid answers are kept exchange by exchange (value null), never as the request's answer: a live
    // re-run of the same request asks again.
    const invalidCache = new MemoryLlmResponseCache();
    const invalid = await setup([reply.text('nope'), reply.text('nope'), reply.text('nope'), reply.json(GOOD_TRADE)], {
      client: { cache: invalidCache },
    });
    await seatErrorOf(invalid.client.complete(tradeRequest()));
    expect([...invalidCache.entries.values()].map((e) => [e.raw, e.value])).toEqual([
      ['nope', null],
      ['nope', null],
      ['nope', null],
    ]);
    expect((await invalid.client.complete(tradeRequest())).value).toEqual(GOOD_TRADE);
    expect(invalid.standIn.requests).toHaveLength(4);
  });

  it('replays (override use) the invalid answers of an earlier run: the same failure, the same re-asks, no request', async () => {
    const cache = new ReadCountingCache();
    const first = await setup([reply.text('nope'), reply.json({ ...GOOD_TRADE, conviction: 0 }), reply.text('still nope')], {
      client: { cache, cacheOverride: 'use' },
    });
    const failed = await seatErrorOf(first.client.complete(tradeRequest()));
    // A miss reads the request's key and its first exchange's at once: one read, not two.
    expect(cache.reads.map((keys) => keys.length)).toEqual([2, 1, 1]);
    cache.reads.length = 0;
    const replay = await setup([], { client: { cache, cacheOverride: 'use' } });
    const again = await seatErrorOf(replay.client.complete(tradeRequest()));
    expect(replay.standIn.requests).toHaveLength(0);
    expect(cache.reads.map((keys) => keys.length)).toEqual([2, 1, 1]);
    expect(again.reason).toBe(failed.reason);
    expect(replay.sink.calls.map((c) => [c.status, c.http_status, c.usage.cost_usd])).toEqual([
      ['cache_hit', null, 0],
      ['cache_hit', null, 0],
      ['cache_hit', null, 0],
    ]);
    // Each replayed exchange carries the same conversation as the one that was sent (re-asks included).
    expect(replay.sink.calls.map((c) => c.request.messages)).toEqual(first.standIn.requests.map((r) => r.chat!.messages));
  });

  it('replays (override use) read the cache even when live runs are configured write_only', async () => {
    const cache = new MemoryLlmResponseCache();
    const live = await setup([reply.json(GOOD_TRADE)], { client: { cache }, config: { cache: { live: 'write_only' } } });
    await live.client.complete(tradeRequest());
    const replay = await setup([], { client: { cache, cacheOverride: 'use' }, config: { cache: { live: 'write_only' } } });
    expect((await replay.client.complete(tradeRequest())).cached).toBe(true);
    expect(replay.standIn.requests).toHaveLength(0);
  });
});

describe('redaction', () => {
  it('keeps the key out of thrown messages and call records when the server echoes the Authorization header', async () => {
    const { standIn, sink, client } = await setup([reply.echoAuthorization(401)]);
    const error = await seatErrorOf(client.complete(tradeRequest()));
    expect(standIn.requests[0]!.headers.authorization).toBe(`Bearer ${FAKE_KEYS.openrouter}`);
    expect(error.reason).toMatch(/invalid credentials: Bearer \[REDACTED\]/);
    const everything = [error.message, error.reason, String(error.stack), JSON.stringify(error.calls), JSON.stringify(sink.calls)].join(
      '\n',
    );
    for (const key of Object.values(FAKE_KEYS)) expect(everything).not.toContain(key);
  });
});

describe('credentials in a base URL, against the stand-in', () => {
  const PASSWORD = 'Pa55:w0rd@proxy!';
  const encoded = encodeURIComponent(PASSWORD);
  const basic = `Basic ${Buffer.from(`gate-user:${PASSWORD}`).toString('base64')}`;
  const withUserinfo = (url: string, path: string) => `${url.replace('http://', `http://gate-user:${encoded}@`)}${path}`;

  it('sends them as HTTP Basic auth to a URL without them, and keeps them out of every record, result and error', async () => {
    // The proxy echoes what it was sent, and the model repeats the password: all of it must be redacted.
    const echo = reply.dynamic((req) =>
      reply.status(401, {
        body: { error: { message: `denied: ${req.headers.authorization ?? ''} = gate-user:${PASSWORD}`, code: 401 } },
      }),
    );
    const standIn = await startStandIn([reply.json({ ...GOOD_TRADE, reason: `the proxy password is ${PASSWORD}` }), echo]);
    standIns.push(standIn);
    const sink = new MemoryLlmCallSink();
    const env = standInEnv(standIn.url, { REQUESTY_API_KEY: '', REQUESTY_BASE_URL: withUserinfo(standIn.url, '/v1') });
    const proxied = new OpenAiCompatibleClient({ env, config: testLlmConfig(), sink });

    const result = await proxied.complete(tradeRequest({ provider: 'requesty', model: 'anthropic/claude-sonnet-4-5' }));
    const [req] = standIn.requests;
    expect(req!.path).toBe('/v1/chat/completions');
    expect(req!.headers.authorization).toBe(basic);
    expect(req!.headers.host).toBe(new URL(standIn.url).host);
    expect(result.value.reason).toBe('the proxy password is [REDACTED]');

    const error = await seatErrorOf(
      proxied.complete(tradeRequest({ provider: 'requesty', model: 'anthropic/claude-sonnet-4-5', weekId: '2024-03-13' })),
    );
    expect(error.reason).toMatch(/denied: Basic \[REDACTED\] = \[REDACTED\]/);
    expect(standIn.requests).toHaveLength(2);

    const everything = [
      JSON.stringify(result),
      JSON.stringify(sink.calls),
      error.message,
      String(error.stack),
      JSON.stringify(error.calls),
      JSON.stringify(describeProviders(env, testLlmConfig(), {})),
    ].join('\n');
    for (const secret of [PASSWORD, encoded, `gate-user:${PASSWORD}`, basic.slice('Basic '.length)])
      expect(everything).not.toContain(secret);
    // What callers redact their own artifacts with (secretsOf, secretValues) knows them too.
    expect(proxied.secretValues).toEqual(expect.arrayContaining([PASSWORD, `gate-user:${PASSWORD}`]));
  });

  it('authenticates a custom provider and a Perplexity async job the same way', async () => {
    const standIn = await startStandIn([reply.json(GOOD_TRADE), reply.asyncJob(2, reply.json(GOOD_TRADE))]);
    standIns.push(standIn);
    const sink = new MemoryLlmCallSink();
    const client = new OpenAiCompatibleClient({
      env: standInEnv(standIn.url, { PERPLEXITY_API_KEY: '', PERPLEXITY_BASE_URL: withUserinfo(standIn.url, '/perplexity') }),
      config: testLlmConfig({ providers: { gateway: { base_url: withUserinfo(standIn.url, '/gw/v1'), api_key_env: 'GATEWAY_API_KEY' } } }),
      processEnv: {},
      sink,
    });
    await client.complete(tradeRequest({ provider: 'gateway', model: 'local' }));
    await client.complete(tradeRequest({ provider: 'perplexity', model: 'sonar-deep-research', async: true }));
    expect(standIn.requests.map((r) => `${r.method} ${r.path} ${r.headers.authorization}`)).toEqual([
      `POST /gw/v1/chat/completions ${basic}`,
      `POST /perplexity/v1/async/sonar ${basic}`,
      `GET /perplexity/v1/async/sonar/job-1 ${basic}`,
      `GET /perplexity/v1/async/sonar/job-1 ${basic}`,
    ]);
    expect(JSON.stringify(sink.calls)).not.toContain(PASSWORD);
  });

  it('refuses a provider with both a base-URL password and an API key before any request', async () => {
    const standIn = await startStandIn([reply.json(GOOD_TRADE)]);
    standIns.push(standIn);
    const env = standInEnv(standIn.url, { OPENROUTER_BASE_URL: withUserinfo(standIn.url, '/api/v1') });
    const build = () => new OpenAiCompatibleClient({ env, config: testLlmConfig() });
    expect(build).toThrow(ConfigError);
    expect(build).toThrow(/^OPENROUTER_BASE_URL has a user name and password and OPENROUTER_API_KEY is set too/);
    expect(() => createLlmClient({ env, config: testLlmConfig() })).toThrow(/OPENROUTER_API_KEY/);
    expect(standIn.requests).toHaveLength(0);
  });
});
