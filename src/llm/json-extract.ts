import { jsonrepair } from 'jsonrepair';

/**
 * Finds the JSON value in a model's answer. Models wrap JSON in prose, in ```json fences, in
 * <think> blocks (reasoning models) and leave trailing commas; all of that is tolerated. What is not
 * tolerated is an incomplete value: a repair library would happily close a truncated object and hand
 * back something that looks complete, so truncation is detected first and reported as such.
 */
export type Extraction = { ok: true; value: unknown } | { ok: false; error: string; truncated: boolean };

export function extractJson(text: string): Extraction {
  const { answer, unterminated } = withoutReasoning(text);
  const visible = answer.trim();
  if (visible === '') {
    const error = unterminated
      ? 'the answer ends inside its <think> reasoning block: no answer follows the reasoning; expected one JSON object after </think>'
      : 'the answer is empty; expected one JSON object';
    return { ok: false, error, truncated: false };
  }
  // A complete fenced block is the model telling us where the JSON is; an unclosed fence is just
  // prose in front of the value, handled (and detected as truncated) by the scan of the whole text.
  for (const match of visible.matchAll(/```(?:json|JSON)?[ \t]*\r?\n?([\s\S]*?)```/g)) {
    const parsed = parseFirstValue(match[1]!);
    if (parsed.ok) return parsed;
  }
  return parseFirstValue(visible);
}

const OPEN_REASONING = /<(think|thinking)>/i;

/**
 * The answer without the reasoning of reasoning models (sonar-deep-research, DeepSeek R1, QwQ…),
 * which comes in <think>…</think> (or <thinking>) before the answer. Whatever the reasoning holds —
 * drafts of the JSON, stray braces, fenced blocks — is not the answer, so it goes before any scan. An
 * unterminated block means the text ended while still reasoning: everything from it on is dropped
 * (`unterminated`). A lone closing tag is reasoning whose opening tag was in the chat template.
 */
export function withoutReasoning(text: string): { answer: string; unterminated: boolean } {
  let rest = text;
  const orphanClose = /<\/(think|thinking)>/i.exec(rest);
  if (orphanClose && !OPEN_REASONING.test(rest.slice(0, orphanClose.index))) rest = rest.slice(orphanClose.index + orphanClose[0].length);
  let answer = '';
  for (let open = OPEN_REASONING.exec(rest); open; open = OPEN_REASONING.exec(rest)) {
    answer += rest.slice(0, open.index);
    const afterOpen = rest.slice(open.index + open[0].length);
    const close = new RegExp(`</${open[1]}>`, 'i').exec(afterOpen);
    if (!close) return { answer, unterminated: true };
    rest = afterOpen.slice(close.index + close[0].length);
  }
  return { answer: answer + rest, unterminated: false };
}

/**
 * The JSON value among the top-level `{…}` / `[…]` spans of the text: the first that parses strictly,
 * else the longest that parses after jsonrepair (prose such as "{SPY, QQQ}" is short and comes first).
 */
function parseFirstValue(text: string): Extraction {
  const candidates: string[] = [];
  let truncated = false;
  for (let start = nextOpening(text, 0); start !== -1;) {
    const span = closingOf(text, start);
    if (span.kind === 'open') {
      // Nothing after this opening closes it: the answer stops inside the value.
      truncated = true;
      break;
    }
    candidates.push(text.slice(start, span.at + 1));
    start = nextOpening(text, span.at + 1);
  }
  for (const candidate of candidates) {
    const strict = parseStrict(candidate);
    if (strict.ok) return strict;
  }
  if (truncated) {
    return {
      ok: false,
      error: 'the JSON is incomplete: it ends before its closing bracket (the answer was probably cut off)',
      truncated: true,
    };
  }
  let firstError: Extraction | undefined;
  for (const candidate of [...candidates].sort((a, b) => b.length - a.length)) {
    const repaired = parseRepaired(candidate);
    if (repaired.ok) return repaired;
    firstError ??= repaired;
  }
  return firstError ?? { ok: false, error: 'no JSON object found in the answer', truncated: false };
}

function nextOpening(text: string, from: number): number {
  const brace = text.indexOf('{', from);
  const bracket = text.indexOf('[', from);
  if (brace === -1) return bracket;
  if (bracket === -1) return brace;
  return Math.min(brace, bracket);
}

/**
 * Where the bracket at `start` closes, skipping brackets inside strings. A mismatched closer ends the
 * span there (jsonrepair may still make sense of it); 'open' means the text ends inside the value.
 */
function closingOf(text: string, start: number): { kind: 'closed'; at: number } | { kind: 'open' } {
  const stack: string[] = [];
  let inString = false;
  for (let i = start; i < text.length; i++) {
    const c = text[i]!;
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
      continue;
    }
    if (c === '"') inString = true;
    else if (c === '{' || c === '[') stack.push(c === '{' ? '}' : ']');
    else if (c === '}' || c === ']') {
      const expected = stack.pop();
      if (expected !== c || stack.length === 0) return { kind: 'closed', at: i };
    }
  }
  return { kind: 'open' };
}

function parseStrict(candidate: string): Extraction {
  try {
    return { ok: true, value: JSON.parse(candidate) };
  } catch (error) {
    return { ok: false, error: `the JSON does not parse: ${error instanceof Error ? error.message : String(error)}`, truncated: false };
  }
}

function parseRepaired(candidate: string): Extraction {
  try {
    return { ok: true, value: JSON.parse(jsonrepair(candidate)) };
  } catch {
    return parseStrict(candidate);
  }
}
