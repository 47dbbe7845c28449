/**
 * An account as it is knowable at a checkpoint's instant: its book from the fills before that instant
 * (a market-on-close order decided earlier in the day has not filled yet, and its price is not known),
 * its position's average entry, and the owner's plan for the week (the pitch, or the chairman's
 * decision for the council account).
 */
import type { StageOutputs } from '../council/stage.js';
import type { BookState } from '../ledger/book.js';
import type { InvalidationTrigger } from '../schemas/index.js';

export interface OwnerPlan {
  ticker: string;
  direction: 'LONG' | 'SHORT' | 'FLAT';
  horizon: '1D' | '3D' | '1W';
  thesis_bullets: string[];
  invalidation_rule: string;
  trigger: InvalidationTrigger | null;
  key_indicators: { name: string; expected_signal: string; flip_condition: string }[];
}

/** The week plan of an account's owner, from the stored outputs of the week's stages. */
export function ownerPlan(
  owner: string,
  pitches: StageOutputs['pm_pitches'],
  chairman: StageOutputs['chairman'] | undefined,
): OwnerPlan | null {
  if (owner === 'council') {
    const d = chairman?.decision;
    if (!d) return null;
    return {
      ticker: d.selected_trade.ticker,
      direction: d.selected_trade.direction,
      horizon: d.selected_trade.horizon,
      thesis_bullets: [d.rationale],
      invalidation_rule: d.monitoring_plan.invalidation_triggers.join('; ') || 'none stated',
      // Stored decisions from before triggers existed have no such field.
      trigger: d.invalidation_trigger ?? null,
      // The chairman's indicators are one line each: "name: expectation; flip if …".
      key_indicators: d.monitoring_plan.key_indicators.map((line) => {
        const [name, ...rest] = line.split(': ');
        const text = rest.join(': ');
        const [expected, flip] = text.split('; flip if ');
        return { name: name ?? line, expected_signal: expected ?? '', flip_condition: flip ?? '' };
      }),
    };
  }
  const p = pitches.pitches.find((x) => x.seat === owner && x.status === 'ok')?.pitch;
  if (!p) return null;
  return {
    ticker: p.selected_trade.ticker,
    direction: p.selected_trade.direction,
    horizon: p.selected_trade.horizon,
    thesis_bullets: [...p.selected_trade.thesis_bullets],
    invalidation_rule: p.selected_trade.invalidation_rule_this_week,
    trigger: p.selected_trade.invalidation_trigger ?? null,
    key_indicators: p.monitoring_plan.key_indicators.map((k) => ({ ...k })),
  };
}

export interface HeldPosition {
  ticker: string;
  qty: number;
  avg_entry_price: number;
}

export interface AccountAt {
  cash: number;
  /** The one position (an account holds one instrument a week), or null when flat. */
  position: HeldPosition | null;
}

/**
 * The account from its replayed book (fills up to the instant), with the average entry of the open
 * position (book.ts applyEntry).
 */
export function accountAt(state: BookState): AccountAt {
  const { book, entries } = state;
  const held = [...book.positions];
  if (held.length > 1) throw new Error(`an account holds ${held.length} instruments (${held.map(([t]) => t).join(', ')}); expected one`);
  const [first] = held;
  if (!first) return { cash: book.cash, position: null };
  const [ticker, qty] = first;
  const avg = entries.get(ticker)?.avg ?? 0;
  return { cash: book.cash, position: { ticker, qty, avg_entry_price: Math.round(avg * 1e6) / 1e6 } };
}
