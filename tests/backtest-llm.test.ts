/**
 * Backtests with LLM seats (issue P5) against the local stand-in: the whole-backtest budget refuses a
 * call unsent and the backtest resumes where it stopped once the cap is raised, without asking anything
 * twice; a re-run of the same backtest in a fresh portfolio is answered from the response cache (zero
 * requests, the same books and report); knowledge cutoffs mark the weeks before them contaminated, the
 * report gives the verdict on the clean weeks separately, and the command warns before it starts.
 *
 * Test-speed settings: one checkpoint a day, and cutoffs moved to early 2024 so that, of the two weeks,
 * the first is contaminated (by gpt alone) and the second clean.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backtestPortfolio, decideWeek, weeksBetween, type WeekPostmortem } from '../src/backtest/backtest.js';
import { weekOf } from '../src/council/week.js';
import { driveBacktest } from '../src/backtest/drive.js';
import { openJobQueue, startWorker } from '../src/backtest/jobs.js';
import { buildBacktestReport, type BacktestReport } from '../src/backtest/report.js';
import { renderBacktestMarkdown } from '../src/backtest/report-markdown.js';
import { renderBacktestReport } from '../src/cli/backtest-summary.js';
import { loadConfig } from '../src/config/app-config.js';
import { BacktestBudgetExceededError } from '../src/llm/backtest-budget.js';
import { openStore, type Store } from '../src/storage/db.js';
import { backtests, checkpointUpdates, llmCalls } from '../src/storage/schema.js';
import { testApp } from './helpers/app.js';
import { cli } from './helpers/cli.js';
import { offlineAnswersByWeek, schemaNameOf, seatOfModel, weeklyCouncilResponder } from './helpers/council-responder.js';
import { fastConfigDir } from './helpers/fast-config.js';
import { createScratchDatabase } from './helpers/stores.js';
import { startStandIn, type StandIn, type StandInRequest } from './helpers/llm-stand-in.js';

const W1 = '2024-02-28';
const W2 = '2024-03-06';

let standIn: StandIn;
let store: Store;
let configDir: string;
let root: string;
const seatOf = seatOfModel({ config: loadConfig() }, 'requesty');

beforeAll(async () => {
  const answers = await offlineAnswersByWeek([W1, W2]);
  standIn = await startStandIn(weeklyCouncilResponder(answers, seatOf));
  store = await openStore({ memory: true });
  root = mkdtempSync(join(tmpdir(), 'lt-bt-llm-'));
  configDir = fastConfigDir({ callDeadlineSeconds: 5, checkpoints: ['09:00'] });
  const models = join(configDir, 'models.yaml');
  writeFileSync(
    models,
    readFileSync(models, 'utf8')
      .replace(/knowledge_cutoff: \S+/g, 'knowledge_cutoff: 2024-01-31')
      .replace(/(models: \{ requesty: openai\/gpt-5\.1[^\n]*\n(?:\s+#[^\n]*\n)*\s+knowledge_cutoff: )\S+/, `$1${W1}`),
  );
  expect(loadConfig(configDir).models.seats.gpt?.knowledge_cutoff).toBe(W1);
});
afterAll(async () => {
  await standIn.close();
  await store.close();
  rmSync(root, { recursive: true, force: true });
  rmSync(configDir, { recursive: true, force: true });
});

const ENV = () => ({
  LLM_TRADING_CONFIG_DIR: configDir,
  REQUESTY_API_KEY: 'rq-test-key-0123456789',
  REQUESTY_BASE_URL: `${standIn.url}/v1`,
  PERPLEXITY_API_KEY: 'pplx-test-key-0123456789',
  PERPLEXITY_BASE_URL: standIn.url,
});

/** `backtest --from W1 --to W2 --name NAME [--budget-usd N]` in-process on the shared store (one process each). */
async function backtestIn(
  name: string,
  budgetUsd?: number,
  on: Store = store,
  to: string = W2,
): Promise<{ report: BacktestReport; postmortems: WeekPostmortem[] }> {
  const app = await testApp(on, ENV(), {
    offline: false,
    portfolio: backtestPortfolio(name),
    portfolioKind: 'backtest',
    ...(budgetUsd !== undefined ? { backtestBudgetUsd: budgetUsd } : {}),
  });
  try {
    const run = await driveBacktest(app, name, weeksBetween(app.config, W1, to), {
      settings: { offline: false, allow_offline_seats: false },
      // One week deciding at a time: the refusal test counts which seats of the first week were asked.
      workers: 1,
    });
    return { report: await buildBacktestReport(app, run), postmortems: run.postmortems };
  } finally {
    await app.cleanup();
  }
}

const sent = (r: StandInRequest) => r.kind !== 'async_poll';
const textOf = (r: StandInRequest) => (r.chat?.messages ?? []).map((m) => m.content).join('\n');
const callsOf = (portfolio: string) => store.db.select().from(llmCalls).where(eq(llmCalls.portfolio, portfolio));

describe('backtests with LLM seats', () => {
  let capped: { report: BacktestReport; postmortems: WeekPostmortem[] };

  it('refuses unsent the call that would pass the whole-backtest cap, and resumes after the cap is raised', async () => {
    // Research (≈ $0.04 estimated) fits under $0.10; the five pitches, estimated at $0.003–0.08 each, do not all.
    const refused = await backtestIn('capped', 0.1).then(
      () => null,
      (error: unknown) => error,
    );
    expect(refused).toBeInstanceOf(BacktestBudgetExceededError);
    const message = (refused as Error).message;
    expect(message).toMatch(
      /^LLM budget of \$0\.1 for this backtest would be exceeded by \w+'s call to requesty\/\S+: \$0\.01 spent in portfolio bt-capped( \+ \$[\d.]+ in flight)? \+ an estimated \$[\d.]+ for this call; nothing was sent\. Raise it with --budget-usd \(or budget_usd_per_backtest in config\/llm\.yaml\) and run the same command to continue$/,
    );
    // Every refused call is recorded, and none of them reached the server.
    const calls = await callsOf('bt-capped');
    const refusedSeats = calls.filter((c) => c.status === 'budget_exceeded').map((c) => c.seat);
    expect(refusedSeats.length).toBeGreaterThan(0);
    expect(message).toContain(`by ${refusedSeats[0]}'s call`);
    const pitchedSeats = standIn.requests
      .filter((r) => schemaNameOf(r) === 'pm_pitch_with_ranking')
      .map((r) => seatOf(r.chat?.model ?? ''));
    for (const seat of refusedSeats) expect(pitchedSeats).not.toContain(seat);
    expect(pitchedSeats.length).toBeLessThan(5);
    // The week is not finished: nothing of the pitches stage committed, no week counted.
    const [row] = await store.db.select().from(backtests).where(eq(backtests.name, 'capped'));
    expect(row).toMatchObject({ weeksDone: 0, status: 'failed' });
    expect(row?.error).toBe(message);

    // Raised: the same backtest continues; what was answered before is not asked (nor paid for) again.
    capped = await backtestIn('capped', 10);
    expect(capped.report.weeks).toBe(2);
    const asked = standIn.requests.filter(sent).map((r) => `${r.chat?.model} ${textOf(r)}`);
    expect(new Set(asked).size).toBe(asked.length);
    const spent = (await callsOf('bt-capped')).reduce((s, c) => s + c.costUsd, 0);
    expect(spent).toBeCloseTo(0.01 * asked.length, 9); // the stand-in bills $0.01 an answer
  });

  it('re-runs the same backtest in a fresh portfolio from the cache: zero requests, the same books and report', async () => {
    const before = standIn.requests.length;
    const again = await backtestIn('again');
    expect(standIn.requests.length).toBe(before);
    const calls = await callsOf('bt-again');
    expect(calls.length).toBeGreaterThan(0);
    expect(new Set(calls.map((c) => c.status))).toEqual(new Set(['cache_hit']));
    // Seats that failed in the first run (a STAY the engine refused when the rule had fired, still
    // invalid after the re-asks) fail the same way: their invalid answers are replayed too.
    expect((await callsOf('bt-capped')).some((c) => c.status === 'invalid_output')).toBe(true);

    expect({ ...again.report, name: 'capped', portfolio: 'bt-capped' }).toEqual(capped.report);
    // The books: every week's postmortem (fills, equity paths, convictions, actions) but its LLM usage,
    // which says the answers came from the cache and cost nothing.
    const books = (pms: WeekPostmortem[], portfolio: string) =>
      pms.map(({ usage: _usage, ...pm }) => JSON.parse(JSON.stringify(pm).replaceAll(portfolio, 'bt-capped')) as unknown);
    expect(books(again.postmortems, 'bt-again')).toEqual(books(capped.postmortems, 'bt-capped'));
    expect(again.postmortems.map((pm) => pm.usage)).toMatchObject([
      { cost_usd: 0, prompt_tokens: 0 },
      { cost_usd: 0, prompt_tokens: 0 },
    ]);

    // Contamination: the first week is on gpt's cutoff, the second after every cutoff.
    const report = again.report;
    expect(report.contamination).toMatchObject({
      clean_weeks: 1,
      contaminated_weeks: 1,
      weeks: [
        { week_id: W1, decision_date: W1, contaminated: true, seats: ['gpt'] },
        { week_id: W2, decision_date: W2, contaminated: false, seats: [] },
      ],
    });
    expect(report.clean_verdict?.weeks).toBe(1);
    expect(report.clean_verdict?.verdict).toMatchObject({ weeks: 1, first_week: W2, last_week: W2 });
    expect(report.clean_verdict?.sentence).toMatch(/^on the clean week: over 1 week the council's weekly return/);
    expect(report.verdict.weeks).toBe(2);
    const text = renderBacktestReport(report);
    expect(text).toContain(
      "\nClean weeks: 1 of 2 (1 contaminated: a decision day on or before a seat's knowledge cutoff)\n  on the clean week: over 1 week",
    );
    expect(text).toContain(`  gpt (openai/gpt-5.1, cutoff ${W1}): 1 week contaminated`);
    const markdown = renderBacktestMarkdown(report);
    expect(markdown).toContain(`## Knowledge cutoffs: the verdict on clean weeks\n\n**${report.clean_verdict?.sentence}**`);
    expect(markdown).toContain(`| ${W1} (1) | gpt |\n| ${W2} (1) | clean |`);
    expect(report.notes.at(-1)).toMatch(
      /^knowledge cutoffs: 1 of 2 weeks contaminated \(.*\) by gpt \(openai\/gpt-5\.1, cutoff 2024-02-28\)$/,
    );
  });

  it('warns about contaminated weeks before the first week, and stops with one line naming the cap, the spending and the fix', async () => {
    const before = standIn.requests.length;
    const env = { ...ENV(), LLM_TRADING_HOME: join(root, 'home') };
    const run = await cli(['backtest', '--from', W1, '--to', W2, '--name', 'cli', '--budget-usd', '0.01'], env);
    expect(run.code).toBe(1);
    const warning = run.stderr.indexOf('warning: 1 of 2 weeks are contaminated');
    expect(warning).toBeGreaterThan(0);
    expect(run.stderr).toContain(`  gpt (openai/gpt-5.1, cutoff ${W1}): 1 week\n`);
    expect(run.stderr).toContain('the report gives the verdict on the 1 clean week separately');
    const error = run.stderr.indexOf(
      "llm-trading: LLM budget of $0.01 for this backtest would be exceeded by researcher's call to perplexity/sonar-deep-research: $0 spent in portfolio bt-cli + an estimated $",
    );
    expect(error).toBeGreaterThan(warning);
    expect(run.stderr.trim().split('\n').at(-1)).toMatch(
      /nothing was sent\. Raise it with --budget-usd .* and run the same command to continue$/,
    );
    expect(standIn.requests.length).toBe(before);

    const bad = await cli(['backtest', '--from', W1, '--to', W2, '--budget-usd', '0'], env);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/expected an amount of US dollars > 0, got "0"/);
  });
  it('a refusal during a checkpoint stops the backtest without recording a failed update; raised, the checkpoint asks again', async () => {
    // A store of its own whose cache holds the week's decisions (made in another portfolio) but none of
    // its checkpoints: the decisions cost nothing, the first checkpoint call passes the cap.
    const own = await openStore({ memory: true });
    try {
      const warm = await testApp(own, ENV(), { offline: false, portfolio: backtestPortfolio('warm'), portfolioKind: 'backtest' });
      try {
        await decideWeek(warm, weekOf(W1, warm.config));
      } finally {
        await warm.cleanup();
      }
      const refused = await backtestIn('midweek', 0.05, own, W1).then(
        () => null,
        (error: unknown) => error,
      );
      expect(refused).toBeInstanceOf(BacktestBudgetExceededError);
      const calls = await own.db.select().from(llmCalls).where(eq(llmCalls.portfolio, 'bt-midweek'));
      expect(calls.filter((c) => c.status === 'budget_exceeded').map((c) => c.stage)).toContain('checkpoint');
      const updates = () => own.db.select().from(checkpointUpdates).where(eq(checkpointUpdates.portfolio, 'bt-midweek'));
      const failedForBudget = async () => (await updates()).filter((u) => /budget/i.test(u.reason));
      expect(await failedForBudget()).toEqual([]);
      const done = await backtestIn('midweek', 10, own, W1);
      expect(done.report.weeks).toBe(1);
      expect(await failedForBudget()).toEqual([]);
      expect((await updates()).length).toBeGreaterThan(0);
    } finally {
      await own.close();
    }
  });
});

describe.skipIf(!process.env.TEST_DATABASE_URL)('backtests with LLM seats on the job queue', () => {
  it('a cap raised to continue reaches a worker that already holds the backtest: it opens the backtest again with the new settings', async () => {
    const scratch = await createScratchDatabase(process.env.TEST_DATABASE_URL as string);
    const pgStore = await openStore({ databaseUrl: scratch.url });
    const env = { ...ENV(), DATABASE_URL: scratch.url };
    const config = loadConfig(configDir);
    const queue = await openJobQueue(scratch.url, config.schedule.jobs, () => undefined);
    const lines: string[] = [];
    // A `llm-trading worker` of its own: it keeps the backtest's app open between jobs.
    const probe = await testApp(pgStore, env, { offline: false, portfolio: backtestPortfolio('probe'), portfolioKind: 'backtest' });
    const worker = await startWorker(queue, {
      store: pgStore,
      env: probe.env,
      config,
      slots: 1,
      lockTimeoutMs: 60_000,
      log: (l) => lines.push(l),
    });
    /** `backtest --name raised --budget-usd USD --workers 0`: the command waits, the worker does the weeks. */
    const command = async (budgetUsd: number) => {
      const app = await testApp(pgStore, env, {
        offline: false,
        portfolio: backtestPortfolio('raised'),
        portfolioKind: 'backtest',
        backtestBudgetUsd: budgetUsd,
      });
      try {
        return await driveBacktest(app, 'raised', weeksBetween(app.config, W1, W2), {
          settings: { offline: false, allow_offline_seats: false, budget_usd: budgetUsd },
          workers: 0,
          pollMs: 100,
        });
      } finally {
        await app.cleanup();
      }
    };
    try {
      await expect(command(0.1)).rejects.toThrow(/^backtest raised failed: LLM budget of \$0\.1 for this backtest would be exceeded/);
      // The worker may still hold the app it opened with the $0.1 cap, or have closed it when a later job
      // of the failed run found the backtest failed (timing): either way the continuation must run
      // with the new cap (the old code failed it again in both cases: it kept the stored settings).
      const run = await command(10);
      expect(run.postmortems.map((p) => p.week_id)).toEqual([W1, W2]);
      const [row] = await pgStore.db.select().from(backtests).where(eq(backtests.name, 'raised'));
      expect(row).toMatchObject({ status: 'running', error: null, weeksDone: 2, settings: { budget_usd: 10 } }); // 'completed' once the command stores its report
      expect(lines.filter((l) => /budget of \$10\b/.test(l))).toEqual([]);
    } finally {
      await worker.stop();
      await queue.close();
      await worker.close();
      await probe.cleanup();
      await pgStore.close();
      await scratch.drop();
    }
  }, 120_000);
});
