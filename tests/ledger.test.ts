/**
 * The books hold (issue P3): portfolios with their own time, order identity that means the intent,
 * re-runs that trade only what changed, failed seats that go flat, orders and artifacts that survive
 * an interrupted run. Each test names the defect it guards against.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { SimulatedBroker } from '../src/broker/sim-broker.js';
import type { App } from '../src/app.js';
import { STAGES } from '../src/council/stage.js';
import { weekOf } from '../src/council/week.js';
import { runWeek } from '../src/council/weekly.js';
import { recordedOrders } from '../src/ledger/orders.js';
import { measurePostmortem } from '../src/metrics/postmortem.js';
import { TimeTravelError } from '../src/portfolio/portfolio.js';
import type { PortfolioManager } from '../src/ports/agents.js';
import type { MarketData } from '../src/ports/market-data.js';
import type { Store } from '../src/storage/db.js';
import { events, orders, portfolios, runs, stageRuns } from '../src/storage/schema.js';
import { failingPm, pmAnswering, pmTrading, withPms, type ForcedTrade } from './helpers/agents.js';
import { resetStore, testApp } from './helpers/app.js';
import { brokerDyingAt, expectBooksMatchFills } from './helpers/ledger.js';
import { storeFactories } from './helpers/stores.js';

const W1 = '2024-03-06';
const W2 = '2024-03-13';
const quiet = () => undefined;

describe.each(storeFactories)('the ledger on $name', (factory) => {
  let store: Store;
  const apps: (App & { cleanup(): Promise<void> })[] = [];
  const open = async (portfolio = 'default', options: Parameters<typeof testApp>[2] = {}) => {
    const app = await testApp(store, {}, { portfolio, ...options });
    apps.push(app);
    return app;
  };
  const week = (app: App, id: string) => weekOf(id, app.config);
  const all = STAGES;

  beforeAll(async () => {
    store = await factory.open();
  });
  afterAll(async () => {
    await store.close();
  });
  beforeEach(async () => {
    for (const app of apps.splice(0)) await app.cleanup();
    await resetStore(store);
  });

  it('#1 weeks out of order: refused in one portfolio with nothing written, run side by side in another', async () => {
    const recent = await open('recent');
    expect((await runWeek(recent, week(recent, W1), all, {}, quiet)).error).toBeNull();
    const before = await measurePostmortem(recent, week(recent, W1));

    const back = await runWeek(recent, week(recent, '2020-03-18'), all, {}, quiet);
    expect(back.error).toBeInstanceOf(TimeTravelError);
    expect(back.error?.message).toBe(
      'portfolio recent has already traded the week of 2024-03-06, after the week of 2020-03-18: time only moves forward in a portfolio; ' +
        'run this week in another one (--portfolio NAME or LLM_TRADING_PORTFOLIO)',
    );
    expect(back.result.refused).toBe(true);
    expect(
      await store.db
        .select()
        .from(runs)
        .where(and(eq(runs.portfolio, 'recent'), eq(runs.weekId, '2020-03-18'))),
    ).toEqual([]);

    const crash = await open('covid');
    const covid = await runWeek(crash, week(crash, '2020-03-18'), all, {}, quiet);
    expect(covid.error).toBeNull();
    const pm2020 = await measurePostmortem(crash, week(crash, '2020-03-18'));
    // A fresh portfolio starts from its own starting cash, not from 2024's positions at 2020 prices.
    expect(pm2020.accounts.map((a) => a.start_equity)).toEqual(Array(6).fill(100_000));
    for (const a of pm2020.accounts) expect(Math.abs(a.pnl_pct)).toBeLessThan(0.3);
    // The 2024 week's books and postmortem did not move.
    expect(await measurePostmortem(recent, week(recent, W1))).toEqual(before);
    await expectBooksMatchFills(store.db, 'recent');
    await expectBooksMatchFills(store.db, 'covid');
    expect((await store.db.select().from(portfolios)).map((p) => p.name).sort()).toEqual(['covid', 'recent']);
  });

  it('#1 the latest week may be re-run; an earlier one may not, even with --force', async () => {
    const app = await open();
    await runWeek(app, week(app, W1), all, {}, quiet);
    await runWeek(app, week(app, W2), all, {}, quiet);
    expect((await runWeek(app, week(app, W2), all, { force: true }, quiet)).error).toBeNull();
    expect((await runWeek(app, week(app, W1), all, { force: true }, quiet)).error).toBeInstanceOf(TimeTravelError);
    // A completed earlier week is still readable: a plain re-run trades nothing and is not refused.
    expect((await runWeek(app, week(app, W1), all, {}, quiet)).error).toBeNull();
  });

  it('#1 a week that ended flat (no order at all) still moves the portfolio’s clock', async () => {
    const flat = () => ({ ticker: 'SPY', direction: 'FLAT' as const, conviction: 0 });
    const seats = Object.fromEntries(
      ['gpt', 'gemini', 'sonnet', 'grok', 'deepseek'].map((s) => [s, (pm: PortfolioManager) => pmTrading(pm, flat)]),
    );
    const app = withPms(await open(), seats);
    const done = await runWeek(app, week(app, W2), all, {}, quiet);
    expect(done.result.decision?.selected_trade.direction).toBe('FLAT');
    expect(await store.db.select().from(orders)).toEqual([]);
    expect((await runWeek(app, week(app, W1), all, {}, quiet)).error).toBeInstanceOf(TimeTravelError);
  });

  it('#3 a forced re-run that returns to a ticker trades it again: SPY → QQQ → SPY ends long SPY', async () => {
    let trade: ForcedTrade = { ticker: 'SPY', direction: 'LONG', conviction: 2 };
    const app = withPms(await open(), { gpt: (pm) => pmTrading(pm, () => trade) });
    const w = week(app, W1);
    await runWeek(app, w, all, {}, quiet);
    trade = { ticker: 'QQQ', direction: 'LONG', conviction: 2 };
    await runWeek(app, w, all, { force: true }, quiet);
    trade = { ticker: 'SPY', direction: 'LONG', conviction: 2 };
    const last = await runWeek(app, w, all, { force: true }, quiet);
    const account = last.result.accounts.find((a) => a.account_id === 1)!;
    expect(account.orders.map((o) => [o.side, o.ticker, o.status])).toEqual([
      ['buy', 'SPY', 'filled'],
      ['sell', 'SPY', 'filled'],
      ['buy', 'QQQ', 'filled'],
      ['sell', 'QQQ', 'filled'],
      ['buy', 'SPY', 'filled'],
    ]);
    expect(new Set(account.orders.map((o) => o.client_order_id)).size).toBe(5);
    expect(account.position).toMatchObject({ ticker: 'SPY', qty: account.orders[0]!.qty });
    await expectBooksMatchFills(store.db, 'default');
  });

  it('#3 a rejected order is retried by a re-run, under a new id', async () => {
    const app = await open();
    // No USO price at the first attempt: the simulated broker records a rejection.
    let outage = true;
    const flaky: MarketData = {
      name: 'flaky',
      bars: (t, through, limit) => app.marketData.bars(t, through, limit),
      coverage: (t) => app.marketData.coverage(t),
      priceAt: (t, d, time) => (outage && t === 'USO' ? Promise.reject(new Error('feed down')) : app.marketData.priceAt(t, d, time)),
      lastPrintAt: (t, d, time) => app.marketData.lastPrintAt(t, d, time),
    };
    const broker = new SimulatedBroker({
      db: store.db,
      portfolio: 'default',
      marketData: flaky,
      clock: app.clock,
      execution: app.config.models.execution,
    });
    const trading = withPms(
      { ...app, broker },
      { gpt: (pm) => pmTrading(pm, () => ({ ticker: 'USO', direction: 'LONG', conviction: 1 })) },
    );
    const first = await runWeek(trading, week(app, W1), all, {}, quiet);
    expect(first.result.accounts[0]!.orders).toMatchObject([
      { ticker: 'USO', status: 'rejected', reject_reason: expect.stringMatching(/feed down/) },
    ]);
    outage = false;
    const retry = await runWeek(trading, week(app, W1), ['risk', 'execute'], { force: true }, quiet);
    const orders1 = retry.result.accounts[0]!.orders;
    expect(orders1.map((o) => o.status)).toEqual(['rejected', 'filled']);
    expect(orders1[0]!.client_order_id).not.toBe(orders1[1]!.client_order_id);
    expect(retry.result.accounts[0]!.position?.ticker).toBe('USO');
  });

  it('#4 --force twice trades nothing when nothing was decided differently, and sizes from the equity at the decision', async () => {
    const app = await open();
    const w = week(app, W1);
    const first = await runWeek(app, w, all, {}, quiet);
    const count = async () => (await recordedOrders(store.db, 'default', { weekId: W1 })).length;
    const placed = await count();
    for (let i = 0; i < 2; i++) {
      const again = await runWeek(app, w, all, { force: true }, quiet);
      expect(again.error).toBeNull();
      expect(await count()).toBe(placed);
      expect(again.result.accounts.map((a) => a.position)).toEqual(first.result.accounts.map((a) => a.position));
    }
    const intents = (await store.db.select().from(stageRuns).where(eq(stageRuns.stage, 'risk')))[0]!.output as {
      intents: { equity_at_decision?: number }[];
    };
    // The first week's decision saw the starting cash, however often it is re-run.
    expect(intents.intents.filter((i) => i.equity_at_decision !== undefined).map((i) => i.equity_at_decision)).toEqual(
      Array(intents.intents.filter((i) => i.equity_at_decision !== undefined).length).fill(100_000),
    );
  });

  it('#5 an account whose seat failed goes flat; with on_seat_failure: hold it keeps its position', async () => {
    const app = withPms(await open(), { gpt: (pm) => pmTrading(pm, () => ({ ticker: 'QQQ', direction: 'LONG', conviction: 2 })) });
    await runWeek(app, week(app, W1), all, {}, quiet);
    const broken = withPms(app, { gpt: (pm) => failingPm(pm) });
    const second = await runWeek(broken, week(app, W2), all, {}, quiet);
    expect(second.error).toBeNull();
    const account = second.result.accounts.find((a) => a.account_id === 1)!;
    expect(account).toMatchObject({ seat_failed: true, trade: null, position: null });
    expect(account.notes).toMatch(/seat gpt has no valid pitch this week \(provider returned 503 four times\): FLAT/);
    expect(account.orders).toMatchObject([{ side: 'sell', ticker: 'QQQ', status: 'filled' }]);

    const holding = await open('holding');
    const holdApp = withPms(
      {
        ...holding,
        config: {
          ...holding.config,
          models: { ...holding.config.models, risk: { ...holding.config.models.risk, on_seat_failure: 'hold' } },
        },
      },
      { gpt: (pm) => pmTrading(pm, () => ({ ticker: 'QQQ', direction: 'LONG', conviction: 2 })) },
    );
    await runWeek(holdApp, week(app, W1), all, {}, quiet);
    const held = await runWeek(withPms(holdApp, { gpt: (pm) => failingPm(pm) }), week(app, W2), all, {}, quiet);
    const kept = held.result.accounts.find((a) => a.account_id === 1)!;
    expect(kept).toMatchObject({ seat_failed: true, orders: [], position: { ticker: 'QQQ' } });
    expect(kept.notes).toMatch(/position held \(risk\.on_seat_failure: hold\)/);
  });

  it('#10 an execution killed midway resumes with every order once, each with its event, all in the result', async () => {
    const app = await open();
    const w = week(app, W1);
    const killed = await runWeek({ ...app, broker: brokerDyingAt(app.broker, 4) }, w, all, {}, quiet);
    expect(killed.error?.message).toMatch(/execute failed: process killed before order 4/);
    expect(await recordedOrders(store.db, 'default', { weekId: W1 })).toHaveLength(3);

    const resumed = await runWeek(app, w, all, {}, quiet);
    expect(resumed.error).toBeNull();
    const placed = resumed.result.accounts.flatMap((a) => a.orders);
    const clean = await runWeek(await open('clean'), w, all, {}, quiet);
    // The same orders as an uninterrupted run: nothing doubled, nothing missing.
    const brief = (o: { account_id: number; side: string; ticker: string; qty: number }) => [o.account_id, o.side, o.ticker, o.qty];
    expect(placed.map(brief)).toEqual(clean.result.accounts.flatMap((a) => a.orders).map(brief));
    const orderEvents = await store.db
      .select()
      .from(events)
      .where(and(eq(events.portfolio, 'default'), eq(events.kind, 'order')));
    expect(orderEvents.map((e) => e.idempotencyKey).sort()).toEqual(placed.map((o) => `order:${o.client_order_id}`).sort());
    const artifact = JSON.parse(readFileSync(join(app.artifacts.dirOf(W1), 'normalized', 'execute.json'), 'utf8'));
    expect(artifact.orders).toHaveLength(placed.length);
    await expectBooksMatchFills(store.db, 'default');
  });

  it('#10 a run killed after its last stage committed is set right by the next (otherwise no-op) run', async () => {
    const app = await open();
    await runWeek(app, week(app, W1), all, {}, quiet);
    await store.db.update(runs).set({ status: 'running' });
    const again = await runWeek(app, week(app, W1), all, {}, quiet);
    expect(again.result.status).toBe('completed');
    expect((await store.db.select().from(runs))[0]?.status).toBe('completed');
  });

  it('#8 a stage whose files cannot be written is not committed, and is redone once they can be', async () => {
    const app = await open();
    const blocker = join(app.artifacts.dirOf(W1), 'normalized');
    mkdirSync(app.artifacts.dirOf(W1), { recursive: true });
    writeFileSync(blocker, 'a file where the folder should be');
    const failed = await runWeek(app, week(app, W1), ['snapshot'], {}, quiet);
    expect(failed.error?.message).toMatch(/^snapshot failed: could not persist the output: cannot write the artifacts under .*: /);
    expect(failed.result.stages.snapshot).toBe('pending');
    rmSync(blocker);
    const again = await runWeek(app, week(app, W1), ['snapshot'], {}, quiet);
    expect(again.error).toBeNull();
    expect(existsSync(join(blocker, 'snapshot.json'))).toBe(true);
  });

  it('#8 a missing artifact of a completed stage is rewritten on resume, and a dead process’s temporary file removed', async () => {
    // gpt answers with text, as an LLM seat does; the offline seats have none, so no raw file.
    const app = withPms(await open(), { gpt: pmAnswering });
    await runWeek(app, week(app, W1), ['snapshot', 'research', 'pm_pitches'], {}, quiet);
    const dir = app.artifacts.dirOf(W1);
    const pitches = join(dir, 'normalized', 'pm_pitches.json');
    const raw = join(dir, 'raw', 'pm_pitches', 'gpt.txt');
    expect(readdirSync(join(dir, 'raw', 'pm_pitches'))).toEqual(['gpt.txt']);
    const original = { pitches: readFileSync(pitches, 'utf8'), raw: readFileSync(raw, 'utf8') };
    expect(original.raw).toMatch(new RegExp(`^Here is my pitch for ${W1}:`));
    rmSync(join(dir, 'normalized', 'pm_pitches.json'));
    rmSync(join(dir, 'raw', 'pm_pitches'), { recursive: true });
    const stale = join(dir, 'normalized', 'peer_review.json.999999.tmp');
    writeFileSync(stale, '{"half": ');
    await runWeek(app, week(app, W1), ['pm_pitches'], {}, quiet);
    // The same content (the database's jsonb orders keys its own way).
    expect(JSON.parse(readFileSync(pitches, 'utf8'))).toEqual(JSON.parse(original.pitches));
    expect(readFileSync(raw, 'utf8')).toBe(original.raw);
    expect(existsSync(stale)).toBe(false);
  });

  it('#8 a step refused for missing inputs leaves nothing behind', async () => {
    const app = await open();
    const refused = await runWeek(app, week(app, W1), ['pm_pitches'], {}, quiet);
    expect(refused.error?.message).toBe(`snapshot has not completed for week ${W1}: run \`llm-trading research --week ${W1}\` first`);
    expect(refused.result).toMatchObject({ status: 'failed', refused: true });
    expect(await store.db.select().from(runs)).toEqual([]);
    expect(await store.db.select().from(stageRuns)).toEqual([]);
    expect(await store.db.select().from(portfolios)).toEqual([]);
    expect(await store.db.select().from(orders)).toEqual([]);
  });
});
