import { Command, CommanderError, InvalidArgumentError, Option } from '@commander-js/extra-typings';
import { max } from 'drizzle-orm';
import { openApp, type App, type OpenAppOptions } from '../app.js';
import { assignSeats } from '../agent-roster.js';
import { describeProviders, loadLlmConfig } from '../llm/index.js';
import { weekUsage } from '../council/weekly-result.js';
import { loadConfig } from '../config/app-config.js';
import { parseEnv } from '../config/env.js';
import { resolveWeek } from '../council/week.js';
import { runWeek } from '../council/weekly.js';
import type { StageName } from '../council/stage.js';
import { openStore } from '../storage/db.js';
import { orders, runs } from '../storage/schema.js';
import { progressPrinter } from './progress-printer.js';
import { renderSummary } from './summary.js';
import { renderPostmortem } from './postmortem-summary.js';
import { runPostmortem } from '../metrics/postmortem.js';

export interface CliIo {
  stdout(text: string): void;
  stderr(text: string): void;
  env: NodeJS.ProcessEnv;
}

/** A failure the user caused or can fix; printed as one line, exit code 1. */
export class UsageError extends Error {}

interface WeekOptions {
  week?: string;
  asOf?: string;
  json?: boolean;
  offline?: boolean;
  force?: boolean;
  cache?: boolean;
}

const STEP_STAGES: Record<string, readonly StageName[]> = {
  run_weekly: ['snapshot', 'research', 'pm_pitches', 'peer_review', 'chairman', 'risk', 'execute'],
  research: ['snapshot', 'research'],
  pm_pitches: ['pm_pitches'],
  peer_review: ['peer_review'],
  chairman: ['chairman'],
  execute: ['risk', 'execute'],
};

function parseDate(value: string): string {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(value)) throw new InvalidArgumentError(`expected a date YYYY-MM-DD, got "${value}"`);
  const parsed = new Date(`${value}T00:00:00Z`);
  if (Number.isNaN(parsed.getTime()) || parsed.toISOString().slice(0, 10) !== value)
    throw new InvalidArgumentError(`"${value}" is not a calendar date`);
  return value;
}

function parseAccount(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 6) throw new InvalidArgumentError(`expected an account number 1..6, got "${value}"`);
  return n;
}

/** The --week / --as-of pair every week command takes. */
function withWeekOptions(cmd: Command) {
  return cmd
    .addOption(
      new Option('--week <date>', 'the decision Wednesday, YYYY-MM-DD (default: the latest complete week in the data)').argParser(
        parseDate,
      ),
    )
    .addOption(new Option('--as-of <date>', 'same as --week').argParser(parseDate));
}

/** The week the user asked for: --week or --as-of (they must agree), else undefined (the latest complete week). */
function chosenWeek(options: { week?: string; asOf?: string }): string | undefined {
  if (options.week && options.asOf && options.week !== options.asOf)
    throw new UsageError(`--week ${options.week} and --as-of ${options.asOf} disagree; give one`);
  return options.week ?? options.asOf;
}

function weekCommand(program: Command, name: string, description: string, alias?: string) {
  const cmd = withWeekOptions(program.command(name).description(description))
    .option('--json', 'print the result object on stdout (logs go to stderr)')
    .option('--offline', 'use the deterministic offline agents even when LLM keys are set')
    .option('--force', 're-run stages that already completed')
    .option('--no-cache', 'always ask the models (answers are still recorded for replays)');
  if (alias) cmd.alias(alias);
  return cmd;
}

export function buildProgram(io: CliIo): Command {
  const program = new Command()
    .name('llm-trading')
    .description('A council of LLM portfolio managers trading macro ETFs weekly, with anonymized peer review and six paper accounts.')
    .showSuggestionAfterError()
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.stdout(s),
      writeErr: (s) => io.stderr(s),
      // Errors stay on one line (commander puts its suggestion on a second one).
      outputError: (s, write) =>
        write(
          `llm-trading: ${s
            .trim()
            .replace(/^error: /, '')
            .replace(/\s*\n\s*/g, ' ')}\n`,
        ),
    });

  const runSteps = async (
    command: string,
    options: WeekOptions & { accountFilter?: number[] },
    summary: boolean,
    /** The demo follows the week with its postmortem (which replaces the held-to-week-end preview). */
    withPostmortem = false,
  ) => {
    const asked = chosenWeek(options);
    await withApp(io, { offline: options.offline === true, noCache: options.cache === false }, async (app) => {
      const week = await resolveWeek(asked, app.config, app.marketData);
      const listener = progressPrinter((line) => io.stderr(`${line}\n`));
      io.stderr(`llm-trading ${command}: week ${week.week_id} (${app.store.location}, ${app.agents.mode} agents)\n`);
      const started = performance.now();
      const { result, error } = await runWeek(
        app,
        week,
        STEP_STAGES[command] ?? [],
        { force: options.force, accountFilter: options.accountFilter },
        listener,
      );
      const reported = error ? { ...result, error: error.message } : result;
      if (options.json) io.stdout(`${JSON.stringify(reported, null, 2)}\n`);
      else if (summary || !error) io.stdout(`${renderSummary(reported, { preview: !withPostmortem })}\n`);
      if (withPostmortem && !error && !options.json) io.stdout(`${renderPostmortem(await runPostmortem(app, week), { usage: false })}\n`);
      io.stderr(`done in ${((performance.now() - started) / 1000).toFixed(1)}s; artifacts in ${app.artifacts.dirOf(week.week_id)}\n`);
      if (error) throw new UsageError(error.message);
    });
  };

  weekCommand(
    program,
    'run_weekly',
    'run the whole weekly pipeline: snapshot → research → pitches → peer review → chairman → risk → execute',
    'run-weekly',
  ).action((o) => runSteps('run_weekly', o, true));
  weekCommand(program, 'research', 'market snapshot and the research pack').action((o) => runSteps('research', o, false));
  weekCommand(program, 'pm_pitches', 'the five PM pitches (needs research)', 'pm-pitches').action((o) => runSteps('pm_pitches', o, false));
  weekCommand(program, 'peer_review', 'anonymized peer review of the pitches (needs pm_pitches)', 'peer-review').action((o) =>
    runSteps('peer_review', o, false),
  );
  weekCommand(program, 'chairman', "the chairman's council decision (needs peer_review)").action((o) => runSteps('chairman', o, false));
  weekCommand(program, 'execute', 'size each account’s trade (risk) and place the orders (needs chairman)')
    .option('--all-accounts', 'execute all six accounts')
    .addOption(new Option('--account <n>', 'execute one account (1..6)').argParser(parseAccount))
    .action((o) => {
      if (!o.allAccounts && o.account === undefined) throw new UsageError('execute needs --all-accounts or --account N');
      if (o.allAccounts && o.account !== undefined) throw new UsageError('give either --all-accounts or --account N, not both');
      return runSteps('execute', { ...o, accountFilter: o.account !== undefined ? [o.account] : undefined }, false);
    });

  withWeekOptions(
    program
      .command('postmortem')
      .description("the week's results: P/L, drawdown, turnover, hit rate per account, the council against the PMs, benchmarks, LLM cost"),
  )
    .option('--json', 'print the postmortem object on stdout')
    .action(async (o) => {
      const asked = chosenWeek(o);
      // No agent is asked anything: the postmortem reads what the week stored.
      await withApp(io, { offline: true }, async (app) => {
        const week = await resolveWeek(asked, app.config, app.marketData);
        const postmortem = await runPostmortem(app, week);
        io.stdout(o.json ? `${JSON.stringify(postmortem, null, 2)}\n` : `${renderPostmortem(postmortem)}\n`);
      });
    });

  program
    .command('demo', { hidden: true })
    .description('npm start: one whole offline week on the embedded defaults, with a readable summary')
    .action(() => runSteps('run_weekly', { offline: true }, true, true));

  program
    .command('status')
    .description('weekly runs recorded in the database')
    .option('--json', 'machine-readable output')
    .action(async (o) => {
      await withApp(io, { offline: true }, async (app) => {
        const rows = await app.store.db.select().from(runs).orderBy(runs.weekId);
        const report = [];
        for (const r of rows) {
          const usage = await weekUsage(app.store.db, r.weekId);
          report.push({ week_id: r.weekId, asof_et: r.asofEt, status: r.status, mode: r.mode, error: r.error, usage });
        }
        if (o.json) io.stdout(`${JSON.stringify(report, null, 2)}\n`);
        else if (report.length === 0) io.stdout('no runs yet: try `llm-trading run_weekly`\n');
        else
          for (const r of report) {
            const line = `${r.week_id}  ${r.status.padEnd(10)} ${r.mode.padEnd(20)} ${String(r.usage.calls).padStart(4)} calls  $${r.usage.cost_usd.toFixed(4)}`;
            io.stdout(`${line}  ${r.error ?? ''}\n`);
            // Per seat, all stages together: where the week's money went.
            const bySeat = new Map<string, { calls: number; cost: number }>();
            for (const u of r.usage.by_seat) {
              const seat = bySeat.get(u.seat) ?? { calls: 0, cost: 0 };
              bySeat.set(u.seat, { calls: seat.calls + u.calls, cost: seat.cost + u.cost_usd });
            }
            const order = Object.keys(app.config.models.seats);
            const seats = [...bySeat].sort(([a], [b]) => order.indexOf(a) - order.indexOf(b));
            if (seats.length > 0)
              io.stdout(`    ${seats.map(([seat, u]) => `${seat} ${u.calls} calls $${u.cost.toFixed(4)}`).join(' · ')}\n`);
          }
      });
    });

  program
    .command('accounts')
    .description('the six paper accounts: cash, positions, equity (marked at the last fill time)')
    .option('--json', 'machine-readable output')
    .action(async (o) => {
      await withApp(io, { offline: true }, async (app) => {
        // The simulated world's "now" is the last time it acted: the latest order.
        const [last] = await app.store.db.select({ at: max(orders.submittedAt) }).from(orders);
        if (!last?.at) {
          io.stdout('no orders yet: try `llm-trading run_weekly`\n');
          return;
        }
        app.clock.set(last.at);
        const states = [];
        for (const a of app.config.models.accounts) states.push(await app.broker.account(a.id));
        if (o.json) io.stdout(`${JSON.stringify(states, null, 2)}\n`);
        else
          for (const s of states)
            io.stdout(
              `${s.accountId}  ${s.owner.padEnd(9)} cash ${s.cash.toFixed(2).padStart(12)}  equity ${s.equity.toFixed(2).padStart(12)}  ${s.positions.map((p) => `${p.qty} ${p.ticker}`).join(', ') || 'flat'}\n`,
            );
      });
    });

  program
    .command('models')
    .description('every seat with its provider and model, and whether the provider key is present (never the key)')
    .option('--json', 'machine-readable output')
    .option('--offline', 'show the assignment as --offline would make it')
    .action((o) => {
      const env = parseEnv(io.env);
      const config = loadConfig(configDirOf(io.env));
      const llmConfig = loadLlmConfig(config.dir);
      const seats = assignSeats(env, config, llmConfig, o.offline === true);
      const providers = describeProviders(env, llmConfig, io.env);
      if (o.json) {
        io.stdout(`${JSON.stringify({ seats, providers }, null, 2)}\n`);
        return;
      }
      io.stdout(`${'seat'.padEnd(11)}${'role'.padEnd(11)}${'provider'.padEnd(12)}${'model'.padEnd(34)}key\n`);
      for (const s of seats) {
        const key = s.keyPresent === null ? '-' : s.keyPresent ? 'present' : 'MISSING';
        io.stdout(
          `${s.seat.padEnd(11)}${s.role.padEnd(11)}${s.provider.padEnd(12)}${s.model.padEnd(34)}${key}${s.note ? `  (${s.note})` : ''}\n`,
        );
      }
      io.stdout(
        `\nproviders: ${providers.map((p) => `${p.name} ${p.keyPresent ? 'key present' : p.keyRequired ? 'no key' : 'no key needed'} (${p.baseURL})`).join('; ')}\n`,
      );
    });

  program
    .command('db')
    .description('database maintenance')
    .command('migrate')
    .description('apply pending migrations (also done automatically on every start)')
    .action(async () => {
      const env = parseEnv(io.env);
      const store = await openStore({ databaseUrl: env.databaseUrl, home: env.home, pool: env.pool });
      io.stderr(`migrations applied to ${store.location}\n`);
      await store.close();
    });

  return program;
}

async function withApp(io: CliIo, options: OpenAppOptions, body: (app: App) => Promise<void>): Promise<void> {
  const env = parseEnv(io.env);
  const config = loadConfig(configDirOf(io.env));
  const app = await openApp(env, config, options);
  try {
    await body(app);
  } finally {
    await app.close();
  }
}

/** Runs the CLI and returns the exit code; never throws. Errors become one line on stderr. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const program = buildProgram(io);
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Commander has already printed its message (unknown command or flag, bad argument).
      return error.exitCode === 0 ? 0 : 1;
    }
    const message = error instanceof Error ? error.message : String(error);
    io.stderr(`llm-trading: ${message.split('\n')[0]}\n`);
    return 1;
  }
}

/** LLM_TRADING_CONFIG_DIR, or undefined (the packaged config/) when unset or blank, as in a copied .env.example. */
function configDirOf(env: NodeJS.ProcessEnv): string | undefined {
  const dir = env.LLM_TRADING_CONFIG_DIR?.trim();
  return dir ? dir : undefined;
}
