import { describe, expect, it } from 'vitest';
import { extractJson, withoutReasoning } from '../../src/llm/json-extract.js';
import { repairMessage, validateAnswer } from '../../src/llm/output-validation.js';
import { GOOD_TRADE, TRADE_OUTPUT } from './fixtures.js';

const good = JSON.stringify(GOOD_TRADE);

describe('extractJson', () => {
  it('parses plain JSON', () => {
    expect(extractJson(good)).toEqual({ ok: true, value: GOOD_TRADE });
  });

  it('finds JSON inside prose, including prose that contains braces', () => {
    expect(extractJson(`Here you go:\n${good}\nThanks.`)).toEqual({ ok: true, value: GOOD_TRADE });
    expect(extractJson(`I weighed {SPY, TLT} first. Final: ${good}`)).toEqual({ ok: true, value: GOOD_TRADE });
  });

  it('prefers a fenced block and ignores <think> reasoning', () => {
    const text = `<think>maybe {"ticker": "SPY"}</think>\nAnswer:\n\`\`\`json\n${good}\n\`\`\`\nDone.`;
    expect(extractJson(text)).toEqual({ ok: true, value: GOOD_TRADE });
  });

  it('repairs trailing commas', () => {
    expect(extractJson('{"ticker": "GLD", "direction": "LONG", "conviction": 2, "reason": "x",}')).toEqual({
      ok: true,
      value: { ticker: 'GLD', direction: 'LONG', conviction: 2, reason: 'x' },
    });
    expect(extractJson('{"a": [1, 2, 3,],}')).toEqual({ ok: true, value: { a: [1, 2, 3] } });
  });

  it('reports truncated JSON as truncated instead of closing it', () => {
    const result = extractJson(good.slice(0, 40));
    expect(result.ok).toBe(false);
    expect(result).toMatchObject({ truncated: true });
    expect(extractJson('```json\n{"ticker": "GLD", "reason": "cut o')).toMatchObject({ ok: false, truncated: true });
  });

  it('reports an answer with no JSON', () => {
    expect(extractJson('I would rather not say.')).toEqual({ ok: false, error: 'no JSON object found in the answer', truncated: false });
    expect(extractJson('   ')).toMatchObject({ ok: false, truncated: false });
  });

  it('keeps brackets inside strings out of the bracket count', () => {
    const value = { reason: 'range {1..3] and "quoted } brace"', n: 1 };
    expect(extractJson(`pre ${JSON.stringify(value)} post`)).toEqual({ ok: true, value });
  });
});

describe('reasoning models: the <think> block before the answer', () => {
  const draft = { ticker: 'SPY', direction: 'SHORT', conviction: -1, reason: 'first draft' };

  it('skips a think block holding a complete, schema-valid draft of the JSON', () => {
    const text = `<think>\nLet me draft it: ${JSON.stringify(draft)}\nNo — gold is better.\n</think>\n${good}`;
    expect(extractJson(text)).toEqual({ ok: true, value: GOOD_TRADE });
  });

  it('skips unbalanced braces and brackets in the reasoning (they would read as a truncated value)', () => {
    const text = `<think>The set {SPY, TLT and [GLD — which one? Maybe {"ticker": "TLT", "reason": "du</think>\n\n${good}`;
    expect(extractJson(text)).toEqual({ ok: true, value: GOOD_TRADE });
  });

  it('skips a fenced block inside the reasoning, also when the answer itself is fenced or plain', () => {
    const fencedDraft = `<think>\n\`\`\`json\n${JSON.stringify(draft)}\n\`\`\`\nHmm.\n</think>`;
    expect(extractJson(`${fencedDraft}\n${good}`)).toEqual({ ok: true, value: GOOD_TRADE });
    expect(extractJson(`${fencedDraft}\nFinal:\n\`\`\`json\n${good}\n\`\`\``)).toEqual({ ok: true, value: GOOD_TRADE });
  });

  it('skips several blocks, any case, and <thinking>', () => {
    const text = `<THINK>{"a": 1}</THINK> <thinking>[1, 2</thinking>\n<think>{</think>${good}`;
    expect(extractJson(text)).toEqual({ ok: true, value: GOOD_TRADE });
  });

  it('skips reasoning whose opening tag was in the chat template (only </think> in the output)', () => {
    expect(extractJson(`so ${JSON.stringify(draft)} then {\n</think>\n\n${good}`)).toEqual({ ok: true, value: GOOD_TRADE });
  });

  it('an unterminated <think> has no answer: invalid (not truncated), even when the reasoning holds valid JSON', () => {
    const text = `<think>\nDraft: ${JSON.stringify(draft)}\n\`\`\`json\n${good}\n\`\`\`\nStill checking the yields`;
    const result = extractJson(text);
    expect(result).toEqual({ ok: false, error: expect.stringMatching(/ends inside its <think> reasoning block/), truncated: false });
    // Cut off by the token limit while reasoning: the re-ask asks for a shorter answer.
    expect(validateAnswer(text, TRADE_OUTPUT, 'length')).toMatchObject({ ok: false, truncated: true });
    const stopped = validateAnswer(text, TRADE_OUTPUT, 'stop');
    expect(stopped).toMatchObject({ ok: false, truncated: false });
    if (!stopped.ok) expect(repairMessage('mini_trade', stopped.errors, false).content).toMatch(/- the answer ends inside its <think>/);
  });

  it('keeps the text before a reasoning block and reports what it dropped', () => {
    expect(withoutReasoning('a<think>b</think>c')).toEqual({ answer: 'ac', unterminated: false });
    expect(withoutReasoning('a<think>b')).toEqual({ answer: 'a', unterminated: true });
    expect(withoutReasoning('no reasoning at all')).toEqual({ answer: 'no reasoning at all', unterminated: false });
  });
});

describe('validateAnswer', () => {
  it('lists every schema error with its path, then the rule errors', () => {
    const bad = validateAnswer(JSON.stringify({ ticker: 'XLE', direction: 'LONG', conviction: 7 }), TRADE_OUTPUT, 'stop');
    expect(bad.ok).toBe(false);
    if (bad.ok) return;
    expect(bad.errors).toHaveLength(3);
    expect(bad.errors[0]).toMatch(/^ticker: .*SPY.*TLT.*GLD/);
    expect(bad.errors[1]).toMatch(/^conviction: .*(<=|less than or equal).*2/i);
    expect(bad.errors[2]).toMatch(/^reason: /);
    const rule = validateAnswer(JSON.stringify({ ...GOOD_TRADE, conviction: -1 }), TRADE_OUTPUT, 'stop');
    expect(rule).toEqual({ ok: false, errors: ['conviction: must be > 0 for a LONG trade'], truncated: false });
  });

  it('mentions the token limit when the answer stopped at finish_reason length', () => {
    const cut = validateAnswer(good.slice(0, 30), TRADE_OUTPUT, 'length');
    expect(cut).toMatchObject({ ok: false, truncated: true });
    if (!cut.ok) expect(cut.errors[0]).toMatch(/output token limit/);
  });

  it('builds a re-ask that quotes the errors one per line', () => {
    const message = repairMessage('mini_trade', ['ticker: bad', 'reason: missing'], false);
    expect(message.role).toBe('user');
    expect(message.content.split('\n')).toEqual(expect.arrayContaining(['- ticker: bad', '- reason: missing']));
  });
});
