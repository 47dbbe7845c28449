/**
 * Explicit rounding for money. Prices are kept to 6 decimals (the precision of the numeric(20,6)
 * columns), cash amounts to cents, share quantities to 6 decimals (Alpaca's fractional precision).
 *
 * Rounding is half away from zero on the decimal value the number prints as, so 1.005 → 1.01 and
 * −1.005 → −1.01 (naïve Math.round(x * 100) / 100 gives 1.00 because 1.005 * 100 = 100.49999…).
 */

const MAX_SAFE_ROUNDING = 1e15;
const POWERS_OF_TEN: readonly number[] = [1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8];

export function roundTo(value: number, decimals: number): number {
  if (!Number.isFinite(value)) throw new RangeError(`cannot round a non-finite amount (${value})`);
  const magnitude = Math.abs(value);
  // Beyond ~1e15 doubles have no fractional digits left to round.
  if (magnitude >= MAX_SAFE_ROUNDING) return value;
  // Fast path, most amounts: away from a half, the product's binary error (a few ulps) cannot change
  // which integer is nearest, and n / 10^d is the double nearest n·10^-d, as parsing "ne-d" gives.
  const scale = POWERS_OF_TEN[decimals];
  if (scale !== undefined) {
    const product = magnitude * scale;
    const fraction = product - Math.floor(product);
    if (product < 2 ** 52 && Math.abs(fraction - 0.5) > 1e-6) return Math.sign(value) * (Math.round(product) / scale) || 0;
  }
  // Shift the decimal point in the shortest decimal representation instead of multiplying,
  // so the binary error of the multiplication cannot push a half down.
  const [mantissa, exponent] = magnitude.toExponential().split('e') as [string, string];
  const shifted = Number(`${mantissa}e${Number(exponent) + decimals}`);
  const rounded = Number(`${Math.round(shifted)}e-${decimals}`);
  // `|| 0` turns −0 into 0 so that amounts print and compare cleanly.
  return Math.sign(value) * rounded || 0;
}

/** Cash and other dollar amounts: cents. */
export const roundCash = (value: number): number => roundTo(value, 2);
/** Prices per share: 6 decimals. */
export const roundPrice = (value: number): number => roundTo(value, 6);
/** Share quantities: 6 decimals (removes float noise from sums of fractional quantities). */
export const roundQty = (value: number): number => roundTo(value, 6);
