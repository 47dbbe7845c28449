/**
 * The paths of the keys in a parsed `--json` result that are not snake_case (DESIGN §2: field names
 * are fixed, snake_case). Keys that are data (tickers, dates, seat names) have no lower-to-upper
 * transition, so only camelCase is reported.
 */
export function camelCaseKeys(value: unknown, path = ''): string[] {
  if (Array.isArray(value)) return value.flatMap((v, i) => camelCaseKeys(v, `${path}[${i}]`));
  if (value === null || typeof value !== 'object') return [];
  return Object.entries(value).flatMap(([key, v]) => [
    ...(/[a-z][A-Z]/.test(key) ? [`${path}.${key}`] : []),
    ...camelCaseKeys(v, `${path}.${key}`),
  ]);
}
