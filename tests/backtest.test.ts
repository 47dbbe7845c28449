/**
 * Backtests (issue P5, first part): a range of whole weeks in the backtest's own portfolio, its report
 * (performance of every account and benchmark, the verdict with its bootstrap interval) stored and
 * written, listed and shown again; a backtest killed with -9 after some weeks continues at the first
 * week not finished and ends with the same report and books as an uninterrupted one.
 */
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore } from '../src/storage/db.js';
import { continueCommand } from '../src/backtest/backtest.js';
import { renderBacktestMarkdown } from '../src/backtest/report-markdown.js';
import { multipleComparisonsNote } from '../src/backtest/report.js';
import { renderBacktestReport } from '../src/cli/backtest-summary.js';
import { pct } from '../src/cli/format.js';
import { councilVerdict } from '../src/metrics/verdict.js';
import { and, eq } from 'drizzle-orm';
import { BundledMarketData } from '../src/market/bundled-market-data.js';
import { accounts, positions } from '../src/storage/schema.js';
import { cli } from './helpers/cli.js';
import { runCli as runCliInProcess } from '../src/cli/program.js';
import { expectBooksMatchFills } from './helpers/ledger.js';
import { booksOf, startCli } from './helpers/processes.js';
import { until } from './helpers/queue-config.js';

let root: string;
beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'lt-backtest-'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

const ARGS = ['backtest', '--from', '2024-02-21', '--to', '2024-03-06', '--offline', '--name', 'feb'];

describe('llm-trading backtest', () => {
  it('replays the weeks, reports and stores the verdict, lists and shows it, and continues an interrupted run to the same report', async () => {
    const env = { LLM_TRADING_HOME: join(root, 'home') };
    const run = await cli([...ARGS, '--json'], env);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toMatch(/^ {2}3\/3 weeks/m);
    const report = JSON.parse(run.stdout);
    expect(report).toMatchObject({
      name: 'feb',
      portfolio: 'bt-feb',
      weeks: 3,
      from_week: '2024-02-21',
      to_week: '2024-03-06',
      mode: 'offline',
    });
    // The daily equity runs from the close before the first decision to the last week's last close.
    expect(report.first_date).toBe('2024-02-20');
    expect(report.last_date).toBe('2024-03-12');
    expect(report.accounts.map((a: { owner: string }) => a.owner)).toEqual(['gpt', 'gemini', 'sonnet', 'grok', 'council', 'deepseek']);
    for (const a of report.accounts) {
      expect(a.stats.days).toBe(15); // 16 sessions 2024-02-20..2024-03-12
      expect(Object.values(a.agents as Record<string, number>).reduce((s, n) => s + n, 0)).toBe(3);
    }
    expect(report.benchmarks.flat).toMatchObject({ total_return: 0, max_drawdown: 0 });
    expect(report.benchmarks.spy_buy_hold.ticker).toBe('SPY');
    expect(report.verdict).toMatchObject({ weeks: 3, block_length: 4, min_weeks_for_interval: 20, resamples: 10_000, seed: 1 });
    expect(report.verdict.vs_individuals).toHaveLength(5);
    // Five per-PM intervals beside the headline: the report says they are not adjusted for it.
    const comparisons = multipleComparisonsNote(5);
    expect(comparisons).toMatch(/not adjusted for 5 comparisons \(if they were independent, 1 − 0\.95\^5 ≈ 23% of backtests/);
    expect(report.notes).toContain(comparisons);
    expect(renderBacktestReport(report)).toContain(`  note: ${comparisons}`);
    expect(renderBacktestMarkdown(report)).toContain(comparisons);
    // Price returns only, said with what the bond ETFs paid over these very dates.
    expect(report.notes).toContainEqual(
      expect.stringMatching(
        /^distributions are not credited \(nor charged to shorts\): .*; over these dates the ETFs paid about .*HYG \d+\.\d%.* in all \(15 sessions, under a year: not annualized\) \(from the bars' adjusted closes\)/,
      ),
    );
    // Three weeks are too few for an interval: the report says so rather than claim one.
    expect(report.verdict.sentence).toMatch(
      /^over 3 weeks the council's weekly return (exceeded|trailed) the PMs' mean by \d+\.\d bp: too few weeks to tell \(a 95% interval from 4-week blocks needs at least 20 weeks\)$/,
    );
    expect(report.verdict.vs_individuals_mean).toMatchObject({ ci_low: null, ci_high: null, distinguishable_from_zero: false, weeks: 3 });
    // Over enough weeks the terminal and report.md show the interval (a verdict over 24 made-up weeks).
    const weekly = (k: number) => Array.from({ length: 24 }, (_, t) => Math.sin(t * k) / 100);
    const owners = ['gpt', 'gemini', 'sonnet', 'grok', 'deepseek'];
    const long = councilVerdict({
      weeks: Array.from({ length: 24 }, (_, t) => `W${t}`),
      council: weekly(1),
      individuals: new Map(owners.map((o, i) => [o, weekly(i + 2)])),
      councilMaxDrawdown: 0.05,
      individualsMaxDrawdown: new Map(owners.map((o) => [o, 0.06])),
    });
    expect(renderBacktestReport({ ...report, verdict: long })).toMatch(
      /^ {2}council − PMs' mean +mean -?\d+\.\d bp +95% CI \[-?\d+\.\d, -?\d+\.\d\] bp +won /m,
    );
    // The shares of weeks won in one column, whatever the intervals' widths.
    const verdictLines = renderBacktestReport({ ...report, verdict: long })
      .split('\n')
      .filter((l) => l.startsWith('  council − '));
    expect(verdictLines).toHaveLength(6);
    expect(new Set(verdictLines.map((l) => l.indexOf(' won ')))).toHaveProperty('size', 1);
    // Every account's label whole (the longest persona names used to be cut), its figures in line with the header's.
    const table = renderBacktestReport(report).split('\n');
    const header = table.find((l) => l.startsWith('  account ')) as string;
    for (const a of report.accounts) {
      const label = `${a.account_id} ${a.owner} (${Object.keys(a.agents).join(', ')})`;
      const row = table.find((l) => l.startsWith(`  ${label} `));
      expect(row, label).toBeDefined();
      expect(row?.indexOf(pct(a.stats.total_return))).toBe(header.indexOf('total'));
    }
    expect(renderBacktestMarkdown({ ...report, verdict: long })).toMatch(/^\| PMs' mean \| -?\d+\.\d \| \[-?\d+\.\d, -?\d+\.\d\] \| /m);
    expect(renderBacktestMarkdown(report)).toMatch(/^\| PMs' mean \| -?\d+\.\d \| – \| /m);

    const dir = join(env.LLM_TRADING_HOME, 'runs', 'bt-feb', 'backtest');
    const csv = readFileSync(join(dir, 'equity.csv'), 'utf8').trim().split('\n');
    expect(csv[0]).toBe('date,1_gpt,2_gemini,3_sonnet,4_grok,5_council,6_deepseek');
    expect(csv).toHaveLength(17);
    expect(readFileSync(join(dir, 'report.md'), 'utf8')).toContain(`**${report.verdict.sentence}**`);
    expect(existsSync(join(dir, 'report.json'))).toBe(true);
    // Each week's files, written behind on a thread of their own, are all there once it counts as done.
    for (const weekId of ['2024-02-21', '2024-02-28', '2024-03-06']) {
      const week = join(env.LLM_TRADING_HOME, 'runs', 'bt-feb', weekId);
      const files = readdirSync(week, { recursive: true }).map(String);
      for (const stage of ['snapshot', 'research', 'pm_pitches', 'peer_review', 'chairman', 'risk', 'execute', 'postmortem'])
        expect(files).toContain(join('normalized', `${stage}.json`));
      expect(files.filter((f) => /normalized\/checkpoint-.*\.json$/.test(f)).length).toBeGreaterThanOrEqual(19);
      expect(files).toContain('postmortem.md');
      expect(files.filter((f) => f.endsWith('.tmp'))).toEqual([]);
      expect(JSON.parse(readFileSync(join(week, 'normalized', 'postmortem.json'), 'utf8')).week_id).toBe(weekId);
    }

    const list = JSON.parse((await cli(['backtests', '--json'], env)).stdout);
    expect(list).toEqual([
      expect.objectContaining({ name: 'feb', status: 'completed', weeks_done: 3, weeks_total: 3, verdict: report.verdict.sentence }),
    ]);
    // What the run printed, byte for byte: the stored report keeps its keys in the run's order.
    expect((await cli(['backtest', 'show', 'feb', '--json'], env)).stdout).toBe(run.stdout);
    const text = await cli(['backtest', 'show', 'feb'], env);
    expect(text.stdout).toMatch(/^Verdict: over 3 weeks/m);
    expect(text.stdout).toMatch(/^ {2}council − PMs' mean +mean -?\d+\.\d bp +95% CI none \(too few weeks\) +won /m);
    expect(text.stdout).toMatch(/^ {2}SPY buy-and-hold/m);
    expect((await cli(['backtest', 'show', 'nope'], env)).stderr.trim()).toBe(
      'llm-trading: no backtest named nope (see `llm-trading backtests`)',
    );

    // Killed with -9 once a week is booked (a real crash, in the middle of the next week: the embedded
    // database recovers from its log, and the home's lock is free again), the same command continues
    // at the first week not finished and ends with the same report and the same books.
    const crashed = { LLM_TRADING_HOME: join(root, 'crashed') };
    const running = startCli(ARGS, crashed);
    let progress = '';
    running.child.stderr?.on('data', (d: Buffer) => {
      progress += d.toString();
      if (/^ {2}1\/3 weeks/m.test(progress)) running.child.kill('SIGKILL');
    });
    const killed = await running.done;
    expect(killed.signal, killed.stderr).toBe('SIGKILL');
    const again = await cli([...ARGS, '--json'], crashed);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toMatch(/continued: (1 week|2 weeks) had finished in an earlier run/);
    expect(again.stderr).not.toMatch(/^ {2}1\/3 weeks/m);
    expect(JSON.parse(again.stdout)).toEqual(report);
    // Money is conserved in both: each account's cash and positions are its starting cash replayed
    // through its fills, and the report's last daily equity is that cash plus the positions at the
    // last close.
    const market = new BundledMarketData();
    const books = async (home: string) => {
      const store = await openStore({ home, migrate: false });
      try {
        await expectBooksMatchFills(store.db, 'bt-feb');
        const lines = readFileSync(join(home, 'runs', 'bt-feb', 'backtest', 'equity.csv'), 'utf8')
          .trim()
          .split('\n');
        const [date, ...equity] = (lines.at(-1) as string).split(',');
        expect(date).toBe(report.last_date);
        for (const account of await store.db.select().from(accounts).where(eq(accounts.portfolio, 'bt-feb'))) {
          let marked = account.cash;
          const held = await store.db
            .select()
            .from(positions)
            .where(and(eq(positions.portfolio, 'bt-feb'), eq(positions.accountId, account.id)));
          for (const p of held) marked += p.qty * ((await market.bars(p.ticker, report.last_date, 1)).at(-1)?.close ?? NaN);
          expect(Number(equity[account.id - 1])).toBeCloseTo(marked, 2);
        }
        return await booksOf(store.db, 'bt-feb');
      } finally {
        await store.close();
      }
    };
    const clean = await books(env.LLM_TRADING_HOME);
    expect(clean.orders.length).toBeGreaterThan(0);
    expect(await books(crashed.LLM_TRADING_HOME)).toEqual(clean);
    // The same name with another range is refused, in one line, before any header says it starts.
    expect(
      (await cli(['backtest', '--from', '2024-02-21', '--to', '2024-03-13', '--offline', '--name', 'feb'], env)).stderr.trim(),
    ).toMatch(/^llm-trading: backtest feb already exists for 2024-02-21\.\.2024-03-06[^\n]*$/);
    // Continued with LLM keys set and no --offline, it would mix agents: refused, naming the command that continues it.
    const keyed = await cli(
      ARGS.filter((a) => a !== '--offline'),
      {
        ...env,
        REQUESTY_API_KEY: 'rq-test-key-0123456789',
        PERPLEXITY_API_KEY: 'pplx-test-key-0123456789',
      },
    );
    expect(keyed.code).toBe(1);
    expect(keyed.stderr.trim()).toBe(
      'llm-trading: backtest feb runs offline agents, not perplexity+requesty: continue it the same way (`llm-trading backtest --from 2024-02-21 --to 2024-03-06 --name feb --offline`), or start another --name',
    );
    // A backtest's portfolio is run by its backtest alone, and a backtest runs in no portfolio of weekly
    // runs: a `run_weekly` there would add a week to its books (or, mid-backtest, move its clock past
    // the weeks it has still to book).
    const intoBacktest = await cli(['run_weekly', '--portfolio', 'bt-feb', '--week', '2024-03-13', '--offline'], env);
    expect(intoBacktest.code).toBe(1);
    expect(intoBacktest.stderr.trim().split('\n').at(-1)).toBe(
      'llm-trading: portfolio bt-feb belongs to a backtest: only `llm-trading backtest` runs its weeks (see `llm-trading backtests`); run this week in another portfolio (--portfolio NAME or LLM_TRADING_PORTFOLIO)',
    );
    expect((await cli(['status', '--portfolio', 'bt-feb', '--json'], env)).stdout).not.toContain('2024-03-13');
    // A checkpoint the backtest has run is shown as stored; running one (again, or not run yet) is refused.
    const stored = await cli(['checkpoint', '--portfolio', 'bt-feb', '--date', '2024-03-11', '--time', '09:00', '--json'], env);
    expect(stored.code).toBe(0);
    expect(JSON.parse(stored.stdout)).toMatchObject({
      portfolio: 'bt-feb',
      week_id: '2024-03-06',
      status: 'completed',
      already_run: true,
      reason: 'portfolio bt-feb belongs to a backtest: shown as it ran',
      updates: expect.arrayContaining([expect.objectContaining({ account_id: 5, owner: 'council' })]),
    });
    for (const args of [
      ['--date', '2024-03-11', '--time', '09:00', '--force'],
      ['--date', '2024-03-14', '--time', '09:00'],
    ]) {
      const checkpoint = await cli(['checkpoint', '--portfolio', 'bt-feb', ...args], env);
      expect(checkpoint.code).toBe(1);
      expect(checkpoint.stderr.trim()).toBe(intoBacktest.stderr.trim().split('\n').at(-1));
    }
    expect((await cli(['run_weekly', '--portfolio', 'bt-mine', '--week', '2024-03-13', '--offline'], env)).code).toBe(0);
    expect((await cli(['backtest', '--from', '2024-02-21', '--to', '2024-03-06', '--offline', '--name', 'mine'], env)).stderr.trim()).toBe(
      "llm-trading: portfolio bt-mine holds live weekly runs, not a backtest's: give the backtest another --name",
    );
    expect(JSON.parse((await cli(['backtests', '--json'], env)).stdout).map((b: { name: string }) => b.name)).toEqual(['feb']);
    // Eight commands, three of them backtests (one in its own process, killed and continued): ~22 s
    // alone on the 2-core machine of stop 28, over 30 s beside the other backtest files.
  }, 120_000);

  it('while a backtest holds the embedded database, `backtests` elsewhere says how far it has got', async () => {
    const env = { LLM_TRADING_HOME: join(root, 'live') };
    const running = startCli(['backtest', '--from', '2024-01-03', '--to', '2024-06-26', '--offline', '--name', 'live'], env);
    let progress = '';
    running.child.stderr?.on('data', (d: Buffer) => (progress += d.toString()));
    try {
      await until('two weeks booked', () => /^ {2}2\/26 weeks/m.test(progress));
      const busy = await cli(['backtests', '--lock-timeout', '0'], env);
      expect(busy.code).toBe(1);
      const [live, locked] = busy.stderr.trim().split('\n');
      expect(live).toMatch(
        /^llm-trading backtests: backtest live \(process \d+\) is running: \d+\/26 weeks booked, \d+ decided, as of \d+ s ago$/,
      );
      expect(live).toContain(`(process ${running.child.pid})`);
      expect(locked).toMatch(/is using .*\/live\/pgdata: wait for it/);
    } finally {
      running.child.kill('SIGKILL');
    }
    expect((await running.done).signal).toBe('SIGKILL');
    // The file a killed process left names a process that no longer holds the database: not shown.
    expect(existsSync(join(env.LLM_TRADING_HOME, 'runs', 'bt-live', 'backtest', 'progress.json'))).toBe(true);
    const after = await cli(['backtests'], env);
    expect(after.code, after.stderr).toBe(0);
    expect(after.stderr).not.toMatch(/is running/);
    expect(after.stdout, after.stdout).toMatch(/^live +\d+\/26 +2024-01-03\.\.2024-06-26 +interrupted/m);

    // Ctrl-C, then a job runner's SIGTERM: each stops the continued run at a safe point, in one line,
    // with the signal's exit code (not 1, a failure), its progress file gone and its weeks kept.
    // Ctrl-C is a real signal to a process of its own; SIGTERM is given in this process, to the
    // listener the command adds (the same handler; a process of its own costs seconds).
    const LIVE = ['backtest', '--from', '2024-01-03', '--to', '2024-06-26', '--offline', '--name', 'live'];
    let booked = Number(/^live +(\d+)\/26/m.exec(after.stdout)?.[1]);
    const stopWhen = (text: string) => new RegExp(`^ {2}${booked + 1}/26 weeks`, 'm').test(text);
    const interrupted: Record<'SIGINT' | 'SIGTERM', () => Promise<{ code: number | null; stderr: string }>> = {
      SIGINT: async () => {
        const resumed = startCli(LIVE, env);
        let lines = '';
        let sent = false;
        resumed.child.stderr?.on('data', (d: Buffer) => {
          lines += d.toString();
          if (!sent && stopWhen(lines)) sent = resumed.child.kill('SIGINT');
        });
        return resumed.done;
      },
      SIGTERM: async () => {
        const others = new Set(process.listeners('SIGTERM'));
        let stderr = '';
        let sent = false;
        const code = await runCliInProcess(LIVE, {
          stdout: () => undefined,
          stderr: (text) => {
            stderr += text;
            if (sent || !stopWhen(stderr)) return;
            sent = true;
            for (const listener of process.listeners('SIGTERM')) if (!others.has(listener)) listener('SIGTERM');
          },
          env,
        });
        expect(process.listeners('SIGTERM')).toEqual([...others]);
        return { code, stderr };
      },
    };
    for (const [signal, code] of [
      ['SIGINT', 130],
      ['SIGTERM', 143],
    ] as const) {
      const stopped = await interrupted[signal]();
      expect(stopped.code, stopped.stderr).toBe(code);
      expect(stopped.stderr).toContain(`  ${signal}: stopping at the next safe point (again to stop at once; the weeks booked are kept)\n`);
      expect(stopped.stderr.trim().split('\n').at(-1)).toBe('llm-trading: interrupted: run the same command again to continue');
      expect(existsSync(join(env.LLM_TRADING_HOME, 'runs', 'bt-live', 'backtest', 'progress.json'))).toBe(false);
      const listed = JSON.parse((await cli(['backtests', '--json'], env)).stdout) as { weeks_done: number; status: string }[];
      expect(listed[0]?.status).toBe('interrupted');
      expect(listed[0]?.weeks_done).toBeGreaterThan(booked);
      expect(listed[0]?.weeks_done).toBeLessThan(26);
      booked = listed[0]?.weeks_done ?? NaN;
    }
    // No report yet: `backtest show` names the command that continues it, with its offline agents.
    const show = await cli(['backtest', 'show', 'live'], env);
    expect(show.code).toBe(1);
    expect(show.stderr.trim()).toBe(
      `llm-trading: backtest live has no report yet: ${booked} of 26 weeks done; run \`llm-trading backtest --from 2024-01-03 --to 2024-06-26 --name live --offline\` to continue it`,
    );
  });

  it('the command that continues a backtest carries the flags it was started with', () => {
    const row = { name: 'x', fromWeek: '2024-01-03', toWeek: '2024-06-26' };
    expect(continueCommand({ ...row, mode: 'llm', settings: { offline: false, allow_offline_seats: false } })).toBe(
      'llm-trading backtest --from 2024-01-03 --to 2024-06-26 --name x',
    );
    expect(continueCommand({ ...row, mode: 'llm', settings: { offline: false, allow_offline_seats: true, budget_usd: 12.5 } })).toBe(
      'llm-trading backtest --from 2024-01-03 --to 2024-06-26 --name x --allow-offline-seats --budget-usd 12.5',
    );
    // A row stored before settings were kept: its mode says offline.
    expect(continueCommand({ ...row, mode: 'offline', settings: null })).toBe(
      'llm-trading backtest --from 2024-01-03 --to 2024-06-26 --name x --offline',
    );
  });
});
