/**
 * The week's postmortem (`llm-trading postmortem --week W`): each account's P/L, max drawdown,
 * turnover, conviction volatility, panic exits and hit rate, the council against the individual PMs,
 * the FLAT and SPY buy-and-hold benchmarks, and what the week's LLM calls cost. Measured from the
 * fills and the daily closes (week-performance.ts); kept as a 'postmortem' event and as
 * runs/<week_id>/normalized/postmortem.json.
 */
import { and, asc, eq, getTableColumns, sql } from 'drizzle-orm';
import type { App } from '../app.js';
import { portfolioWeekUsage, type WeekUsage } from '../council/week-usage.js';
import type { WeekInfo } from '../council/week.js';
import type { StageName, StageOutputs } from '../council/stage.js';
import { accountAgents } from '../council/account-agents.js';
import { completedStageOutputs } from '../council/stage-outputs.js';
import { reusableRows, type Slots } from '../storage/reusable-query.js';
import { ofRun, type RunKey } from '../storage/run-key.js';
import { etToUtc, SESSION_OPEN, sessionHours, tradingDaysBetween } from '../market/calendar.js';
import { appendEvent } from '../storage/event-store.js';
import { accounts as accountRows, stageRuns } from '../storage/schema.js';
import type { Book } from '../ledger/book.js';
import {
  councilVsIndividuals,
  maxDrawdown,
  measureWeek,
  type AccountWeek,
  type CouncilVsIndividuals,
  type FillOfAccount,
} from './week-performance.js';
import { allThenThrow, UserError } from '../errors.js';
import { checkpointRuns, checkpointUpdates } from '../storage/schema.js';
import { renderPostmortemMarkdown, type ConvictionPathReport } from './postmortem-report.js';
import type { CheckpointActionKind, CheckpointActionRecord, CheckpointMark } from './week-performance.js';

export interface Postmortem {
  portfolio: string;
  week_id: string;
  asof_et: string;
  /** The close the week is measured from (the last one the decision saw). */
  data_through: string;
  fill_date: string;
  week_end: string;
  /** The last close measured: week_end once the week is over. */
  through: string;
  complete: boolean;
  accounts: (AccountWeek & { agent: string })[];
  council_vs_individuals: CouncilVsIndividuals;
  benchmarks: {
    flat: { pnl_pct: number; max_drawdown: number };
    spy_buy_hold: { ticker: string; pnl_pct: number; max_drawdown: number };
  };
  /** Checkpoints run this week and measured (they change convictions and make panic exits possible). */
  checkpoints: number;
  /** Each account's checkpoint steps in time order (for the report). */
  conviction_paths: ConvictionPathReport[];
  usage: WeekUsage;
  notes: string[];
}

export class PostmortemError extends UserError {}

/** Measures the week and records the postmortem (a 'postmortem' event and runs/…/normalized/postmortem.json). */
export async function runPostmortem(app: App, week: WeekInfo): Promise<Postmortem> {
  const postmortem = await measurePostmortem(app, week);
  await appendEvent(app.store.db, {
    key: `postmortem:${app.portfolio}:${week.week_id}:${postmortem.through}`,
    portfolio: app.portfolio,
    weekId: week.week_id,
    kind: 'postmortem',
    payload: postmortem,
  });
  await allThenThrow([
    app.artifacts.writeStage(week.week_id, 'postmortem', postmortem, []),
    app.artifacts.writeReport(week.week_id, 'postmortem.md', renderPostmortemMarkdown(postmortem)),
  ]);
  return postmortem;
}

/** The week measured from the ledger and the daily closes; reads only. */
export async function measurePostmortem(app: App, week: WeekInfo): Promise<Postmortem> {
  const { risk, executed, agents, researchFallback } = await weekOutputs(app, week.week_id);
  if (!executed || !risk) {
    throw new PostmortemError(
      `the week of ${week.week_id} has not been executed in portfolio ${app.portfolio}: run \`llm-trading run_weekly --week ${week.week_id}\` first`,
    );
  }
  const { last } = await app.marketData.coverage(app.config.tickers);
  const through = last < week.week_end ? last : week.week_end;
  if (through < week.fill_date) throw new PostmortemError(`no closing prices after the ${week.fill_date} fill yet`);
  const sessions = tradingDaysBetween(week.fill_date, through);
  const closeInstant = (session: string) => etToUtc(session, sessionHours(session).close);

  const closes = new Map<string, number>();
  for (const ticker of app.config.tickers) {
    for (const bar of await app.marketData.bars(ticker, through, sessions.length + 10)) closes.set(`${ticker} ${bar.date}`, bar.close);
  }
  const close = (ticker: string, session: string): number => {
    const value = closes.get(`${ticker} ${session}`);
    if (value === undefined) throw new PostmortemError(`no ${ticker} close on ${session} in ${app.marketData.name}`);
    return value;
  };

  const configured = app.config.models.accounts;
  const stored = await accountsByIds(app.store.db, { portfolio: app.portfolio, ids: configured.map((a) => a.id) });
  // Each account's book before the week, carried by the App's ledger, and its fills of the week.
  const weekStartsAt = etToUtc(week.fill_date, SESSION_OPEN);
  await app.ledger.refresh(app.store.db, app.portfolio);
  const openingBooks = new Map<number, Book>();
  const fills: FillOfAccount[] = [];
  for (const row of stored) {
    openingBooks.set(row.id, app.ledger.stateBefore(row.id, row.startingCash, weekStartsAt).book);
    fills.push(...app.ledger.fillsFrom(row.id, weekStartsAt).filter((f) => f.filledAt <= closeInstant(through)));
  }

  const ran = await checkpointsOfWeek(app, week.week_id);
  const measured = measureWeek({
    dataThrough: week.data_through,
    sessions,
    weekStartsAt,
    closeInstant,
    accounts: configured.flatMap((a) => {
      const row = stored.find((s) => s.id === a.id);
      return row ? [{ id: a.id, owner: a.owner, startingCash: row.startingCash }] : [];
    }),
    fills,
    openingBooks,
    close,
    weeklyConvictions: new Map(risk.intents.map((i) => [i.account_id, i.status === 'trade' && !i.seat_failed ? i.conviction : null])),
    checkpoints: ran.marks,
    actions: ran.actions,
  });

  const accounts = measured.map((a) => ({ ...a, agent: agents.get(a.owner) ?? 'unknown' }));
  const measuredCheckpoints = ran.marks.filter((m) => m.at <= closeInstant(through)).length;
  const benchmark = app.config.assets.benchmark;
  const spyPath = [week.data_through, ...sessions].map((d) => close(benchmark, d));
  const complete = through === week.week_end;
  return {
    portfolio: app.portfolio,
    week_id: week.week_id,
    asof_et: week.asof_et,
    data_through: week.data_through,
    fill_date: week.fill_date,
    week_end: week.week_end,
    through,
    complete,
    accounts,
    council_vs_individuals: councilVsIndividuals(accounts),
    benchmarks: {
      flat: { pnl_pct: 0, max_drawdown: 0 },
      spy_buy_hold: {
        ticker: benchmark,
        pnl_pct: Math.round(((spyPath.at(-1) as number) / (spyPath[0] as number) - 1) * 10_000) / 10_000,
        max_drawdown: maxDrawdown(spyPath),
      },
    },
    checkpoints: measuredCheckpoints,
    conviction_paths: ran.paths,
    usage: await portfolioWeekUsage(app, week.week_id),
    notes: [
      ...(complete ? [] : [`the week is not over: measured through the ${through} close (the week ends ${week.week_end})`]),
      `measured close to close from the ${week.data_through} close (max_drawdown), and also at each checkpoint's last printed prices (max_drawdown_intraday); a drawdown between those instants is not seen`,
      'distributions are not credited (the simulated broker does not pay them)',
      ...(researchFallback ? [researchFallback] : []),
      ...(measuredCheckpoints === 0
        ? ['no checkpoints ran this week: each conviction path has one point, so conviction volatility and panic exits are 0']
        : []),
    ],
  };
}

interface WeekOutputs {
  /** Set when the week's research was the offline fallback. */
  researchFallback?: string;
  risk?: StageOutputs['risk'];
  /** The week's execution completed. */
  executed: boolean;
  /** Model id or offline persona of each account's owner this week. */
  agents: Map<string, string>;
}

const accountsByIds = reusableRows(getTableColumns(accountRows), (db, $: Slots<{ portfolio: string; ids: number[] }>, fields) =>
  db
    .select(fields)
    .from(accountRows)
    .where(and(eq(accountRows.portfolio, $.portfolio), sql`${accountRows.id} = any(${$.ids})`)),
);

// Only what is read: the research pack's fallback note, not the pack; not the execution's output.
const selectWeekOutputs = completedStageOutputs(
  ['research', 'pm_pitches', 'chairman', 'risk', 'execute'],
  sql<unknown>`case ${stageRuns.stage} when 'research' then jsonb_build_object('fallback', ${stageRuns.output}->'fallback') when 'execute' then null else ${stageRuns.output} end`,
);

async function weekOutputs(app: App, weekId: string): Promise<WeekOutputs> {
  const rows = await selectWeekOutputs(app.store.db, { portfolio: app.portfolio, weekId });
  const of = <S extends StageName>(stage: S) => rows.find((r) => r.stage === stage)?.output as StageOutputs[S] | undefined;
  const risk = of('risk');
  const executed = rows.some((r) => r.stage === 'execute');
  const fallback = of('research')?.fallback;
  return {
    ...(fallback
      ? {
          researchFallback: `the research seat ${fallback.model} failed (${fallback.error}): the week was decided on the offline analyst's pack`,
        }
      : {}),
    ...(risk ? { risk } : {}),
    executed,
    agents: accountAgents(app.config, of('pm_pitches'), of('chairman')),
  };
}

interface WeekCheckpoints {
  marks: CheckpointMark[];
  actions: CheckpointActionRecord[];
  paths: ConvictionPathReport[];
}

const completedCheckpointsOfWeek = reusableRows(getTableColumns(checkpointRuns), (db, $: Slots<RunKey>, fields) =>
  db
    .select(fields)
    .from(checkpointRuns)
    .where(and(ofRun(checkpointRuns, $), eq(checkpointRuns.status, 'completed')))
    .orderBy(asc(checkpointRuns.checkpointAt)),
);

// Only what is measured and reported: not the indicators, positions and triggers (most of each row).
const checkpointActionsOfWeek = reusableRows(
  {
    checkpointAt: checkpointUpdates.checkpointAt,
    accountId: checkpointUpdates.accountId,
    owner: checkpointUpdates.owner,
    action: checkpointUpdates.action,
    convictionBefore: checkpointUpdates.convictionBefore,
    convictionAfter: checkpointUpdates.convictionAfter,
    reason: checkpointUpdates.reason,
    invalidationFired: checkpointUpdates.invalidationFired,
  },
  (db, $: Slots<RunKey>, fields) =>
    db
      .select(fields)
      .from(checkpointUpdates)
      .where(ofRun(checkpointUpdates, $))
      .orderBy(asc(checkpointUpdates.checkpointAt), asc(checkpointUpdates.accountId)),
);

/** The week's completed checkpoints: their instants with the prices knowable then, and every account's applied action. */
async function checkpointsOfWeek(app: App, weekId: string): Promise<WeekCheckpoints> {
  const slots = await completedCheckpointsOfWeek(app.store.db, { portfolio: app.portfolio, weekId });
  const marks: CheckpointMark[] = [];
  for (const slot of slots) {
    const prices = new Map<string, number>();
    for (const ticker of app.config.tickers) prices.set(ticker, (await app.marketData.lastPrintAt(ticker, slot.date, slot.time)).price);
    marks.push({
      at: slot.checkpointAt,
      date: slot.date,
      time: slot.time,
      price: (ticker) => {
        const p = prices.get(ticker);
        if (p === undefined) throw new PostmortemError(`no ${ticker} price at the ${slot.date} ${slot.time} checkpoint`);
        return p;
      },
    });
  }
  const rows = await checkpointActionsOfWeek(app.store.db, { portfolio: app.portfolio, weekId });
  const completed = new Set(slots.map((s) => s.checkpointAt.getTime()));
  const done = rows.filter((r) => completed.has(r.checkpointAt.getTime()));
  const slotOf = new Map(slots.map((s) => [s.checkpointAt.getTime(), s]));
  const paths = new Map<number, ConvictionPathReport>();
  for (const r of done) {
    const slot = slotOf.get(r.checkpointAt.getTime());
    const path = paths.get(r.accountId) ?? { account_id: r.accountId, owner: r.owner, steps: [] };
    paths.set(r.accountId, {
      ...path,
      steps: [
        ...path.steps,
        {
          at_et: `${slot?.date ?? ''} ${slot?.time ?? ''}`,
          action: r.action,
          conviction_before: r.convictionBefore,
          conviction_after: r.convictionAfter,
          reason: r.reason,
          invalidation_fired: r.invalidationFired,
        },
      ],
    });
  }
  return {
    marks,
    actions: done.map((r) => ({
      account_id: r.accountId,
      at: r.checkpointAt,
      action: r.action as CheckpointActionKind,
      conviction_before: r.convictionBefore,
      conviction_after: r.convictionAfter,
      trigger_fired: r.invalidationFired !== null,
    })),
    paths: [...paths.values()].sort((a, b) => a.account_id - b.account_id),
  };
}
