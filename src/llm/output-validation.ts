import type { ChatMessage, StructuredOutput } from '../ports/llm.js';
import { extractJson } from './json-extract.js';

/**
 * Turns an assistant answer into a validated value, or into a precise list of what is wrong with it
 * — precise because that list is sent back to the model in the re-ask, and a model repairs "rank: 11
 * is above the maximum 10 at instrument_ranking.3.rank" far better than "invalid output".
 */
export type Validation<T> = { ok: true; value: T } | { ok: false; errors: string[]; truncated: boolean };

export function validateAnswer<T>(text: string, output: StructuredOutput<T>, finishReason: string | null): Validation<T> {
  const extracted = extractJson(text);
  if (!extracted.ok) {
    const cutOff = finishReason === 'length' ? ' The answer hit the output token limit (finish_reason "length").' : '';
    return { ok: false, errors: [`${extracted.error}.${cutOff}`], truncated: extracted.truncated || finishReason === 'length' };
  }
  return validateValue(extracted.value, output);
}

export function validateValue<T>(value: unknown, output: StructuredOutput<T>): Validation<T> {
  const parsed = output.schema.safeParse(value);
  if (!parsed.success) {
    const errors = parsed.error.issues.map((issue) => {
      const where = issue.path.length > 0 ? issue.path.map(String).join('.') : '(the whole object)';
      return `${where}: ${issue.message}`;
    });
    return { ok: false, errors, truncated: false };
  }
  const ruleErrors = output.check ? output.check(parsed.data) : [];
  if (ruleErrors.length > 0) return { ok: false, errors: ruleErrors, truncated: false };
  return { ok: true, value: parsed.data };
}

/** The user message of a re-ask: every error, one per line, and what a good answer looks like. */
export function repairMessage(schemaName: string, errors: readonly string[], truncated: boolean): ChatMessage {
  const lines = [
    `Your previous answer is not a valid ${schemaName} object. Fix these problems:`,
    ...errors.map((e) => `- ${e}`),
    truncated
      ? 'Your answer was cut off. Answer again with the complete JSON object only, more concisely, with no text before or after it.'
      : 'Answer again with the complete corrected JSON object only, with no text before or after it.',
  ];
  return { role: 'user', content: lines.join('\n') };
}

/**
 * The instruction added to the system prompt when the provider cannot enforce the schema itself
 * (json_object mode, or plain prompting). Stable text, so it does not defeat provider prompt caching.
 */
export function schemaInstruction(schemaName: string, jsonSchema: Record<string, unknown>, fenced: boolean): string {
  const how = fenced ? 'in a single ```json fenced block' : 'as a single JSON object';
  return [
    `Answer ${how} that conforms to the JSON Schema "${schemaName}" below. Use exactly these field names; add no other text.`,
    JSON.stringify(jsonSchema),
  ].join('\n');
}
