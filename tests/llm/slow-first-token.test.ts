import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_CONFIG_DIR } from '../../src/config/app-config.js';
import { MemoryLlmCallSink } from '../../src/llm/call-audit.js';
import { loadLlmConfig } from '../../src/llm/llm-config.js';
import { OpenAiCompatibleClient } from '../../src/llm/openai-compatible-client.js';
import { reply, startStandIn, type Reply, type StandIn } from '../helpers/llm-stand-in.js';
import { GOOD_TRADE, standInEnv, testLlmConfig, tradeRequest } from './fixtures.js';

/**
 * Perplexity: "The first request with a new JSON Schema expects to incur delay on the first token.
 * Typically, it takes 10 to 30 seconds to prepare the new schema". Such a call is slow, not failed: it
 * must be answered within the shipped timeouts of config/llm.yaml, once, without a retry.
 *
 * Time is scaled down: 1 s of real time is 2 ms here, and the timeouts are the shipped ones at the
 * same scale (call_seconds 120 → 240 ms). Lowering them below the first-token delay fails this test.
 */
const SCALE = 1 / 500;
const shipped = loadLlmConfig(DEFAULT_CONFIG_DIR);
const scaled = (seconds: number) => seconds * SCALE;
const config = testLlmConfig({
  timeouts: {
    call_seconds: scaled(shipped.timeouts.call_seconds),
    research_seconds: scaled(shipped.timeouts.research_seconds),
    poll_seconds: scaled(shipped.timeouts.poll_seconds),
  },
  retries: { max_attempts: shipped.retries.max_attempts, base_ms: 1, max_ms: 5, max_retry_after_ms: 10 },
});
const firstTokenMs = (realSeconds: number) => Math.round(realSeconds * 1000 * SCALE);

let standIns: StandIn[] = [];
afterEach(async () => {
  await Promise.all(standIns.map((s) => s.close()));
  standIns = [];
});

async function setup(script: Reply[]) {
  const standIn = await startStandIn(script);
  standIns.push(standIn);
  const sink = new MemoryLlmCallSink();
  const client = new OpenAiCompatibleClient({ env: standInEnv(standIn.url), config, sink });
  return { standIn, sink, client };
}

describe('a slow first token while the provider prepares a new schema', () => {
  it('the shipped timeouts leave room for it', () => {
    expect(shipped.timeouts.call_seconds).toBeGreaterThan(30);
    expect(shipped.timeouts.research_seconds).toBeGreaterThan(30 + shipped.timeouts.call_seconds);
  });

  it.each([10, 30])('a synchronous call whose first token takes %i s is answered once, not retried', async (seconds) => {
    // The second reply would answer a retry at once: it must stay unused.
    const { standIn, sink, client } = await setup([reply.delay(firstTokenMs(seconds), reply.json(GOOD_TRADE)), reply.json(GOOD_TRADE)]);
    const result = await client.complete(tradeRequest({ provider: 'perplexity', model: 'sonar-pro' }));
    expect(result.value).toEqual(GOOD_TRADE);
    expect(standIn.requests).toHaveLength(1);
    expect(sink.calls.map((c) => c.status)).toEqual(['ok']);
    expect(sink.calls[0]!.latency_ms).toBeGreaterThanOrEqual(firstTokenMs(seconds) - 5);
  });

  it.each([10, 30])('an async job whose submit takes %i s and that then runs a minute is submitted once', async (seconds) => {
    const job = reply.delay(firstTokenMs(seconds), reply.asyncJobFor(firstTokenMs(60), reply.json(GOOD_TRADE)));
    const { standIn, sink, client } = await setup([job, reply.asyncJob(1, reply.json(GOOD_TRADE))]);
    const result = await client.complete(tradeRequest({ provider: 'perplexity', model: 'sonar-deep-research', async: true }));
    expect(result.value).toEqual(GOOD_TRADE);
    expect(standIn.chatRequests()).toHaveLength(1);
    expect(standIn.requests.filter((r) => r.kind === 'async_poll').length).toBeGreaterThan(1);
    expect(sink.calls.map((c) => c.status)).toEqual(['ok']);
  });

  it('(the scale is tight enough to matter: a first token later than call_seconds times out and is retried)', async () => {
    const late = Math.round(scaled(shipped.timeouts.call_seconds) * 1000) + 60;
    const { standIn, sink, client } = await setup([reply.delay(late, reply.json(GOOD_TRADE)), reply.json(GOOD_TRADE)]);
    expect((await client.complete(tradeRequest({ provider: 'perplexity', model: 'sonar-pro' }))).value).toEqual(GOOD_TRADE);
    expect(standIn.requests).toHaveLength(2);
    expect(sink.calls.map((c) => c.status)).toEqual(['timeout', 'ok']);
  });
});
