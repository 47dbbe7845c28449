/**
 * A scripted, in-memory LlmClient for agent tests. It records every request and answers from a queue;
 * like the real client it validates the answer with the request's schema and check, and throws with
 * the problems when they fail, so tests exercise the seat's rules end to end without a network.
 */
import type { LlmClient, LlmRequest, LlmResult, LlmUsage } from '../../ports/llm.js';

export interface ScriptedAnswer {
  value: unknown;
  /** The model that "answered"; default: the request's model. */
  model?: string;
  usage?: Partial<LlmUsage>;
  citations?: string[];
}

export const SAMPLE_USAGE: LlmUsage = {
  calls: 2,
  prompt_tokens: 4210,
  completion_tokens: 1830,
  reasoning_tokens: 600,
  cached_tokens: 1900,
  cost_usd: 0.0421,
};

export class FakeLlmClient implements LlmClient {
  readonly requests: LlmRequest<unknown>[] = [];
  private readonly queue: (ScriptedAnswer | Error)[];

  constructor(...answers: (ScriptedAnswer | Error)[]) {
    this.queue = answers;
  }

  async complete<T>(request: LlmRequest<T>): Promise<LlmResult<T>> {
    this.requests.push(request as LlmRequest<unknown>);
    const next = this.queue.shift();
    if (next === undefined) throw new Error('FakeLlmClient: no scripted answer left');
    if (next instanceof Error) throw next;
    const parsed = request.output.schema.safeParse(next.value);
    if (!parsed.success) throw new Error(`invalid ${request.output.name}: ${parsed.error.issues.map((i) => i.message).join('; ')}`);
    const problems = request.output.check?.(parsed.data) ?? [];
    if (problems.length > 0) throw new Error(`invalid ${request.output.name}: ${problems.join('; ')}`);
    return {
      value: parsed.data,
      raw: JSON.stringify(next.value),
      provider: request.provider,
      model: next.model ?? request.model,
      usage: { ...SAMPLE_USAGE, ...next.usage },
      citations: next.citations ?? [],
      calls: [],
    };
  }

  /** The last request, for assertions. */
  last(): LlmRequest<unknown> {
    const request = this.requests.at(-1);
    if (!request) throw new Error('FakeLlmClient: no request recorded');
    return request;
  }
}
