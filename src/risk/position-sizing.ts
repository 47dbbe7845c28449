/**
 * Position sizing: how many whole shares one account should hold of its one instrument.
 *
 *   weight = conviction_scale[|conviction|] × min(1, target_daily_vol / dailyVol)
 *            then capped by max_position and by max_gross_exposure (the account holds one instrument,
 *            so its gross exposure is this weight)
 *   qty    = floor(weight × equity / price), signed by direction (+ LONG, − SHORT); FLAT → 0.
 *
 * The conviction scale says how much of the account a conviction is worth (|1| half, |2| all, by
 * default). The volatility factor only scales DOWN: an instrument whose daily move is larger than the
 * target (1% of equity by default) gets a proportionally smaller weight, so a full-conviction USO
 * position risks about what a full-conviction IEF one does; a calm instrument is not levered up.
 * `dailyVol` is a daily fraction (realized_vol_20d / √252, or atr_pct); when it is unknown (null, 0)
 * no volatility scaling is applied and the notes say so.
 *
 * Whole shares for both directions: shorts must be whole (Alpaca refuses fractional shorts) and whole
 * longs keep the two directions symmetric. Rounding down keeps the position within its weight.
 * The caller should price at (or near) the instant the order will fill; the simulated broker allows
 * 1% of equity for slippage, commission and drift between sizing and fill (see sim-broker.ts).
 *
 * Pure: no I/O, same inputs → same output.
 */
import type { ModelsConfig } from '../config/app-config.js';

export type Direction = 'LONG' | 'SHORT' | 'FLAT';

export interface SizingInput {
  direction: Direction;
  /** Integer −2..+2: > 0 for LONG, < 0 for SHORT, 0 for FLAT. */
  conviction: number;
  /** Price per share used to convert the weight into shares. */
  price: number;
  /** Expected daily move as a fraction (0.012 = 1.2%); null when unknown. */
  dailyVol: number | null;
  /** Account equity in dollars. */
  equity: number;
  risk: ModelsConfig['risk'];
}

export interface SizingResult {
  /** Signed whole shares: positive long, negative short, 0 flat. */
  targetQty: number;
  /** Fraction of equity after all caps (before rounding to whole shares), ≥ 0. */
  weight: number;
  /** Each factor with its numbers, for the audit trail (trade_intents.notes). */
  notes: string;
}

const fmt = (x: number, digits = 4): string => String(Number(x.toFixed(digits)));
const pct = (x: number): string => `${fmt(x * 100, 2)}%`;

export function sizePosition(input: SizingInput): SizingResult {
  const { direction, conviction, price, dailyVol, equity, risk } = input;
  if (!Number.isInteger(conviction) || conviction < -2 || conviction > 2) {
    throw new RangeError(`conviction must be an integer in −2..+2, got ${conviction}`);
  }
  const expectedSign = direction === 'LONG' ? 1 : direction === 'SHORT' ? -1 : 0;
  if (Math.sign(conviction) !== expectedSign) {
    throw new RangeError(`conviction ${conviction} does not match direction ${direction} (LONG > 0, SHORT < 0, FLAT = 0)`);
  }
  if (direction === 'FLAT') return { targetQty: 0, weight: 0, notes: 'FLAT: no position' };
  if (!Number.isFinite(price) || price <= 0) throw new RangeError(`price must be positive, got ${price}`);
  if (!Number.isFinite(equity)) throw new RangeError(`equity must be a finite amount, got ${equity}`);
  if (equity <= 0) {
    return { targetQty: 0, weight: 0, notes: `${direction}: equity ${fmt(equity, 2)} ≤ 0, no position` };
  }

  const notes: string[] = [];
  const level = String(Math.abs(conviction)) as '1' | '2';
  const scale = risk.conviction_scale[level];
  notes.push(`conviction ${conviction} → scale ${fmt(scale)}`);

  let volFactor = 1;
  if (dailyVol !== null && Number.isFinite(dailyVol) && dailyVol > 0) {
    volFactor = Math.min(1, risk.target_daily_vol / dailyVol);
    notes.push(`vol: target ${pct(risk.target_daily_vol)} / daily ${pct(dailyVol)} → ×${fmt(volFactor)}`);
  } else {
    notes.push('vol: unknown, no vol scaling');
  }

  let weight = scale * volFactor;
  if (weight > risk.max_position) {
    notes.push(`capped by max_position ${fmt(weight)} → ${fmt(risk.max_position)}`);
    weight = risk.max_position;
  }
  if (weight > risk.max_gross_exposure) {
    notes.push(`capped by max_gross_exposure ${fmt(weight)} → ${fmt(risk.max_gross_exposure)}`);
    weight = risk.max_gross_exposure;
  }

  const shares = Math.floor((weight * equity) / price + 1e-9);
  const targetQty = shares === 0 ? 0 : expectedSign * shares;
  notes.push(
    `weight ${pct(weight)} × equity ${fmt(equity, 2)} / price ${fmt(price)} → ${shares} shares ${direction}` +
      ` (notional ${fmt(shares * price, 2)})`,
  );
  return { targetQty, weight, notes: notes.join('; ') };
}
