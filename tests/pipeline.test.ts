import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { count, eq } from 'drizzle-orm';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { App } from '../src/app.js';
import { runWeek } from '../src/council/weekly.js';
import { resolveWeek, weekOf } from '../src/council/week.js';
import { portfolioTag } from '../src/portfolio/portfolio.js';
import { measurePostmortem } from '../src/metrics/postmortem.js';
import type { ProgressEvent } from '../src/council/progress.js';
import { BundledMarketData, defaultMarketDataDir } from '../src/market/bundled-market-data.js';
import type { PortfolioManager } from '../src/ports/agents.js';
import type { Store } from '../src/storage/db.js';
import {
  aggregates,
  decisions,
  events,
  fills,
  orders,
  pitches,
  reviewLabels,
  reviews,
  runs,
  stageRuns,
  tradeIntents,
} from '../src/storage/schema.js';
import { resetStore, testApp } from './helpers/app.js';
import { storeFactories } from './helpers/stores.js';

const WEEK = '2024-03-06';

/** A PM seat that fails in a given way, wrapping a working one for reviews. */
function brokenPm(inner: PortfolioManager, mode: 'throw' | 'invalid' | 'hang'): PortfolioManager {
  return {
    seat: inner.seat,
    async pitch(ctx, research, opts) {
      if (mode === 'throw') throw new Error('provider returned 503 three times');
      if (mode === 'hang') return new Promise(() => undefined);
      const result = await inner.pitch(ctx, research, opts);
      // Valid JSON, but it leaves two instruments unranked: the universe rule must reject it.
      return { ...result, output: { ...result.output, instrument_ranking: result.output.instrument_ranking.slice(0, 8) } };
    },
    review: (ctx, target, own, opts) => inner.review(ctx, target, own, opts),
    checkpoint: (ctx, opts) => inner.checkpoint(ctx, opts),
  };
}

function withPms(app: App, modes: Record<string, 'throw' | 'invalid' | 'hang'>): App {
  const pms = new Map([...app.agents.pms].map(([seat, pm]) => [seat, modes[seat] ? brokenPm(pm, modes[seat]) : pm]));
  return { ...app, agents: { ...app.agents, pms } };
}

async function rowCount(
  store: Store,
  table:
    | typeof pitches
    | typeof reviews
    | typeof decisions
    | typeof tradeIntents
    | typeof orders
    | typeof fills
    | typeof reviewLabels
    | typeof aggregates,
) {
  const [row] = await store.db.select({ n: count() }).from(table);
  return row?.n ?? 0;
}

describe.each(storeFactories)('weekly pipeline on $name', (factory) => {
  let store: Store;
  let app: Awaited<ReturnType<typeof testApp>>;
  let progress: ProgressEvent[];
  const listener = (e: ProgressEvent) => progress.push(e);

  beforeAll(async () => {
    store = await factory.open();
  });
  afterAll(async () => {
    await store.close();
  });
  beforeEach(async () => {
    await resetStore(store);
    app = await testApp(store);
    progress = [];
  });
  afterEach(() => app.cleanup());

  it('runs a whole week: five pitches, twenty anonymized reviews, a decision and six accounts filled at the open', async () => {
    const week = await resolveWeek(WEEK, app.config, app.marketData);
    expect(week).toMatchObject({
      week_id: WEEK,
      data_through: '2024-03-05',
      fill_date: '2024-03-06',
      asof_et: '2024-03-06T08:00:00-05:00',
    });
    const { result, error } = await runWeek(
      app,
      week,
      ['snapshot', 'research', 'pm_pitches', 'peer_review', 'chairman', 'risk', 'execute'],
      {},
      listener,
    );
    expect(error).toBeNull();
    expect(result.status).toBe('completed');
    expect(result.pitches.filter((p) => p.status === 'ok')).toHaveLength(5);
    expect(result.reviews.filter((r) => r.status === 'ok')).toHaveLength(20);
    expect(result.aggregate).toHaveLength(5);
    expect(result.aggregate.reduce((n, a) => n + a.votes, 0)).toBeGreaterThanOrEqual(5);
    expect(result.decision?.selected_trade.ticker).toMatch(/^[A-Z]+$/);
    expect(result.accounts.map((a) => a.account_id)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(result.accounts.find((a) => a.account_id === 5)?.trade).toEqual({
      ticker: result.decision?.selected_trade.ticker,
      direction: result.decision?.selected_trade.direction,
      conviction: result.decision?.conviction,
    });

    // Fills at the fill day's open plus 2 bps of slippage against the order.
    const filled = result.accounts.flatMap((a) => a.orders).filter((o) => o.status === 'filled');
    expect(filled.length).toBeGreaterThan(0);
    for (const order of filled) {
      const [bar] = await app.marketData.bars(order.ticker, '2024-03-06', 1);
      const expected = bar!.open * (order.side === 'buy' ? 1.0002 : 0.9998);
      expect(order.filled_avg_price).toBeCloseTo(expected, 4);
      expect(order.client_order_id).toMatch(
        new RegExp(`^lt-${portfolioTag(app.portfolio)}-20240306-a${order.account_id}-w-\\d+[oarc][A-Z]+$`),
      );
    }

    // held_to_week_end is the postmortem's own measurement (one definition of a week's P/L): positions
    // marked at the close of the week's last session, P/L from the data_through close, SPY from that close.
    expect(result.held_to_week_end?.date).toBe('2024-03-12');
    for (const account of result.accounts) {
      let expected = account.cash as number;
      for (const p of account.position ? [account.position] : []) {
        const [bar] = await app.marketData.bars(p.ticker, '2024-03-12', 1);
        expected += p.qty * bar!.close;
      }
      const held = result.held_to_week_end?.accounts.find((a) => a.account_id === account.account_id);
      expect(held?.equity).toBeCloseTo(expected, 2);
    }
    const [spyStart] = await app.marketData.bars('SPY', '2024-03-05', 1);
    const [spyClose] = await app.marketData.bars('SPY', '2024-03-12', 1);
    expect(result.held_to_week_end?.benchmarks.spy_buy_hold_pct).toBeCloseTo(spyClose!.close / spyStart!.close - 1, 4);
    const postmortem = await measurePostmortem(app, weekOf(WEEK, app.config));
    expect(result.held_to_week_end?.accounts).toEqual(
      postmortem.accounts.map((a) => ({
        account_id: a.account_id,
        owner: a.owner,
        agent: a.agent,
        equity: a.end_equity,
        pnl: a.pnl,
        pnl_pct: a.pnl_pct,
      })),
    );
    expect(result.held_to_week_end?.benchmarks.spy_buy_hold_pct).toBe(postmortem.benchmarks.spy_buy_hold.pnl_pct);
    expect(result.held_to_week_end?.council_vs_individuals.beat).toBe(postmortem.council_vs_individuals.beat);

    // Persisted: the label→seat map, reviews, aggregate, decision, intents, a stage row per stage.
    expect(await rowCount(store, reviewLabels)).toBe(20);
    expect(await rowCount(store, aggregates)).toBe(5);
    expect(await rowCount(store, decisions)).toBe(1);
    const stageRows = await store.db.select().from(stageRuns).where(eq(stageRuns.weekId, WEEK));
    expect(stageRows.map((r) => r.status)).toEqual(Array(7).fill('completed'));
    // Progress was reported stage by stage, and the artifacts exist.
    expect(progress.filter((e) => e.type === 'stage_completed').map((e) => e.stage)).toEqual([
      'snapshot',
      'research',
      'pm_pitches',
      'peer_review',
      'chairman',
      'risk',
      'execute',
    ]);
    expect(readdirSync(join(app.home, 'runs', app.portfolio, WEEK, 'normalized')).sort()).toContain('chairman.json');
    const [stored] = await store.db.select().from(decisions);
    expect(JSON.parse(readFileSync(join(app.home, 'runs', app.portfolio, WEEK, 'normalized', 'chairman.json'), 'utf8')).decision).toEqual(
      stored?.decision,
    );
    // Offline agents have no answer text: their outputs are the record, with no raw/ copy.
    expect(existsSync(join(app.home, 'runs', app.portfolio, WEEK, 'raw'))).toBe(false);
    const [rawEvents] = await store.db.select({ n: count() }).from(events).where(eq(events.kind, 'agent_raw'));
    expect(rawEvents?.n).toBe(0);
  });

  it('is a no-op when re-run, and never doubles an order', async () => {
    const week = weekOf(WEEK, app.config);
    await runWeek(app, week, ['snapshot', 'research', 'pm_pitches', 'peer_review', 'chairman', 'risk', 'execute'], {}, listener);
    const ordersBefore = await rowCount(store, orders);
    const fillsBefore = await rowCount(store, fills);
    progress = [];
    const again = await runWeek(
      app,
      week,
      ['snapshot', 'research', 'pm_pitches', 'peer_review', 'chairman', 'risk', 'execute'],
      {},
      listener,
    );
    expect(again.result.status).toBe('completed');
    expect(progress.every((e) => e.type === 'stage_skipped')).toBe(true);
    // Forcing execution re-submits the same client_order_ids: the broker answers duplicate, nothing fills twice.
    const forced = await runWeek(app, week, ['execute'], { force: true }, listener);
    expect(forced.error).toBeNull();
    expect(await rowCount(store, orders)).toBe(ordersBefore);
    expect(await rowCount(store, fills)).toBe(fillsBefore);
  });

  it('completes with quorum when two PMs fail, recording why, and gives their accounts no trade', async () => {
    app.config.models.council.call_deadline_seconds = 0.3;
    const broken = withPms(app, { gpt: 'throw', grok: 'hang' });
    const week = weekOf(WEEK, app.config);
    const { result, error } = await runWeek(
      broken,
      week,
      ['snapshot', 'research', 'pm_pitches', 'peer_review', 'chairman', 'risk', 'execute'],
      {},
      listener,
    );
    expect(error).toBeNull();
    expect(result.status).toBe('completed');
    const failed = Object.fromEntries(result.pitches.filter((p) => p.status === 'failed').map((p) => [p.seat, p.error]));
    expect(failed).toEqual({ gpt: 'provider returned 503 three times', grok: expect.stringContaining('deadline') });
    // Three reviewers, each reviewing the two other pitches; failed seats neither review nor are reviewed.
    expect(result.reviews).toHaveLength(6);
    expect(result.reviews.every((r) => !['gpt', 'grok'].includes(r.reviewer) && !['gpt', 'grok'].includes(r.target_seat))).toBe(true);
    for (const id of [1, 4]) {
      const account = result.accounts.find((a) => a.account_id === id);
      expect(account?.trade).toBeNull();
      expect(account?.orders).toEqual([]);
      expect(account?.notes).toMatch(/no valid pitch/);
    }
  });

  it('stops at pm_pitches without quorum, persists nothing of it, then resumes there once the seats work', async () => {
    const week = weekOf(WEEK, app.config);
    const broken = withPms(app, { gpt: 'throw', gemini: 'invalid', sonnet: 'throw' });
    const first = await runWeek(
      broken,
      week,
      ['snapshot', 'research', 'pm_pitches', 'peer_review', 'chairman', 'risk', 'execute'],
      {},
      listener,
    );
    expect(first.result.status).toBe('partial');
    expect(first.error?.message).toMatch(
      /pm_pitches failed: pm_pitches: only 2 of 5 seats answered, quorum is 3 \(gpt: provider returned 503 three times; gemini: invalid pitch: instrument_ranking: missing \w+, \w+; sonnet: provider returned 503 three times\)/,
    );
    expect(first.result.stages).toMatchObject({ snapshot: 'completed', research: 'completed', pm_pitches: 'pending', execute: 'pending' });
    expect(await rowCount(store, pitches)).toBe(0);
    expect(await rowCount(store, orders)).toBe(0);
    const [failedRow] = await store.db.select().from(stageRuns).where(eq(stageRuns.stage, 'pm_pitches'));
    expect(failedRow?.status).toBe('failed');
    const [run] = await store.db.select().from(runs);
    expect(run?.status).toBe('partial');

    progress = [];
    const second = await runWeek(
      app,
      week,
      ['snapshot', 'research', 'pm_pitches', 'peer_review', 'chairman', 'risk', 'execute'],
      {},
      listener,
    );
    expect(second.result.status).toBe('completed');
    expect(progress.filter((e) => e.type === 'stage_skipped').map((e) => e.stage)).toEqual(['snapshot', 'research']);
    expect(progress.filter((e) => e.type === 'stage_completed').map((e) => e.stage)).toEqual([
      'pm_pitches',
      'peer_review',
      'chairman',
      'risk',
      'execute',
    ]);
    const researchRuns = await store.db.select().from(events).where(eq(events.kind, 'stage_completed'));
    expect(researchRuns.filter((e) => e.stage === 'research')).toHaveLength(1);
  });

  it("carries the accounts into the next week: last week's positions are closed or resized, never doubled", async () => {
    const all = ['snapshot', 'research', 'pm_pitches', 'peer_review', 'chairman', 'risk', 'execute'] as const;
    const first = await runWeek(app, weekOf(WEEK, app.config), all, {}, listener);
    const second = await runWeek(app, weekOf('2024-03-13', app.config), all, {}, listener);
    expect(second.error).toBeNull();
    for (const account of second.result.accounts) {
      const before = first.result.accounts.find((a) => a.account_id === account.account_id)?.position;
      const trade = account.trade;
      // One instrument per account: after the second week's orders, at most one position, the new trade's.
      expect(account.position === null || account.position.ticker === trade?.ticker).toBe(true);
      if (before && trade && before.ticker !== trade.ticker) {
        expect(account.orders[0]).toMatchObject({ ticker: before.ticker, client_order_id: expect.stringMatching(/-w-0c[A-Z]+$/) });
        expect(account.orders[0]?.qty).toBe(Math.abs(before.qty));
      }
      for (const order of account.orders) expect(order.client_order_id).toMatch(/^lt-[0-9a-f]{8}-20240313-/);
    }
    // Cash plus positions at the second fill day's open is the first week's equity carried forward
    // (minus slippage and commission), not a fresh $100k.
    const equities = second.result.accounts.map((a) => a.equity as number);
    expect(equities.some((e) => Math.abs(e - 100_000) > 50)).toBe(true);
  });

  it('refuses the books of a decided week once a later week has traded, and writes nothing of them', async () => {
    const decisionStages = ['snapshot', 'research', 'pm_pitches', 'peer_review', 'chairman'] as const;
    const all = [...decisionStages, 'risk', 'execute'] as const;
    const early = weekOf(WEEK, app.config);
    await runWeek(app, early, decisionStages, {}, listener);
    // A later week trades first (as another process would, between the decisions and the books).
    expect((await runWeek(app, weekOf('2024-03-13', app.config), all, {}, listener)).error).toBeNull();
    const ordersBefore = await rowCount(store, orders);
    const booked = await runWeek(app, early, all, {}, listener);
    expect(booked.error?.message).toMatch(/has already traded the week of 2024-03-13, after the week of 2024-03-06/);
    expect(booked.result.refused).toBe(true);
    expect(await rowCount(store, orders)).toBe(ordersBefore);
    const [intents] = await store.db.select({ n: count() }).from(tradeIntents).where(eq(tradeIntents.weekId, WEEK));
    expect(intents?.n).toBe(0);
  });

  it('keeps a portfolio on the broker of its first run, also for an app that ensured it before', async () => {
    const all = ['snapshot', 'research', 'pm_pitches', 'peer_review', 'chairman', 'risk', 'execute'] as const;
    expect((await runWeek(app, weekOf(WEEK, app.config), all, {}, listener)).error).toBeNull();
    // Only its name differs (the refusal comes before any order, so no method of it is called).
    const other: App = { ...app, broker: { ...app.broker, name: 'other' } as App['broker'] };
    const refused = await runWeek(other, weekOf('2024-03-13', app.config), all, {}, listener);
    expect(refused.error?.message).toBe(
      `portfolio ${app.portfolio} trades on the sim broker, not other: use another portfolio (--portfolio NAME)`,
    );
    // The app that ran the portfolio goes on without asking again; its books are still the sim broker's.
    expect((await runWeek(app, weekOf('2024-03-13', app.config), all, {}, listener)).error).toBeNull();
    const [row] = await store.db.select({ n: count() }).from(orders).where(eq(orders.weekId, '2024-03-13'));
    expect(row?.n).toBeGreaterThan(0);
  });

  it('names the command to run first when a step runs before its inputs exist', async () => {
    const week = weekOf(WEEK, app.config);
    const { error, result } = await runWeek(app, week, ['peer_review'], {}, listener);
    // The earliest missing input is named, with the command that produces it.
    expect(error?.message).toBe(`snapshot has not completed for week ${WEEK}: run \`llm-trading research --week ${WEEK}\` first`);
    expect(result.status).toBe('failed');
    await runWeek(app, week, ['snapshot', 'research'], {}, listener);
    const next = await runWeek(app, week, ['peer_review'], {}, listener);
    expect(next.error?.message).toBe(`pm_pitches has not completed for week ${WEEK}: run \`llm-trading pm_pitches --week ${WEEK}\` first`);
    expect(next.result.status).toBe('partial');
  });
});

describe('point in time', () => {
  let store: Store;
  let dataDir: string;
  beforeAll(async () => {
    store = await storeFactories[0]!.open();
    // A copy of the bundled data with every bar from the decision day on removed.
    dataDir = mkdtempSync(join(tmpdir(), 'lt-truncated-'));
    for (const file of readdirSync(defaultMarketDataDir()).filter((f) => f.endsWith('.csv'))) {
      const lines = readFileSync(join(defaultMarketDataDir(), file), 'utf8').trimEnd().split('\n');
      writeFileSync(join(dataDir, file), `${lines.filter((l, i) => i === 0 || l.slice(0, 10) < WEEK).join('\n')}\n`);
    }
  });
  afterAll(async () => {
    await store.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('removing every bar from the as-of day on changes no pitch and no decision', async () => {
    const decide = async (marketDataDir?: string) => {
      await resetStore(store);
      const app = await testApp(store, marketDataDir ? { MARKET_DATA_DIR: marketDataDir } : {});
      try {
        const outcome = await runWeek(
          app,
          weekOf(WEEK, app.config),
          ['snapshot', 'research', 'pm_pitches', 'peer_review', 'chairman'],
          {},
          () => undefined,
        );
        expect(outcome.error).toBeNull();
        return outcome.result;
      } finally {
        await app.cleanup();
      }
    };
    const full = await decide();
    const truncated = await decide(dataDir);
    await expect(new BundledMarketData({ dir: dataDir }).bars('SPY', '2030-01-01', 1)).resolves.toMatchObject([{ date: '2024-03-05' }]);
    expect(truncated.pitches).toEqual(full.pitches);
    expect(truncated.decision).toEqual(full.decision);
    expect(truncated.research).toEqual(full.research);
  });
});
