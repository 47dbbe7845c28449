import { Agent, getGlobalDispatcher, setGlobalDispatcher, type Dispatcher } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OpenAiCompatibleClient } from '../../src/llm/openai-compatible-client.js';
import { MemoryLlmCallSink } from '../../src/llm/call-audit.js';
import { reply, startStandIn, type StandIn } from '../helpers/llm-stand-in.js';
import { GOOD_TRADE, standInEnv, testLlmConfig, tradeRequest } from './fixtures.js';

/**
 * Node's fetch stops waiting for response headers after 300 s by default, below the deadlines a
 * deep-research or long-thinking call may be given. Scaled down: the global dispatcher here gives up after
 * 200 ms (undici checks its timers about once a second), and a provider that answers after 1.8 s must
 * still be heard, within our own timeout.
 */
describe('provider calls outlive the fetch transport timeouts', () => {
  let standIn: StandIn;
  let previous: Dispatcher;
  beforeAll(async () => {
    standIn = await startStandIn(() => reply.delay(1800, reply.json(GOOD_TRADE)));
    previous = getGlobalDispatcher();
    setGlobalDispatcher(new Agent({ headersTimeout: 200, bodyTimeout: 200 }));
  });
  afterAll(async () => {
    setGlobalDispatcher(previous);
    await standIn.close();
  });

  it('a plain fetch gives up at the transport timeout; the client waits for the answer', async () => {
    const plain = await fetch(`${standIn.url}/v1/chat/completions`, { method: 'POST', body: '{}' }).catch((e: unknown) => e);
    expect(plain).toBeInstanceOf(TypeError);
    expect((plain as TypeError & { cause?: { code?: string } }).cause?.code).toBe('UND_ERR_HEADERS_TIMEOUT');

    const sink = new MemoryLlmCallSink();
    const client = new OpenAiCompatibleClient({ env: standInEnv(standIn.url), config: testLlmConfig(), sink });
    const started = Date.now();
    const result = await client.complete(tradeRequest());
    expect(result.value).toEqual(GOOD_TRADE);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1800);
    expect(sink.calls.map((c) => c.status)).toEqual(['ok']);
  });
});
