import { describe, expect, it } from 'vitest';
import { redactDeep, redactSecrets } from '../../src/llm/redact.js';

describe('redactSecrets', () => {
  it('replaces configured keys, bearer tokens and provider-key-shaped strings', () => {
    const text =
      'key=my-custom-secret-1234 auth: Bearer abc.def-123 other sk-or-v1-0123456789abcdef pplx-0123456789abcdef AIza0123456789abcdefghijkl';
    const out = redactSecrets(text, ['my-custom-secret-1234']);
    expect(out).toBe('key=[REDACTED] auth: Bearer [REDACTED] other [REDACTED] [REDACTED] [REDACTED]');
  });

  it('replaces the user:password of any URL, keeping the rest of it', () => {
    expect(redactSecrets('failed: http://proxy:pw@gw.example:8080/v1/chat?x=1 and https://a@b/ and mailto:x@y', [])).toBe(
      'failed: http://[REDACTED]@gw.example:8080/v1/chat?x=1 and https://a@b/ and mailto:x@y',
    );
    expect(redactSecrets('postgres://trader:s3cret@db:5432/llm', [])).toBe('postgres://[REDACTED]@db:5432/llm');
  });

  it('ignores empty and tiny secrets instead of shredding the text', () => {
    expect(redactSecrets('a normal sentence', ['', 'a'])).toBe('a normal sentence');
  });

  it('redacts inside nested values, keys included', () => {
    const secret = 'zz-secret-value-42';
    expect(redactDeep({ a: [`x ${secret}`], [secret]: { n: 1, s: secret } }, [secret])).toEqual({
      a: ['x [REDACTED]'],
      '[REDACTED]': { n: 1, s: '[REDACTED]' },
    });
  });

  it('returns what it redacted for the same secrets (or fewer) as it is, frozen; redacts it again for a new secret', () => {
    const [a, b] = ['first-secret-aaaa', 'second-secret-bbbb'];
    const once = redactDeep({ text: `${a} ${b}`, nested: [{ s: a }] }, [a]);
    expect(once).toEqual({ text: `[REDACTED] ${b}`, nested: [{ s: '[REDACTED]' }] });
    expect(redactDeep(once, [a])).toBe(once);
    expect(redactDeep(once, [])).toBe(once);
    expect(Object.isFrozen(once) && Object.isFrozen(once.nested) && Object.isFrozen(once.nested[0])).toBe(true);
    expect(() => {
      (once as { text: string }).text = a;
    }).toThrow(TypeError);
    const twice = redactDeep(once, [a, b]);
    expect(twice).not.toBe(once);
    expect(twice).toEqual({ text: '[REDACTED] [REDACTED]', nested: [{ s: '[REDACTED]' }] });
    // A copy of a redacted value is a new value: redacted in full.
    const copy = { ...once, extra: b };
    expect(redactDeep(copy, [a, b]).extra).toBe('[REDACTED]');
  });

  it('finds each kind alone inside a long text, whatever the case of Bearer', () => {
    const filler = 'close 512.3 above its 50-day average; '.repeat(2_000);
    for (const [token, redacted] of [
      ['BEARER abc.def', 'Bearer [REDACTED]'],
      ['bearer abc.def', 'Bearer [REDACTED]'],
      ['sk-abcdefgh1234', '[REDACTED]'],
      ['pplx-abcdefgh1234', '[REDACTED]'],
      ['AIza0123456789abcdefghijkl', '[REDACTED]'],
      ['https://u:p@host/x', 'https://[REDACTED]@host/x'],
    ])
      expect(redactSecrets(`${filler}${token} ${filler}`, [])).toBe(`${filler}${redacted} ${filler}`);
    expect(redactSecrets(filler, ['not-in-it'])).toBe(filler);
  });
});
