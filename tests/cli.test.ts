import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_CONFIG_DIR } from '../src/config/app-config.js';
import { openStore } from '../src/storage/db.js';
import { runs } from '../src/storage/schema.js';
import { cli } from './helpers/cli.js';
import { camelCaseKeys } from './helpers/snake-case.js';

const WEEK = '2024-03-06';
let root: string;
const home = (name: string) => join(root, name);

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'lt-cli-'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

function oneLine(stderr: string): string {
  const lines = stderr.trimEnd().split('\n');
  expect(lines).toHaveLength(1);
  return lines[0] as string;
}

describe('llm-trading run_weekly', () => {
  const env = () => ({ LLM_TRADING_HOME: home('weekly') });

  it('runs a whole week and prints the DESIGN §2 result with --json (logs on stderr)', async () => {
    const run = await cli(['run_weekly', '--as-of', WEEK, '--json'], env());
    expect(run.code).toBe(0);
    const result = JSON.parse(run.stdout);
    expect(result).toMatchObject({
      week_id: WEEK,
      asof_et: '2024-03-06T08:00:00-05:00',
      status: 'completed',
      usage: { calls: 0, cost_usd: 0 },
    });
    for (const key of ['research', 'pitches', 'reviews', 'aggregate', 'decision', 'accounts', 'usage']) expect(result).toHaveProperty(key);
    expect(result.accounts).toHaveLength(6);
    expect(Object.keys(result.accounts[0]).sort()).toEqual(
      expect.arrayContaining(['account_id', 'owner', 'trade', 'order', 'position', 'equity']),
    );
    expect(result.pitches[0]).toMatchObject({ seat: 'gpt', provider: 'offline', model: 'offline/trend', status: 'ok' });
    expect(result.reviews[0]).toHaveProperty('target_seat');
    // Orders and positions too (the broker's own types are camelCase; the result is not).
    expect(result.accounts.some((a: { order: unknown }) => a.order !== null)).toBe(true);
    expect(result.accounts[0].order).toHaveProperty('client_order_id');
    expect(camelCaseKeys(result)).toEqual([]);
    expect(run.stderr).toMatch(/✔ chairman/);
  });

  it('is a no-op the second time, and prints a readable summary without --json', async () => {
    const run = await cli(['run-weekly', '--week', WEEK], env());
    expect(run.code).toBe(0);
    expect(run.stderr).toMatch(/research: skipped, already completed/);
    expect(run.stdout).toMatch(/Council decision \(chairman: offline\/peer-weighted\)/);
    expect(run.stdout).toMatch(/OFFLINE deterministic quant personas/);
    expect(run.stdout).toMatch(/mean rank/);
    // Six account rows after the fills, six again in the week-end preview.
    expect(run.stdout.match(/^ {2}[1-6] {5}/gm)).toHaveLength(12);
    expect(run.stdout).toMatch(/The week, 2024-03-05 close → 2024-03-12 close \(as `llm-trading postmortem` measures it\)/);
    expect(run.stdout).toMatch(/benchmarks: FLAT \+0\.00% · SPY buy-and-hold [+-]\d+\.\d\d%/);
    expect(run.stdout).toMatch(/council [+-]\d+\.\d\d% beat \d of 5 individual PMs/);
  });

  it('status and accounts read what the run stored', async () => {
    const status = await cli(['status', '--json'], env());
    expect(JSON.parse(status.stdout)).toEqual([expect.objectContaining({ week_id: WEEK, status: 'completed', mode: 'offline' })]);
    const accounts = await cli(['accounts', '--json'], env());
    const states = JSON.parse(accounts.stdout);
    expect(states).toHaveLength(6);
    expect(states.every((s: { equity: number }) => s.equity > 90_000 && s.equity < 110_000)).toBe(true);
    // The first week: it started from the starting cash, so the week's P/L is all the gain so far.
    for (const s of states as { equity: number; pnl_week: number; pnl_today: number; week_id: string; account_id: number }[]) {
      expect(s.week_id).toBe(WEEK);
      expect(s.pnl_week).toBeCloseTo(s.equity - 100_000, 2);
      expect(typeof s.pnl_today).toBe('number');
    }
    const table = (await cli(['accounts'], env())).stdout;
    expect(table).toMatch(/^acct\s+owner\s+cash\s+equity\s+today\s+week\s+positions$/m);
    expect(table).toMatch(/week: since the weekly decision of 2024-03-06/);

    const portfolios = await cli(['portfolios', '--json'], env());
    const [only] = JSON.parse(portfolios.stdout);
    expect(only).toMatchObject({ name: 'default', kind: 'live', broker: 'sim', first_week: WEEK, last_week: WEEK, weeks: 1 });
    expect(only.equity).toBeCloseTo(
      states.reduce((sum: number, s: { equity: number }) => sum + s.equity, 0),
      2,
    );
    const listed = await cli(['portfolios'], env());
    expect(listed.stdout).toMatch(/^portfolio\s+kind\s+weeks\s+first week\s+last week\s+equity/m);
    expect(listed.stdout).toMatch(/^default\s+live\s+1\s+2024-03-06\s+2024-03-06\s+\$\d{3},\d{3}\.\d\d$/m);
    // Another portfolio has its own (empty) books.
    expect(JSON.parse((await cli(['status', '--json', '--portfolio', 'other'], env())).stdout)).toEqual([]);
    expect(JSON.parse((await cli(['accounts', '--json'], { ...env(), LLM_TRADING_PORTFOLIO: 'other' })).stdout)).toEqual([]);
  });

  it('shows a run that no process is running any more as interrupted, not running', async () => {
    const store = await openStore({ home: home('weekly') });
    await store.db.update(runs).set({ status: 'running' });
    await store.close();
    const status = await cli(['status', '--json'], env());
    expect(JSON.parse(status.stdout)[0]).toMatchObject({ week_id: WEEK, status: 'interrupted' });
    expect((await cli(['status'], env())).stdout).toMatch(/^2024-03-06\s+interrupted\s/m);
  });

  it('checkpoint: a named one, then the next one not run, then a whole day; an earlier one is refused', async () => {
    const named = await cli(['checkpoint', '--date', '2024-03-07', '--time', '12:00', '--json'], env());
    expect(named.code, named.stderr).toBe(0);
    const first = JSON.parse(named.stdout);
    expect(first).toMatchObject({
      week_id: WEEK,
      date: '2024-03-07',
      time: '12:00',
      status: 'completed',
      checkpoint_et: '2024-03-07T12:00:00-05:00',
    });
    expect(first.updates).toHaveLength(6);
    expect(camelCaseKeys(first)).toEqual([]);
    for (const key of ['account_id', 'owner', 'action', 'conviction_before', 'conviction_after', 'reason', 'invalidation_fired', 'order'])
      expect(first.updates[0]).toHaveProperty(key);
    // Without --date: the slot after the latest one run (those passed over before it cannot run any more).
    const next = JSON.parse((await cli(['checkpoint', '--json'], env())).stdout);
    expect(next).toMatchObject({ date: '2024-03-07', time: '14:00', status: 'completed', already_run: false });
    const day = await cli(['checkpoint', '--all', '--date', '2024-03-08'], env());
    expect(day.code, day.stderr).toBe(0);
    expect(day.stdout.match(/^checkpoint 2024-03-08 \d\d:\d\d ET/gm)).toHaveLength(4);
    expect(day.stdout).toMatch(/^\s+acct\s+owner\s+status\s+action\s+conv\s+trigger\s+orders$/m);
    const back = await cli(['checkpoint', '--date', '2024-03-07', '--time', '14:00', '--force'], env());
    expect(back.code).toBe(1);
    expect(oneLine(back.stderr)).toMatch(
      /has already run the 2024-03-08 15:50 checkpoint, after 2024-03-07 14:00: time only moves forward/,
    );
    expect(oneLine((await cli(['checkpoint', '--date', '2024-03-09', '--all'], env())).stderr)).toBe(
      'llm-trading: 2024-03-09 is not an NYSE trading day: no checkpoints',
    );
  });
});

describe('npm start (the demo week)', () => {
  it('runs a whole offline week in the demo portfolio: pipeline, every checkpoint, postmortem; again, a no-op', async () => {
    const env = { LLM_TRADING_HOME: home('demo') };
    const run = await cli(['demo'], env);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toMatch(/^llm-trading demo: week \d{4}-\d\d-\d\d, portfolio demo \(.*, offline agents\)$/m);
    expect(run.stderr).toMatch(/^ {2}checkpoint \d{4}-\d\d-\d\d 09:00: skipped \(before the 09:30 open of the decision day/m);
    expect(run.stdout).toMatch(/^The week, checkpoint by checkpoint \(conviction path/m);
    // Six accounts, each with its conviction path and how many checkpoints it stayed.
    expect(run.stdout.match(/^ {2}[1-6] \w+: .*; conviction [-+\d →]+ \(\d+ of \d+ checkpoints STAY\)$/gm)).toHaveLength(6);
    expect(run.stdout).toMatch(/^Postmortem — week .*, portfolio demo/m);
    expect(run.stdout).not.toMatch(/no checkpoints ran this week/);
    const again = await cli(['demo'], env);
    expect(again.code).toBe(0);
    expect(again.stderr).toMatch(/already run/);
    const paths = (out: string) => out.slice(out.indexOf('The week, checkpoint by checkpoint'), out.indexOf('Postmortem —'));
    expect(paths(again.stdout)).toBe(paths(run.stdout));
    expect(JSON.parse((await cli(['status', '--json'], env)).stdout)).toEqual([]); // the default portfolio is untouched
  });
});

describe('the command line itself', () => {
  it('prints its version, and lists planned commands that say they are not built yet', async () => {
    const version = await cli(['--version'], {});
    expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
    const help = await cli(['--help'], {});
    for (const name of [
      'run_weekly',
      'postmortem',
      'status',
      'accounts',
      'portfolios',
      'models',
      'checkpoint',
      'week',
      'backtest',
      'worker',
      'schedule',
      'data',
    ])
      expect(help.stdout).toMatch(new RegExp(`^  ${name}\\b`, 'm'));
    const planned = await cli(['dashboard'], {});
    expect(planned.code).toBe(1);
    expect(planned.stderr.trim()).toMatch(/^llm-trading: `dashboard` is planned and not built yet/);
    const data = await cli(['data', '--help'], {});
    expect(data.stdout).toMatch(/^ {2}sync \[options\]/m);
    expect(data.stdout).toMatch(/^ {2}status \[options\]/m);
    expect((await cli(['data', 'sync', '--from', '2024-02-30'], {})).stderr.trim()).toBe(
      "llm-trading: option '--from <date>' argument '2024-02-30' is invalid. \"2024-02-30\" is not a calendar date",
    );
    expect((await cli(['schedule', 'later'], {})).stderr.trim()).toBe(
      'llm-trading: unknown schedule subcommand "later": use `schedule` or `schedule status`',
    );
    // A worker shares work through PostgreSQL; without it, it says so.
    expect((await cli(['worker'], { DATABASE_URL: '' })).stderr.trim()).toMatch(
      /^llm-trading: a worker shares work through PostgreSQL: set DATABASE_URL/,
    );
    // checkpoint's own argument checks, before any database is opened.
    expect((await cli(['checkpoint', '--time', '9am'], {})).stderr.trim()).toBe(
      "llm-trading: option '--time <HH:MM>' argument '9am' is invalid. expected a time HH:MM, got \"9am\"",
    );
    expect((await cli(['checkpoint', '--date', '2024-03-07'], {})).stderr.trim()).toBe(
      'llm-trading: with --date, give --time HH:MM or --all',
    );
    expect((await cli(['checkpoint', '--all', '--time', '12:00'], {})).stderr.trim()).toBe(
      'llm-trading: give either --time HH:MM or --all, not both',
    );
  });

  it('refuses a bad portfolio name or lock timeout before doing anything', async () => {
    expect((await cli(['status', '--portfolio', '../etc'], {})).stderr).toMatch(/"\.\.\/etc" is not a portfolio name/);
    expect((await cli(['status', '--lock-timeout', 'soon'], {})).stderr).toMatch(/expected a number of seconds ≥ 0, got "soon"/);
  });
});

describe('step commands', () => {
  const env = () => ({ LLM_TRADING_HOME: home('steps') });

  it('a step before its inputs names the command to run first, and --json still reports how far it got', async () => {
    const early = await cli(['pm_pitches', '--week', WEEK, '--json'], env());
    expect(early.code).toBe(1);
    expect(JSON.parse(early.stdout)).toMatchObject({ status: 'failed', stages: { snapshot: 'pending' } });
    expect(early.stderr.trimEnd().split('\n').at(-1)).toBe(
      `llm-trading: snapshot has not completed for week ${WEEK}: run \`llm-trading research --week ${WEEK}\` first`,
    );
  });

  it('research → pm_pitches → peer_review → chairman → execute, each alone', async () => {
    type Result = { accounts: { account_id: number; orders: { client_order_id: string }[] }[] };
    const account3 = (result: Result) => result.accounts.find((a) => a.account_id === 3)?.orders.map((o) => o.client_order_id);
    let first: string[] | undefined;
    for (const step of [['research'], ['pm_pitches'], ['peer_review'], ['chairman'], ['execute', '--account', '3']]) {
      const run = await cli([...step, '--week', WEEK, '--json'], env());
      expect(run.code, `${step.join(' ')}: ${run.stderr}`).toBe(0);
      if (step[0] === 'execute') first = account3(JSON.parse(run.stdout) as Result);
    }
    const one = await cli(['status', '--json'], env());
    expect(JSON.parse(one.stdout)[0].status).toBe('partial');
    const all = await cli(['execute', '--all-accounts', '--week', WEEK, '--json'], env());
    const result = JSON.parse(all.stdout) as Result & { status: string };
    expect(result.status).toBe('completed');
    // Account 3 was executed first: the full execution placed nothing more for it, and reports its order.
    expect(first).toHaveLength(1);
    expect(account3(result)).toEqual(first);
    expect(all.stderr).toMatch(/5 orders at the 2024-03-06 open \(1 placed earlier this week\)/);
    const again = await cli(['chairman', '--week', WEEK], env());
    expect(again.stderr).toMatch(/chairman: skipped, already completed \(use --force to re-run\)/);
  });
});

describe('bad input: one clear line on stderr, exit 1', () => {
  const env = () => ({ LLM_TRADING_HOME: home('bad') });
  const cases: [string, string[], RegExp][] = [
    ['unknown command', ['run_weeky'], /^llm-trading: unknown command 'run_weeky' \(Did you mean run_weekly\?\)$/],
    ['unknown flag', ['run_weekly', '--frobnicate'], /^llm-trading: unknown option '--frobnicate'$/],
    ['malformed date', ['run_weekly', '--week', '2024-3-6'], /expected a date YYYY-MM-DD, got "2024-3-6"/],
    ['impossible date', ['run_weekly', '--week', '2024-02-30'], /"2024-02-30" is not a calendar date/],
    [
      'not a Wednesday',
      ['run_weekly', '--week', '2024-03-07'],
      /^llm-trading: 2024-03-07 is a Thursday; the weekly run is on Wednesdays \(config\/schedule.yaml\): use 2024-03-06$/,
    ],
    [
      'before the data',
      ['run_weekly', '--week', '1999-01-06'],
      /^llm-trading: no market data for the week of 1999-01-06: the bundled data covers 2010-01-04\.\.2025-06-27/,
    ],
    ['after the data', ['run_weekly', '--week', '2025-09-03'], /no market data for the week of 2025-09-03/],
    ['unknown account', ['execute', '--account', '7'], /expected an account number 1\.\.6, got "7"/],
    ['execute without accounts', ['execute'], /^llm-trading: execute needs --all-accounts or --account N$/],
    [
      'backtest range backwards',
      ['backtest', '--from', '2024-03-06', '--to', '2009-12-30', '--offline'],
      /^llm-trading: --to 2009-12-30 is before --from 2024-03-06$/,
    ],
  ];
  it.each(cases)('%s', async (_name, argv, message) => {
    const run = await cli(argv, env());
    expect(run.code).toBe(1);
    expect(oneLine(run.stderr)).toMatch(message);
    expect(run.stdout).toBe('');
  });

  it('leaves nothing behind after a rejected date', async () => {
    const status = await cli(['status', '--json'], env());
    expect(JSON.parse(status.stdout)).toEqual([]);
  });

  it('an invalid config file', async () => {
    const dir = join(root, 'config');
    cpSync(DEFAULT_CONFIG_DIR, dir, { recursive: true });
    writeFileSync(
      join(dir, 'models.yaml'),
      readFileSync(join(dir, 'models.yaml'), 'utf8').replace('starting_cash: 100000', 'starting_cash: -5'),
    );
    const run = await cli(['run_weekly'], { ...env(), LLM_TRADING_CONFIG_DIR: dir });
    expect(run.code).toBe(1);
    expect(oneLine(run.stderr)).toMatch(/^llm-trading: .*models\.yaml: risk\.starting_cash: .*0/);
  });

  it('an unwritable or corrupted LLM_TRADING_HOME', async () => {
    const file = join(root, 'a-file');
    writeFileSync(file, 'x');
    const unwritable = await cli(['status'], { LLM_TRADING_HOME: file });
    expect(unwritable.code).toBe(1);
    expect(oneLine(unwritable.stderr)).toMatch(/^llm-trading: LLM_TRADING_HOME .*a-file is not a writable directory/);

    const corrupted = join(root, 'corrupted');
    mkdirSync(join(corrupted, 'pgdata'), { recursive: true });
    writeFileSync(join(corrupted, 'pgdata', 'PG_VERSION'), 'garbage\n');
    const run = await cli(['status'], { LLM_TRADING_HOME: corrupted });
    expect(run.code).toBe(1);
    expect(oneLine(run.stderr)).toMatch(
      /^llm-trading: cannot open the embedded database .*; no other process has it open, so the folder may be damaged/,
    );
  });

  it('writes the whole error to LLM_TRADING_HOME/logs/llm-trading.log, and to stderr with --verbose, secrets redacted', async () => {
    const env = { LLM_TRADING_HOME: home('logged'), DATABASE_URL: 'postgres://trader:s3cret-pw@127.0.0.1:1/llm', DB_COMMAND_TIMEOUT: '5' };
    const quiet = await cli(['status'], env);
    expect(quiet.stderr.trim().split('\n')).toHaveLength(1);
    const log = readFileSync(join(home('logged'), 'logs', 'llm-trading.log'), 'utf8');
    expect(log).toMatch(
      /--- .* pid \d+: llm-trading status\ncannot connect to postgresql:\/\/trader@127\.0\.0\.1:1\/llm: connect ECONNREFUSED/,
    );
    expect(log).toMatch(/StorageError: cannot connect .*\n\s+at /);
    expect(log).not.toContain('s3cret-pw');
    const verbose = await cli(['status', '--verbose'], env);
    expect(verbose.stderr.split('\n')[0]).toMatch(/^llm-trading: cannot connect/);
    expect(verbose.stderr).toMatch(/\n\s+at /);
    expect(verbose.stderr).not.toContain('s3cret-pw');
  });

  it('a DATABASE_URL that refuses connections, without showing its password', async () => {
    const run = await cli(['status'], {
      LLM_TRADING_HOME: home('refused'), // where its error log goes (not the working folder)
      DATABASE_URL: 'postgres://trader:s3cret-pw@127.0.0.1:1/llm',
      DB_COMMAND_TIMEOUT: '5',
    });
    expect(run.code).toBe(1);
    const line = oneLine(run.stderr);
    expect(line).toMatch(/^llm-trading: cannot connect to postgresql:\/\/trader@127\.0\.0\.1:1\/llm: connect ECONNREFUSED/);
    expect(line).not.toContain('s3cret-pw');
  });
});

describe('llm-trading models', () => {
  it('shows each seat on the router whose key is present, with that router’s model ids, and never a key', async () => {
    const key = 'or-secret-key-1234567890';
    const run = await cli(['models', '--json'], { OPENROUTER_API_KEY: key });
    expect(run.code).toBe(0);
    expect(run.stdout).not.toContain(key);
    const parsed = JSON.parse(run.stdout);
    expect(camelCaseKeys(parsed)).toEqual([]);
    const { seats, providers } = parsed;
    expect(seats.find((s: { seat: string }) => s.seat === 'sonnet')).toMatchObject({
      provider: 'openrouter',
      model: 'anthropic/claude-sonnet-4.5',
      key_present: true,
    });
    // OpenRouter serves the deep-research model too: with only its key, the researcher runs there.
    expect(seats.find((s: { seat: string }) => s.seat === 'researcher')).toMatchObject({
      provider: 'openrouter',
      model: 'perplexity/sonar-deep-research',
      available: true,
    });
    // Requesty has no researcher model in config: the seat is unavailable, and a run would stop.
    const requestyOnly = JSON.parse((await cli(['models', '--json'], { REQUESTY_API_KEY: 'rq' })).stdout);
    expect(requestyOnly.seats.find((s: { seat: string }) => s.seat === 'researcher')).toMatchObject({
      available: false,
      note: expect.stringMatching(/a run would stop: PERPLEXITY_API_KEY is not set/),
    });
    expect(providers.find((p: { name: string }) => p.name === 'openrouter')).toMatchObject({
      key_present: true,
      base_url: expect.any(String),
    });

    const requesty = await cli(['models'], { REQUESTY_API_KEY: 'rq', PERPLEXITY_API_KEY: 'pp' });
    expect(requesty.stdout).toMatch(/sonnet\s+pm\s+requesty\s+anthropic\/claude-sonnet-4-5\s+present/);
    expect(requesty.stdout).toMatch(/researcher\s+researcher\s+perplexity\s+sonar-deep-research\s+present/);
    const offline = await cli(['models', '--offline'], { REQUESTY_API_KEY: 'rq' });
    expect(offline.stdout).toMatch(/gpt\s+pm\s+offline\s+offline\/trend/);
  });

  it('says which seat has no price, so the budget cannot estimate its calls', async () => {
    const dir = join(root, 'unpriced-config');
    cpSync(DEFAULT_CONFIG_DIR, dir, { recursive: true });
    const models = join(dir, 'models.yaml');
    writeFileSync(models, readFileSync(models, 'utf8').replace('requesty: openai/gpt-5.1,', 'requesty: openai/gpt-9-preview,'));
    const run = await cli(['models', '--json'], { LLM_TRADING_CONFIG_DIR: dir, REQUESTY_API_KEY: 'rq' });
    expect(run.code, run.stderr).toBe(0);
    const { seats } = JSON.parse(run.stdout);
    expect(seats.find((s: { seat: string }) => s.seat === 'gpt')).toMatchObject({
      model: 'openai/gpt-9-preview',
      note: 'no price for openai/gpt-9-preview in config/llm.yaml: the budget cannot estimate its calls',
    });
    expect(seats.filter((s: { note: string | null }) => s.note?.startsWith('no price'))).toHaveLength(1);
  });

  it('reads the packaged config when LLM_TRADING_CONFIG_DIR is blank, as in a copied .env.example', async () => {
    const run = await cli(['models'], { LLM_TRADING_CONFIG_DIR: '  ', REQUESTY_API_KEY: 'rq' });
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/sonnet\s+pm\s+requesty\s+anthropic\/claude-sonnet-4-5/);
  });
});

describe('llm-trading db migrate', () => {
  it('applies the migrations to the embedded database and says where', async () => {
    const run = await cli(['db', 'migrate'], { LLM_TRADING_HOME: home('migrate') });
    expect(run.code).toBe(0);
    expect(run.stderr).toMatch(/^migrations applied to pglite at .*migrate\/pgdata$/m);
    const again = await cli(['db', 'migrate'], { LLM_TRADING_HOME: home('migrate') });
    expect(again.code).toBe(0);
    const status = await cli(['status', '--json'], { LLM_TRADING_HOME: home('migrate') });
    expect(JSON.parse(status.stdout)).toEqual([]);
  });
});
