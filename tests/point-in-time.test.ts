/**
 * Point in time over many weeks (issue P5): a backtest on the bundled data, and the same backtest on a
 * copy of the data cut after a random week, agree on everything up to that week — every order, fill,
 * position and postmortem — and on the next week's decisions, whose inputs end exactly at the cut.
 * If anything read a bar from its future, cutting the future away would change it.
 *
 * The week is drawn at random (PIT_SEED=n to repeat one); the seed is in the test's name.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { and, asc, eq, lte } from 'drizzle-orm';
import { afterAll, describe, expect, it } from 'vitest';
import { weeksBetween } from '../src/backtest/backtest.js';
import { driveBacktest } from '../src/backtest/drive.js';
import { decideWeek } from '../src/backtest/backtest.js';
import { loadConfig } from '../src/config/app-config.js';
import { BundledMarketData, defaultMarketDataDir } from '../src/market/bundled-market-data.js';
import { openStore, type Store } from '../src/storage/db.js';
import { stageRuns } from '../src/storage/schema.js';
import { testApp } from './helpers/app.js';
import { booksOf } from './helpers/processes.js';

const SEED = Number(process.env.PIT_SEED ?? Math.floor(Math.random() * 1_000_000));
const config = loadConfig();
const WEEKS = weeksBetween(config, '2022-09-21', '2022-11-09'); // 8 weeks, across the November DST change
/** A week from the 2nd to the 9th: at least one week before the cut and one after. */
const CUT_INDEX = 1 + (((SEED * 2_654_435_761) >>> 0) % (WEEKS.length - 2));

const roots: string[] = [];
const stores: Store[] = [];
afterAll(async () => {
  for (const s of stores) await s.close();
  for (const r of roots) rmSync(r, { recursive: true, force: true });
});

/** A copy of the bundled data without any bar after `through`. */
function dataCutAfter(through: string): string {
  const source = defaultMarketDataDir();
  const dir = mkdtempSync(join(tmpdir(), 'lt-cut-data-'));
  roots.push(dir);
  for (const file of readdirSync(source).filter((f) => f.endsWith('.csv'))) {
    const [header, ...rows] = readFileSync(join(source, file), 'utf8').trim().split('\n');
    writeFileSync(join(dir, file), [header, ...rows.filter((r) => r.slice(0, 10) <= through)].join('\n') + '\n');
  }
  return dir;
}

async function decisionsOf(store: Store, portfolio: string, throughWeek: string) {
  const rows = await store.db
    .select({ week: stageRuns.weekId, stage: stageRuns.stage, status: stageRuns.status, output: stageRuns.output })
    .from(stageRuns)
    .where(and(eq(stageRuns.portfolio, portfolio), lte(stageRuns.weekId, throughWeek)))
    .orderBy(asc(stageRuns.weekId), asc(stageRuns.stage));
  return rows.filter((r) => r.stage !== 'execute' && r.stage !== 'risk').map((r) => ({ ...r, output: withoutTimings(r.output) }));
}

/** A stage's output without how long each seat took (the only thing that differs between two runs). */
function withoutTimings(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutTimings);
  if (value && typeof value === 'object')
    return Object.fromEntries(
      Object.entries(value)
        .filter(([k]) => k !== 'ms')
        .map(([k, v]) => [k, withoutTimings(v)]),
    );
  return value;
}

describe('point in time', () => {
  const cut = WEEKS[CUT_INDEX]!;
  it(`cutting the data after the week of ${cut.week_id} (seed ${SEED}) changes nothing up to it`, { timeout: 120_000 }, async () => {
    const full = await openStore({ memory: true });
    const truncated = await openStore({ memory: true });
    stores.push(full, truncated);
    const inBacktest = { portfolio: 'bt-pit', portfolioKind: 'backtest' as const };
    const appFull = await testApp(full, {}, inBacktest);
    const appCut = await testApp(truncated, {}, { ...inBacktest, marketData: new BundledMarketData({ dir: dataCutAfter(cut.week_end) }) });
    roots.push(appFull.home, appCut.home);
    const settings = { offline: true, allow_offline_seats: false };

    // The whole range with the full data (weeks deciding two at a time, as a backtest with LLM seats).
    const whole = await driveBacktest(appFull, 'pit', WEEKS, { settings, workers: 2 });
    // Up to the cut with the cut data, then the next week's decisions, made from exactly the cut.
    const upToCut = await driveBacktest(appCut, 'pit', WEEKS.slice(0, CUT_INDEX + 1), { settings, workers: 1 });
    const next = WEEKS[CUT_INDEX + 1]!;
    expect(next.data_through).toBe(cut.week_end);
    await decideWeek(appCut, next);

    expect(upToCut.postmortems).toEqual(whole.postmortems.slice(0, CUT_INDEX + 1));
    const booksFull = await booksOf(full.db, 'bt-pit');
    const booksCut = await booksOf(truncated.db, 'bt-pit');
    expect(booksCut.orders.length).toBeGreaterThan(0);
    expect(booksCut.orders).toEqual(booksFull.orders.filter((o) => o.week <= cut.week_id));
    expect(await decisionsOf(truncated, 'bt-pit', next.week_id)).toEqual(await decisionsOf(full, 'bt-pit', next.week_id));
  });
});
