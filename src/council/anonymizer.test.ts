import { describe, expect, it } from 'vitest';
import { assignReviewLabels } from './anonymizer.js';

const seats = ['gpt', 'gemini', 'sonnet', 'grok', 'deepseek'];

describe('assignReviewLabels', () => {
  it('gives each reviewer every other pitch exactly once and never its own', () => {
    const labels = assignReviewLabels('seed-1', seats, seats);
    expect(labels).toHaveLength(seats.length * (seats.length - 1));
    for (const reviewer of seats) {
      const mine = labels.filter((l) => l.reviewer === reviewer);
      expect(mine.map((l) => l.target_seat).sort()).toEqual(seats.filter((s) => s !== reviewer).sort());
      expect(mine.map((l) => l.pitch_id)).toEqual(['Pitch A', 'Pitch B', 'Pitch C', 'Pitch D']);
    }
  });

  it('is reproducible from the recorded seed and changes with it', () => {
    expect(assignReviewLabels('seed-1', seats, seats)).toEqual(assignReviewLabels('seed-1', seats, seats));
    const differentSeeds = new Set(['a', 'b', 'c', 'd', 'e'].map((s) => JSON.stringify(assignReviewLabels(s, seats, seats))));
    expect(differentSeeds.size).toBeGreaterThan(1);
  });

  it('does not give a seat the same label for every reviewer (no fixed "Pitch A")', () => {
    // Over many seeds, each seat must appear under more than one label.
    const labelsOfSeat = new Map<string, Set<string>>();
    for (let i = 0; i < 20; i++) {
      for (const l of assignReviewLabels(`s${i}`, seats, seats)) {
        labelsOfSeat.set(l.target_seat, (labelsOfSeat.get(l.target_seat) ?? new Set()).add(l.pitch_id));
      }
    }
    for (const seat of seats) expect(labelsOfSeat.get(seat)?.size).toBe(4);
  });

  it('only labels the authors that have pitches', () => {
    const labels = assignReviewLabels('x', ['gpt', 'gemini', 'sonnet'], ['gpt', 'gemini', 'sonnet']);
    expect(labels.every((l) => ['gpt', 'gemini', 'sonnet'].includes(l.target_seat))).toBe(true);
    expect(labels).toHaveLength(6);
  });
});
