import type { AgentResult, CallOptions } from '../../ports/agents.js';

/** Offline agents make no model calls, so their usage is always zero. */
export const ZERO_USAGE = { calls: 0, prompt_tokens: 0, completion_tokens: 0, cost_usd: 0 } as const;

/** Wrap an offline agent's output the way LLM seats are wrapped; it has no raw answer (see AgentResult.raw). */
export function offlineResult<T>(output: T, model: string): AgentResult<T> {
  return { output, provider: 'offline', model, usage: { ...ZERO_USAGE }, raw: null };
}

/** Offline agents are instant, so honouring the deadline means refusing work already cancelled. */
export function ensureNotAborted(opts: CallOptions): void {
  opts.signal.throwIfAborted();
}
