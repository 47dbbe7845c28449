/**
 * The whole trading week (issue P4): the checkpoint schedule, point-in-time prices, and a week of
 * checkpoints on the offline agents with its invariants — orders fill at printed prices only, a flat
 * account only STAYs, books equal fills, re-runs place nothing, time only moves forward, a killed
 * checkpoint resumes without doubling an order, a failed owner never trades.
 */
import { cpSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { and, asc, eq } from 'drizzle-orm';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { App } from '../src/app.js';
import { CheckpointError, runCheckpoint, runCheckpoints, type CheckpointResult } from '../src/checkpoint/engine.js';
import { slotOf, weekSlots } from '../src/checkpoint/schedule.js';
import { runWholeWeek } from '../src/checkpoint/whole-week.js';
import { loadConfig } from '../src/config/app-config.js';
import { STAGES } from '../src/council/stage.js';
import { weekOf } from '../src/council/week.js';
import { runWeek } from '../src/council/weekly.js';
import { BundledMarketData, defaultMarketDataDir } from '../src/market/bundled-market-data.js';
import { etToUtc } from '../src/market/calendar.js';
import { recordedOrders } from '../src/ledger/orders.js';
import { TimeTravelError } from '../src/portfolio/portfolio.js';
import type { PortfolioManager } from '../src/ports/agents.js';
import type { MarketData } from '../src/ports/market-data.js';
import type { Store } from '../src/storage/db.js';
import { checkpointRuns, checkpointUpdates } from '../src/storage/schema.js';
import { withPms } from './helpers/agents.js';
import { resetStore, testApp } from './helpers/app.js';
import { brokerDyingAt, expectBooksMatchFills } from './helpers/ledger.js';
import { storeFactories } from './helpers/stores.js';

const WEEK = '2025-06-18'; // Juneteenth (Thursday 06-19) is a holiday in this week
const quiet = () => undefined;
const config = loadConfig();

describe('the checkpoint schedule', () => {
  it('has no slots on a holiday, and skips the decision day’s 09:00 (before the weekly fills)', () => {
    const slots = weekSlots(weekOf(WEEK, config), config);
    expect([...new Set(slots.map((s) => s.date))]).toEqual(['2025-06-18', '2025-06-20', '2025-06-23', '2025-06-24']);
    expect(slots).toHaveLength(16);
    expect(slots.filter((s) => s.skip).map((s) => `${s.date} ${s.time}`)).toEqual(['2025-06-18 09:00']);
    expect(slots[0]?.skip).toMatch(/before the 09:30 open of the decision day/);
  });

  it('skips the checkpoints after an early close, and fills a 12:00 order at the 13:00 close', () => {
    // Thanksgiving week 2024: Thursday 11-28 closed, Friday 11-29 closes at 13:00.
    const slots = weekSlots(weekOf('2024-11-27', config), config);
    expect(slots.some((s) => s.date === '2024-11-28')).toBe(false);
    const friday = slots.filter((s) => s.date === '2024-11-29');
    expect(friday.map((s) => [s.time, s.skip])).toEqual([
      ['09:00', null],
      ['12:00', null],
      ['14:00', 'after the 13:00 early close'],
      ['15:50', 'after the 13:00 early close'],
    ]);
    expect(friday[0]?.fills_at).toEqual(etToUtc('2024-11-29', '09:30'));
    expect(friday[1]?.fills_at.toISOString()).toBe('2024-11-29T18:00:00.000Z');
  });

  it('keeps New York wall-clock times across the DST change (UTC instants move by an hour)', () => {
    const week = weekOf('2024-03-06', config); // clocks change on Sunday 2024-03-10
    expect(slotOf(week, '2024-03-08', '09:00').at.toISOString()).toBe('2024-03-08T14:00:00.000Z');
    expect(slotOf(week, '2024-03-11', '09:00').at.toISOString()).toBe('2024-03-11T13:00:00.000Z');
    expect(slotOf(week, '2024-03-08', '15:50').checkpoint_et).toBe('2024-03-08T15:50:00-05:00');
    expect(slotOf(week, '2024-03-11', '15:50').checkpoint_et).toBe('2024-03-11T15:50:00-04:00');
    expect(slotOf(week, '2024-03-11', '12:00').fills_at.toISOString()).toBe('2024-03-11T20:00:00.000Z');
  });
});

describe('the last print knowable at an instant (bundled daily bars)', () => {
  const md = new BundledMarketData();
  it('is the previous close before the open, the open during the session, the close after it; never modelled', async () => {
    const bars = await md.bars('SPY', '2025-06-20', 2);
    const prev = bars[0]!;
    const day = bars[1]!;
    expect(prev.date).toBe('2025-06-18'); // 06-19 was a holiday
    expect(await md.lastPrintAt('SPY', '2025-06-20', '09:00')).toMatchObject({ date: '2025-06-18', price: prev.close, approximate: false });
    for (const time of ['09:30', '12:00', '14:00', '15:50'])
      expect(await md.lastPrintAt('SPY', '2025-06-20', time)).toMatchObject({ date: '2025-06-20', price: day.open, source: 'bar_open' });
    expect(await md.lastPrintAt('SPY', '2025-06-20', '16:00')).toMatchObject({ price: day.close, source: 'bar_close' });
    // On the holiday itself: the last close before it.
    expect(await md.lastPrintAt('SPY', '2025-06-19', '12:00')).toMatchObject({ date: '2025-06-18', price: prev.close });
  });
});

const slotKey = (c: CheckpointResult) => `${c.date} ${c.time}`;

describe.each(storeFactories)('a whole offline week of checkpoints on $name', (factory) => {
  let store: Store;
  const apps: (App & { cleanup(): Promise<void> })[] = [];
  const open = async (portfolio: string, env: NodeJS.ProcessEnv = {}) => {
    const app = await testApp(store, env, { portfolio });
    apps.push(app);
    return app;
  };
  beforeAll(async () => {
    store = await factory.open();
  });
  afterAll(async () => {
    for (const app of apps.splice(0)) await app.cleanup();
    await store.close();
  });
  beforeEach(async () => {
    for (const app of apps.splice(0)) await app.cleanup();
    await resetStore(store);
  });

  it('trades every action at printed prices, keeps flat accounts flat, and a re-run places nothing', async () => {
    const app = await open('w');
    const week = weekOf(WEEK, app.config);
    const whole = await runWholeWeek(app, week, {}, quiet);
    expect(whole.weekly.error).toBeNull();
    // One P/L for the week: the postmortem's, after the checkpoints (which trade below), not a
    // held-to-week-end measured on Wednesday as if they had not.
    expect(whole.weekly.result.held_to_week_end).toBeNull();
    expect(whole.postmortem?.complete).toBe(true);
    expect(whole.checkpoints.map((c) => c.status).filter((s) => s === 'completed')).toHaveLength(15);
    for (const c of whole.checkpoints.filter((x) => x.status === 'completed'))
      expect(c.updates.map((u) => u.account_id)).toEqual([1, 2, 3, 4, 5, 6]);

    const md = app.marketData;
    const actions = whole.checkpoints.flatMap((c) => c.updates.filter((u) => u.action !== 'STAY').map((u) => ({ c, u })));
    expect(actions.map(({ c, u }) => `${slotKey(c)} ${u.owner} ${u.action}`)).toEqual([
      '2025-06-20 09:00 gemini EXIT',
      '2025-06-24 09:00 gpt REDUCE',
      '2025-06-24 12:00 gpt EXIT',
    ]);
    // The engine's verdict: gemini's UUP SHORT trigger (price above its stop) fired on the 06-18 close.
    const gemini = actions[0]!.u;
    expect(gemini.trigger?.fired).toBe(true);
    expect(gemini.invalidation_fired).toMatch(/^UUP price above /);
    expect(gemini.position?.price_source).toBe('2025-06-18 close');
    // The two gpt actions were not on a fired trigger (a panic cut by the postmortem's definition).
    expect(actions.slice(1).every(({ u }) => u.trigger?.fired === false && u.invalidation_fired === null)).toBe(true);

    // Printed prices only: 09:00 decisions fill at the open, 12:00 ones at the close (2 bps slippage).
    for (const { c, u } of actions) {
      expect(u.orders).toHaveLength(1);
      const order = u.orders[0]!;
      const bar = (await md.bars(order.ticker, c.date, 1))[0]!;
      const printed = c.time === '09:00' ? bar.open : bar.close;
      expect(Math.abs(order.filled_avg_price! / printed - 1)).toBeLessThanOrEqual(0.0002 + 1e-9);
      expect(order.filled_at).toBe(etToUtc(c.date, c.time === '09:00' ? '09:30' : '16:00').toISOString());
    }
    // REDUCE closes half the 531 shares (whole shares), EXIT the rest.
    expect(actions[1]!.u.orders[0]).toMatchObject({ side: 'sell', qty: 265, ticker: 'USO' });
    expect(actions[2]!.u.orders[0]).toMatchObject({ side: 'sell', qty: 266, ticker: 'USO' });
    expect(actions[2]!.u.conviction_before).toBe(1);

    // A flat account only STAYs and never trades again this week.
    const after = whole.checkpoints.filter((c) => slotKey(c) > '2025-06-20 09:00' && c.status === 'completed');
    for (const c of after)
      expect(c.updates.find((u) => u.owner === 'gemini')).toMatchObject({ status: 'flat', action: 'STAY', orders: [] });

    await expectBooksMatchFills(store.db, 'w');
    const ordersBefore = await recordedOrders(store.db, 'w', { weekId: WEEK });
    // The same command again: every part already ran, nothing is placed. A completed checkpoint whose
    // file is missing (killed between its commit and its file) has it written again, from its rows.
    const lost = app.artifacts.normalizedPath(WEEK, 'checkpoint-2025-06-24-1200');
    const file = readFileSync(lost, 'utf8');
    rmSync(lost);
    const again = await runWholeWeek(app, week, {}, quiet);
    expect(again.checkpoints.filter((c) => c.status === 'completed').every((c) => c.already_run)).toBe(true);
    expect(JSON.parse(readFileSync(lost, 'utf8'))).toEqual(JSON.parse(file));
    // --force on the latest checkpoint decides again and trades only a difference: none.
    const last = weekSlots(week, app.config).at(-1)!;
    const forced = await runCheckpoint(app, week, last, { force: true });
    expect(forced.already_run).toBe(false);
    expect(forced.updates.map((u) => u.action)).toEqual(whole.checkpoints.at(-1)!.updates.map((u) => u.action));
    expect(await recordedOrders(store.db, 'w', { weekId: WEEK })).toEqual(ordersBefore);

    // Time only moves forward: an earlier checkpoint, or the week's own execution again, is refused.
    await expect(runCheckpoint(app, week, slotOf(week, '2025-06-23', '12:00'), { force: true })).rejects.toThrow(CheckpointError);
    const rerun = await runWeek(app, week, [...STAGES], { force: true }, quiet);
    expect(rerun.error).toBeInstanceOf(TimeTravelError);
    expect(await recordedOrders(store.db, 'w', { weekId: WEEK })).toEqual(ordersBefore);
  });

  it('resumes a checkpoint killed between orders without doubling one; a failed owner STAYs and trades nothing', async () => {
    const clean = await open('clean');
    const week = weekOf(WEEK, clean.config);
    await runWholeWeek(clean, week, {}, quiet);

    const app = await open('killed');
    expect((await runWeek(app, week, [...STAGES], {}, quiet)).error).toBeNull();
    const slots = weekSlots(week, app.config).filter((s) => `${s.date} ${s.time}` < '2025-06-24 09:00');
    for (const slot of slots) await runCheckpoint(app, week, slot);
    // gpt's REDUCE is the first order at 06-24 09:00: the process dies as it is sent.
    const slot = slotOf(week, '2025-06-24', '09:00');
    await expect(runCheckpoint({ ...app, broker: brokerDyingAt(app.broker, 1) }, week, slot)).rejects.toThrow();
    const resumed = await runCheckpoint(app, week, slot);
    expect(resumed.updates.find((u) => u.owner === 'gpt')).toMatchObject({
      action: 'REDUCE',
      orders: [expect.objectContaining({ qty: 265 })],
    });
    const ids = (p: string) =>
      recordedOrders(store.db, p, { weekId: WEEK, checkpoint: '2025-06-24T09:00' }).then((o) => o.map((x) => x.clientOrderId.slice(12)));
    expect(await ids('killed')).toEqual(await ids('clean'));
    await expectBooksMatchFills(store.db, 'killed');

    // A PM whose checkpoint call fails: recorded as failed, STAY, no order (its REDUCE never happens).
    const failing = await open('failing');
    const broken = withPms(failing, {
      gpt: (inner: PortfolioManager): PortfolioManager => ({
        seat: inner.seat,
        pitch: (ctx, research, opts) => inner.pitch(ctx, research, opts),
        review: (ctx, target, own, opts) => inner.review(ctx, target, own, opts),
        checkpoint: () => Promise.reject(new Error('provider returned 503')),
      }),
    });
    const whole = await runWholeWeek(broken, week, {}, quiet);
    const gpt = whole.checkpoints.flatMap((c) => c.updates.filter((u) => u.owner === 'gpt'));
    expect(gpt.map((u) => `${u.status} ${u.action} ${u.orders.length}`)).toEqual(gpt.map(() => 'failed STAY 0'));
    expect(gpt[0]?.error).toMatch(/provider returned 503/);
    expect(gpt[0]?.reason).toMatch(/did not answer/);
  });

  it('resumes a checkpoint killed after its orders were recorded but before its updates: the same decisions, no new order', async () => {
    const app = await open('after-orders');
    const week = weekOf(WEEK, app.config);
    expect((await runWeek(app, week, [...STAGES], {}, quiet)).error).toBeNull();
    const slots = weekSlots(week, app.config).filter((s) => `${s.date} ${s.time}` <= '2025-06-24 12:00');
    let original: CheckpointResult | undefined;
    for (const slot of slots) original = await runCheckpoint(app, week, slot);
    // gpt's EXIT at 06-24 12:00 (it fills at the close). The process dies after the order is recorded:
    // the slot is left marked running, with none of its updates.
    expect(original?.updates.find((u) => u.owner === 'gpt')).toMatchObject({ action: 'EXIT', orders: [expect.anything()] });
    const slot = slotOf(week, '2025-06-24', '12:00');
    const ordersBefore = await recordedOrders(store.db, 'after-orders', { weekId: WEEK });
    await store.db
      .delete(checkpointUpdates)
      .where(and(eq(checkpointUpdates.portfolio, 'after-orders'), eq(checkpointUpdates.checkpointAt, slot.at)));
    await store.db
      .update(checkpointRuns)
      .set({ status: 'running' })
      .where(and(eq(checkpointRuns.portfolio, 'after-orders'), eq(checkpointRuns.checkpointAt, slot.at)));

    // A new process resumes it: every account decides as before (gpt's own order of this checkpoint is
    // not "an earlier order waiting for the close"), and nothing more is placed.
    const resumed = await runCheckpoint(await open('after-orders'), week, slot);
    const summary = (c: CheckpointResult | undefined) =>
      c?.updates.map((u) => `${u.owner} ${u.status} ${u.action} ${u.orders.map((o) => o.client_order_id).join(',')}`);
    expect(summary(resumed)).toEqual(summary(original));
    expect(await recordedOrders(store.db, 'after-orders', { weekId: WEEK })).toEqual(ordersBefore);
    await expectBooksMatchFills(store.db, 'after-orders');
  });

  it('a run that fails mid-week keeps the slots it finished (written together), and the resumed week equals a clean one', async () => {
    const clean = await open('clean-rows');
    const week = weekOf(WEEK, clean.config);
    await runWholeWeek(clean, week, {}, quiet);

    const app = await open('failed-rows');
    expect((await runWeek(app, week, [...STAGES], {}, quiet)).error).toBeNull();
    // The market data fails on 06-24 (after 06-24's 09:00 REDUCE is planned, before its 12:00 checkpoint).
    const md = app.marketData;
    const failing: MarketData = {
      name: md.name,
      bars: (ticker, through, limit) => md.bars(ticker, through, limit),
      priceAt: (ticker, date, time) => md.priceAt(ticker, date, time),
      coverage: (tickers) => md.coverage(tickers),
      lastPrintAt: (ticker, date, time) =>
        date === '2025-06-24' && time === '12:00' ? Promise.reject(new Error('data feed down')) : md.lastPrintAt(ticker, date, time),
    };
    await expect(runCheckpoints({ ...app, marketData: failing }, week, weekSlots(week, app.config))).rejects.toThrow('data feed down');
    const finished = await store.db
      .select({ date: checkpointRuns.date, time: checkpointRuns.time, status: checkpointRuns.status })
      .from(checkpointRuns)
      .where(eq(checkpointRuns.portfolio, 'failed-rows'))
      .orderBy(asc(checkpointRuns.checkpointAt));
    expect(finished.map((r) => `${r.date} ${r.time} ${r.status}`)).toEqual(
      weekSlots(week, app.config)
        .filter((s) => `${s.date} ${s.time}` < '2025-06-24 12:00')
        .map((s) => `${s.date} ${s.time} ${s.skip ? 'skipped' : 'completed'}`),
    );

    await runWholeWeek(app, week, {}, quiet);
    const rowsOf = async (portfolio: string) =>
      (
        await store.db
          .select()
          .from(checkpointUpdates)
          .where(eq(checkpointUpdates.portfolio, portfolio))
          .orderBy(asc(checkpointUpdates.checkpointAt), asc(checkpointUpdates.accountId))
      ).map(({ portfolio: _p, createdAt: _c, orderIds, ...row }) => ({
        ...row,
        orderIds: (orderIds as string[]).map((id) => id.slice(12)),
      }));
    expect(await rowsOf('failed-rows')).toEqual(await rowsOf('clean-rows'));
    const ids = (p: string) => recordedOrders(store.db, p, { weekId: WEEK }).then((o) => o.map((x) => x.clientOrderId.slice(12)));
    expect(await ids('failed-rows')).toEqual(await ids('clean-rows'));
    await expectBooksMatchFills(store.db, 'failed-rows');
  });
});

describe('point in time at checkpoint granularity', () => {
  let store: Store;
  let dir: string;
  beforeAll(async () => {
    store = await storeFactories[0]!.open();
    // The bundled bars with 2025-06-24's high, low and close and every later bar replaced.
    dir = mkdtempSync(join(tmpdir(), 'lt-bars-'));
    cpSync(defaultMarketDataDir(), dir, { recursive: true });
    for (const file of readdirSync(dir).filter((f) => f.endsWith('.csv'))) {
      const lines = readFileSync(join(dir, file), 'utf8').split('\n');
      const out = lines.map((line) => {
        const [date, o, h, l, c, a, v] = line.split(',');
        if (!date || !/^\d/.test(date) || date < '2025-06-24') return line;
        const k = date === '2025-06-24' ? 1 : 1.07;
        const open = Number(o) * k;
        const close = Number(c) * (date === '2025-06-24' ? 0.93 : 1.07);
        const high = Math.max(open, close, Number(h) * k) * 1.02;
        const low = Math.min(open, close, Number(l) * k) * 0.98;
        return [date, open, high, low, close, Number(a) * k, v].join(',');
      });
      writeFileSync(join(dir, file), out.join('\n'));
    }
  });
  afterAll(async () => {
    rmSync(dir, { recursive: true, force: true });
    await store.close();
  });

  it("changes no decision of a day's checkpoints when the day's high, low, close and every later bar change", async () => {
    const run = async (portfolio: string, env: NodeJS.ProcessEnv) => {
      const app = await testApp(store, env, { portfolio });
      try {
        return await runWholeWeek(app, weekOf(WEEK, app.config), {}, quiet);
      } finally {
        await app.cleanup();
      }
    };
    const real = await run('real', {});
    const altered = await run('altered', { MARKET_DATA_DIR: dir });
    const decisions = (w: typeof real) =>
      w.checkpoints
        .filter((c) => c.date === '2025-06-24')
        .map((c) =>
          c.updates.map(({ account_id, action, conviction_after, reason, indicators_snapshot, trigger, position }) => ({
            account_id,
            action,
            conviction_after,
            reason,
            indicators_snapshot,
            trigger,
            position,
          })),
        );
    expect(decisions(altered)).toEqual(decisions(real));
    expect(
      decisions(real)
        .flat()
        .some((d) => d.action !== 'STAY'),
    ).toBe(true);
    // The alteration did reach the books: the 12:00 EXIT filled at the (changed) close.
    const exit = (w: typeof real) => w.checkpoints.find((c) => slotKey(c) === '2025-06-24 12:00')!.updates[0]!.orders[0]!.filled_avg_price;
    expect(exit(altered)).not.toBe(exit(real));
  });
});
