import { and, eq, type Placeholder, type SQL } from 'drizzle-orm';
import type { PgColumn } from 'drizzle-orm/pg-core';

/** One week's run in one portfolio: the key of every per-run row. */
export interface RunKey {
  portfolio: string;
  weekId: string;
}

/**
 * `portfolio = key.portfolio and week_id = key.weekId` for any table that has both columns (the key's
 * parts may be placeholders of a reusable query).
 */
export function ofRun(
  table: { portfolio: PgColumn; weekId: PgColumn },
  key: { portfolio: string | Placeholder; weekId: string | Placeholder },
): SQL {
  return and(eq(table.portfolio, key.portfolio), eq(table.weekId, key.weekId)) as SQL;
}
