import { describe, expect, it } from 'vitest';
import { wireSchemaName } from '../../src/llm/chat-wire.js';

/** Perplexity: 1–64 alphanumeric characters. OpenAI: ^[a-zA-Z0-9_-]{1,64}$. A wire name must pass both. */
const PERPLEXITY = /^[A-Za-z0-9]{1,64}$/;
const OPENAI = /^[a-zA-Z0-9_-]{1,64}$/;

describe('wireSchemaName', () => {
  it('turns the schema names into letters and digits, readably', () => {
    expect(wireSchemaName('pm_pitch_with_ranking')).toBe('pmPitchWithRanking');
    expect(wireSchemaName('peer_review_ranking_vs_choice')).toBe('peerReviewRankingVsChoice');
    expect(wireSchemaName('research_pack')).toBe('researchPack');
    expect(wireSchemaName('mini-trade.v2')).toBe('miniTradeV2');
    expect(wireSchemaName('AlreadyFine42')).toBe('AlreadyFine42');
  });

  it('is deterministic and always valid for every provider, even for odd or long names', () => {
    const odd = ['', '___', 'é', 'a b', '-x-', 'x'.repeat(64), 'y'.repeat(65), `${'long_'.repeat(30)}end`, '日本語 schema'];
    for (const name of odd) {
      const wire = wireSchemaName(name);
      expect(wire, name).toMatch(PERPLEXITY);
      expect(wire, name).toMatch(OPENAI);
      expect(wireSchemaName(name)).toBe(wire);
    }
    expect(wireSchemaName('x'.repeat(64))).toBe('x'.repeat(64));
    // Shortened names stay distinct: the hash of the original tells them apart.
    expect(wireSchemaName(`${'a'.repeat(70)}_one`)).not.toBe(wireSchemaName(`${'a'.repeat(70)}_two`));
    expect(wireSchemaName('___')).toMatch(/^schema[0-9a-f]{8}$/);
  });
});
