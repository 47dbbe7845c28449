/**
 * What every LLM-backed seat shares: its configuration, the request it sends through the LlmClient,
 * and how the client's result becomes an AgentResult. The client owns retries, fallbacks, repair and
 * validation; a seat only renders its prompt, states its rules (the `check`) and stamps identities.
 */
import type { AgentResult, CallUsage } from '../../ports/agents.js';
import type { ChatMessage, LlmClient, LlmRequest, LlmResult, LlmUsage, StructuredOutput } from '../../ports/llm.js';

export interface LlmSeatOptions {
  client: LlmClient;
  /** Provider preset name, e.g. 'requesty', 'openrouter', 'perplexity'. */
  provider: string;
  /** The provider's model id for this seat (config/models.yaml). */
  model: string;
  /** Same-provider models tried in order when `model` fails. */
  fallbackModels?: string[];
  temperature: number;
  /** Seat name from config/models.yaml, e.g. 'gpt' or 'researcher'. */
  seat: string;
  /** Prompt templates directory; default: $LLM_TRADING_PROMPTS_DIR, else the packaged config/prompts. */
  promptsDir?: string;
}

export interface SeatCall<T> {
  weekId: string;
  stage: string;
  messages: readonly ChatMessage[];
  output: StructuredOutput<T>;
  signal: AbortSignal;
  async?: boolean;
}

/** Send one structured request on behalf of a seat. Errors propagate: a failed seat stays failed. */
export function completeForSeat<T>(options: LlmSeatOptions, call: SeatCall<T>): Promise<LlmResult<T>> {
  const request: LlmRequest<T> = {
    weekId: call.weekId,
    stage: call.stage,
    seat: options.seat,
    provider: options.provider,
    model: options.model,
    fallbackModels: [...(options.fallbackModels ?? [])],
    messages: call.messages,
    temperature: options.temperature,
    output: call.output,
    signal: call.signal,
  };
  if (call.async !== undefined) request.async = call.async;
  return options.client.complete(request);
}

/** The agent port reports the four totals the pipeline aggregates; reasoning and cached tokens stay in the call records. */
export function toCallUsage(usage: LlmUsage): CallUsage {
  return { calls: usage.calls, prompt_tokens: usage.prompt_tokens, completion_tokens: usage.completion_tokens, cost_usd: usage.cost_usd };
}

/** Wrap the client's result, with the output after the seat stamped its identities on it. */
export function toAgentResult<T>(result: LlmResult<unknown>, output: T): AgentResult<T> {
  return { output, provider: result.provider, model: result.model, usage: toCallUsage(result.usage), raw: result.raw };
}

/** A uniform message for a week_id the model did not copy. */
export function weekIdProblem(actual: string, expected: string): string[] {
  return actual === expected ? [] : [`week_id: expected ${expected}, got ${actual}`];
}
