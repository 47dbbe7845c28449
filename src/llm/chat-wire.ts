import { createHash } from 'node:crypto';
import type { ChatMessage, LlmRequest, StructuredOutput } from '../ports/llm.js';
import { schemaInstruction } from './output-validation.js';
import type { ProviderPreset } from './providers.js';
import { asRecord } from './usage-cost.js';

/**
 * The chat-completion wire format as this client speaks it: the request body per provider preset
 * (structured-output mode, OpenRouter usage accounting) and the fields read back from a completion.
 */

/**
 * When the provider cannot enforce the schema (json_object or prompt mode), the schema goes into the
 * system message — appended to it, so the stable prefix providers cache stays first.
 */
export function withSchemaInstruction<T>(
  messages: readonly ChatMessage[],
  preset: ProviderPreset,
  output: StructuredOutput<T>,
): ChatMessage[] {
  const copy = messages.map((m) => ({ role: m.role, content: m.content }));
  if (preset.jsonMode === 'json_schema') return copy;
  const instruction = schemaInstruction(output.name, output.jsonSchema, preset.jsonMode === 'prompt');
  const system = copy.findIndex((m) => m.role === 'system');
  if (system === -1) return [{ role: 'system', content: instruction }, ...copy];
  copy[system] = { role: 'system', content: `${copy[system]!.content}\n\n${instruction}` };
  return copy;
}

export function chatBody<T>(
  preset: ProviderPreset,
  model: string,
  messages: readonly ChatMessage[],
  request: LlmRequest<T>,
): Record<string, unknown> {
  const body: Record<string, unknown> = { model, messages: messages.map((m) => ({ role: m.role, content: m.content })) };
  if (request.temperature !== undefined) body.temperature = request.temperature;
  if (request.maxTokens !== undefined) body.max_tokens = request.maxTokens;
  if (preset.jsonMode === 'json_schema') {
    // strict: false — strict mode rejects common JSON Schema keywords (minItems, patterns) at some
    // providers; validation on our side is what guarantees the shape.
    body.response_format = {
      type: 'json_schema',
      json_schema: { name: wireSchemaName(request.output.name), schema: request.output.jsonSchema, strict: false },
    };
  } else if (preset.jsonMode === 'json_object') {
    body.response_format = { type: 'json_object' };
  }
  // OpenRouter reports usage.cost when asked (newer deployments always do; the flag is then ignored).
  if (preset.requestUsageAccounting) body.usage = { include: true };
  return body;
}

/** The longest `response_format.json_schema.name` every provider accepts. */
const MAX_WIRE_NAME = 64;

/**
 * The schema name as sent in `response_format.json_schema.name`. Perplexity requires 1–64
 * alphanumeric characters (it refuses `pm_pitch_with_ranking`), OpenAI `^[a-zA-Z0-9_-]{1,64}$`:
 * letters and digits only satisfy both. Deterministic — a provider that prepares each new schema
 * once (Perplexity: 10–30 s before the first token) must see the same name every week:
 * `pm_pitch_with_ranking` → `pmPitchWithRanking`. A name with no letters or digits, or one too long,
 * is shortened and made unique with a hash of the original.
 */
export function wireSchemaName(name: string): string {
  const words = name.split(/[^A-Za-z0-9]+/).filter((w) => w !== '');
  const camel = words.map((w, i) => (i === 0 ? w : `${w[0]!.toUpperCase()}${w.slice(1)}`)).join('');
  if (camel.length >= 1 && camel.length <= MAX_WIRE_NAME) return camel;
  const hash = createHash('sha256').update(name).digest('hex').slice(0, 8);
  return `${camel === '' ? 'schema' : camel.slice(0, MAX_WIRE_NAME - hash.length)}${hash}`;
}

/** What the audit log keeps of the request besides the messages (the schema itself is in the cache key). */
export function paramsOf(body: Record<string, unknown>, schemaName: string, async: boolean, timeoutMs: number): Record<string, unknown> {
  const format = asRecord(body.response_format);
  return {
    model: body.model,
    temperature: body.temperature ?? null,
    max_tokens: body.max_tokens ?? null,
    response_format: format ? format.type : 'prompt',
    schema: schemaName,
    async,
    timeout_ms: timeoutMs,
    ...(body.usage ? { usage: body.usage } : {}),
  };
}

export function assistantText(body: Record<string, unknown>): { text: string; finishReason: string | null } {
  const choices = Array.isArray(body.choices) ? body.choices : [];
  const first = asRecord(choices[0]);
  const message = asRecord(first?.message);
  const content = message?.content;
  const text =
    typeof content === 'string'
      ? content
      : Array.isArray(content)
        ? content.map((part) => (typeof asRecord(part)?.text === 'string' ? (asRecord(part)!.text as string) : '')).join('')
        : '';
  const finishReason = typeof first?.finish_reason === 'string' ? first.finish_reason : null;
  return { text, finishReason };
}

/** Perplexity: `citations` (URLs) and/or `search_results[].url`; both kept, in order, without repeats. */
export function citationsOf(body: Record<string, unknown>): string[] {
  const urls: string[] = [];
  if (Array.isArray(body.citations)) for (const c of body.citations) if (typeof c === 'string') urls.push(c);
  if (Array.isArray(body.search_results)) {
    for (const r of body.search_results) {
      const url = asRecord(r)?.url;
      if (typeof url === 'string') urls.push(url);
    }
  }
  return [...new Set(urls)];
}
