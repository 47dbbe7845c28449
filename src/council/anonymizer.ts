import { createHash } from 'node:crypto';

/**
 * Anonymous peer review: each reviewer sees the other seats' pitches under labels shuffled for that
 * reviewer alone, from a seed recorded with the run, so the same run can be replayed exactly and no
 * fixed "Pitch A" links a label to a seat across reviewers. A reviewer never sees its own pitch.
 */
export interface LabelAssignment {
  reviewer: string;
  pitch_id: string;
  target_seat: string;
}

export function assignReviewLabels(seed: string, reviewers: readonly string[], authors: readonly string[]): LabelAssignment[] {
  const assignments: LabelAssignment[] = [];
  for (const reviewer of reviewers) {
    const targets = authors.filter((seat) => seat !== reviewer);
    const shuffled = shuffle(targets, prng(`${seed}:${reviewer}`));
    shuffled.forEach((target_seat, i) => {
      assignments.push({ reviewer, pitch_id: `Pitch ${String.fromCharCode(65 + i)}`, target_seat });
    });
  }
  return assignments;
}

/** Fisher–Yates with a seeded generator. */
function shuffle<T>(items: readonly T[], random: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

/** mulberry32 seeded from SHA-256 of the key: small, fast and well distributed for shuffling. */
function prng(key: string): () => number {
  let state = createHash('sha256').update(key).digest().readUInt32LE(0);
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
