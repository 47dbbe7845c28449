/** Small text formatters for the command line's tables. */
export function pad(text: string, width: number): string {
  return text.length >= width ? `${text.slice(0, width - 1)} ` : text.padEnd(width);
}

/** "1 week", "3 weeks": a count with its noun, plural by adding s. */
export function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}

export function signed(n: number): string {
  return n > 0 ? `+${n}` : String(n);
}

export function pct(x: number): string {
  return `${x >= 0 ? '+' : ''}${(x * 100).toFixed(2)}%`;
}

export function fmt(n: number | null | undefined): string {
  return n === null || n === undefined ? '-' : n.toFixed(2);
}

export function money(n: number | null): string {
  return n === null ? '-' : `$${n.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;
}

/** A change of money with its sign: +$1,234.50 / -$12.00. */
export function signedMoney(n: number): string {
  return `${n < 0 ? '-' : '+'}${money(Math.abs(n))}`;
}

export function wrap(text: string, indent: number, width = 100): string[] {
  const words = text.split(/\s+/);
  const out: string[] = [];
  let line = '';
  for (const word of words) {
    if (line.length + word.length + 1 > width - indent && line) {
      out.push(' '.repeat(indent) + line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) out.push(' '.repeat(indent) + line);
  return out;
}
