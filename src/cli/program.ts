/**
 * The command line: commands, options and their checks. Only commander and this folder's small
 * modules load here; a command's work (database, agents, market data) is imported when it runs, so
 * `--help`, `--version` and a bad argument answer at once.
 */
import { createRequire } from 'node:module';
import { Command, CommanderError, InvalidArgumentError, Option } from '@commander-js/extra-typings';
import { connectionLossAdvice, describeError, fullErrorText, UserError } from '../errors.js';
import { logError, redact, secretsOfEnv } from './error-log.js';
import { InterruptedError, PlannedCommandError, UsageError, type CliIo } from './io.js';

export type { CliIo } from './io.js';
export { UsageError } from './io.js';

const VERSION = (createRequire(import.meta.url)('../../package.json') as { version: string }).version;

function parseDate(value: string): string {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(value)) throw new InvalidArgumentError(`expected a date YYYY-MM-DD, got "${value}"`);
  const parsed = new Date(`${value}T00:00:00Z`);
  if (Number.isNaN(parsed.getTime()) || parsed.toISOString().slice(0, 10) !== value)
    throw new InvalidArgumentError(`"${value}" is not a calendar date`);
  return value;
}

function parseTime(value: string): string {
  if (!/^([01]\d|2[0-3]):[0-5]\d$/.test(value)) throw new InvalidArgumentError(`expected a time HH:MM, got "${value}"`);
  return value;
}

function parseAccount(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 6) throw new InvalidArgumentError(`expected an account number 1..6, got "${value}"`);
  return n;
}

function parseSeconds(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) throw new InvalidArgumentError(`expected a number of seconds ≥ 0, got "${value}"`);
  return n;
}

function parseWorkers(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 64) throw new InvalidArgumentError(`expected a number of workers 0..64, got "${value}"`);
  return n;
}

function parsePort(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new InvalidArgumentError(`expected a port 1..65535, got "${value}"`);
  return n;
}

function parseUsd(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`expected an amount of US dollars > 0, got "${value}"`);
  return n;
}

function parsePortfolio(value: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,39}$/.test(value))
    throw new InvalidArgumentError(`"${value}" is not a portfolio name: use 1–40 letters, digits, '.', '_' or '-'`);
  return value;
}

/** --json, --verbose and --lock-timeout: every command that opens the database takes them. */
function withCommon<C extends Command<[], Record<string, unknown>>>(cmd: C) {
  return cmd
    .option('--json', 'print the result as JSON on stdout (logs go to stderr)')
    .option('--verbose', 'on error, print the whole error (stack, causes) on stderr as well as in the log file')
    .addOption(
      new Option(
        '--lock-timeout <seconds>',
        'how long to wait for another process using the same embedded database, week or portfolio (0: do not wait)',
      )
        .argParser(parseSeconds)
        .default(600),
    );
}

/** --portfolio: the commands that act on one portfolio's books. */
function withPortfolio<C extends Command<[], Record<string, unknown>>>(cmd: C) {
  return cmd.addOption(
    new Option('--portfolio <name>', 'the portfolio to act on (default: LLM_TRADING_PORTFOLIO, else "default")').argParser(parsePortfolio),
  );
}

/** The --week / --as-of pair every week command takes. */
function withWeek<C extends Command<[], Record<string, unknown>>>(cmd: C) {
  return cmd
    .addOption(
      new Option('--week <date>', 'the decision Wednesday, YYYY-MM-DD (default: the latest complete week in the data)').argParser(
        parseDate,
      ),
    )
    .addOption(new Option('--as-of <date>', 'same as --week').argParser(parseDate));
}

const commands = () => import('./commands.js');

export function buildProgram(io: CliIo): Command {
  const program = new Command()
    .name('llm-trading')
    .description('A council of LLM portfolio managers trading macro ETFs weekly, with anonymized peer review and six paper accounts.')
    .version(VERSION, '-V, --version', 'print the version')
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

  const weekCommand = (name: string, description: string, alias?: string) => {
    const cmd = withWeek(withPortfolio(withCommon(program.command(name).description(description))))
      .option('--offline', 'use the deterministic offline agents even when LLM keys are set')
      .option(
        '--allow-offline-seats',
        'let a seat whose provider has no key run its offline persona (labelled as such) instead of stopping',
      )
      .option('--force', 're-run stages that already completed (orders: only the difference to the new targets)')
      .option('--no-cache', 'always ask the models (answers are still recorded for replays)');
    if (alias) cmd.alias(alias);
    return cmd;
  };

  weekCommand(
    'run_weekly',
    'run the whole weekly pipeline: snapshot → research → pitches → peer review → chairman → risk → execute',
    'run-weekly',
  ).action(async (o) => (await commands()).runSteps(io, 'run_weekly', o, { summary: true }));
  weekCommand('research', 'market snapshot and the research pack').action(async (o) => (await commands()).runSteps(io, 'research', o));
  weekCommand('pm_pitches', 'the five PM pitches (needs research)', 'pm-pitches').action(async (o) =>
    (await commands()).runSteps(io, 'pm_pitches', o),
  );
  weekCommand('peer_review', 'anonymized peer review of the pitches (needs pm_pitches)', 'peer-review').action(async (o) =>
    (await commands()).runSteps(io, 'peer_review', o),
  );
  weekCommand('chairman', "the chairman's council decision (needs peer_review)").action(async (o) =>
    (await commands()).runSteps(io, 'chairman', o),
  );
  weekCommand('execute', 'size each account’s trade (risk) and place the orders (needs chairman)')
    .option('--all-accounts', 'execute all six accounts')
    .addOption(new Option('--account <n>', 'execute one account (1..6)').argParser(parseAccount))
    .action(async (o) => {
      if (!o.allAccounts && o.account === undefined) throw new UsageError('execute needs --all-accounts or --account N');
      if (o.allAccounts && o.account !== undefined) throw new UsageError('give either --all-accounts or --account N, not both');
      return (await commands()).runSteps(io, 'execute', {
        ...o,
        ...(o.account !== undefined ? { accountFilter: [o.account as number] } : {}),
      });
    });

  withWeek(
    withPortfolio(
      withCommon(
        program
          .command('postmortem')
          .description(
            "the week's results: P/L, drawdown, turnover, hit rate per account, the council against the PMs, benchmarks, LLM cost",
          ),
      ),
    ),
  ).action(async (o) => (await commands()).postmortem(io, o));

  withCommon(
    program
      .command('demo', { hidden: true })
      .description('npm start: one whole offline week (pipeline, every checkpoint, postmortem) in the `demo` portfolio'),
  ).action(async (o) => (await commands()).demo(io, o));

  withPortfolio(
    withCommon(program.command('status').description("the portfolio's weekly runs: how far each got, LLM calls and cost per seat")),
  ).action(async (o) => (await commands()).status(io, o));
  withPortfolio(
    withCommon(
      program
        .command('accounts')
        .description(
          "the portfolio's six paper accounts: cash, positions, equity, P/L today and this week (marked at its latest order; Alpaca: now)",
        ),
    ),
  ).action(async (o) => (await commands()).accounts(io, o));
  withCommon(
    program.command('portfolios').description('every portfolio with its first and last week and the equity of its six accounts'),
  ).action(async (o) => (await commands()).portfolios(io, o));

  program
    .command('models')
    .description('every seat with its provider and model, and whether the provider key is present (never the key)')
    .option('--json', 'machine-readable output')
    .option('--offline', 'show the assignment as --offline would make it')
    .option('--allow-offline-seats', 'show the assignment as --allow-offline-seats would make it')
    .action(async (o) => (await commands()).models(io, o));

  const db = program.command('db').description('database maintenance');
  withCommon(db.command('migrate').description('apply pending migrations (also done automatically on every start)')).action(async (o) =>
    (await commands()).dbMigrate(io, o),
  );

  withPortfolio(
    withCommon(
      program
        .command('checkpoint')
        .description(
          'a checkpoint: every account STAYs, EXITs, FLIPs or REDUCEs (09:00, 12:00, 14:00, 15:50 ET); without --date, the next one not run yet',
        ),
    ),
  )
    .addOption(new Option('--time <HH:MM>', 'the checkpoint time (config/schedule.yaml)').argParser(parseTime))
    .addOption(new Option('--date <date>', 'the session date, YYYY-MM-DD (default: the next checkpoint not run)').argParser(parseDate))
    .option('--all', 'every checkpoint of the day, in order')
    .option('--offline', 'use the deterministic offline agents even when LLM keys are set')
    .option('--allow-offline-seats', 'let a seat whose provider has no key run its offline persona (labelled as such)')
    .option('--force', 'run a checkpoint again (only when no later one has run; orders: only the difference)')
    .option('--no-cache', 'always ask the models (answers are still recorded for replays)')
    .action(async (o) => (await import('./week-commands.js')).checkpoint(io, o));

  withWeek(
    withPortfolio(
      withCommon(
        program
          .command('week')
          .description(
            'a whole week in one go: the Wednesday pipeline, every checkpoint of every trading day, the postmortem (resumes where it stopped)',
          ),
      ),
    ),
  )
    .option('--offline', 'use the deterministic offline agents even when LLM keys are set')
    .option('--allow-offline-seats', 'let a seat whose provider has no key run its offline persona (labelled as such)')
    .option('--no-cache', 'always ask the models (answers are still recorded for replays)')
    .action(async (o) => (await import('./week-commands.js')).week(io, o));
  withCommon(
    program
      .command('backtest')
      .description(
        'replay every week of a range as a whole week (pipeline, checkpoints, postmortem) in its own portfolio, and judge the council against its members; `backtest show NAME` prints a stored one',
      ),
  )
    .argument('[show]', '`show`: print a stored backtest instead of running one')
    .argument('[name]', 'the backtest to show')
    .addOption(new Option('--from <date>', 'the first decision Wednesday, YYYY-MM-DD').argParser(parseDate))
    .addOption(new Option('--to <date>', 'the last decision Wednesday, YYYY-MM-DD').argParser(parseDate))
    .addOption(new Option('--name <name>', 'the backtest (its portfolio is bt-NAME; default: offline-FROM-TO)').argParser(parsePortfolio))
    .option('--offline', 'use the deterministic offline agents even when LLM keys are set')
    .option('--allow-offline-seats', 'let a seat whose provider has no key run its offline persona (labelled as such)')
    .addOption(
      new Option(
        '--workers <n>',
        'weeks deciding at once in this process (default 1 offline, 4 with LLM seats); on PostgreSQL the decide jobs this process runs (default 2; 0: leave them to `llm-trading worker`)',
      ).argParser(parseWorkers),
    )
    .option('--in-process', 'on PostgreSQL: run in this process, without the job queue')
    .addOption(
      new Option(
        '--budget-usd <usd>',
        "the cap on the whole backtest's LLM spending (default: budget_usd_per_backtest in config/llm.yaml)",
      ).argParser(parseUsd),
    )
    .action(async (show, name, o) => {
      const commands = await import('./backtest-commands.js');
      if (show === undefined) return commands.backtest(io, o);
      if (show !== 'show')
        throw new UsageError(`unknown backtest subcommand "${show}": use \`backtest --from D --to D\` or \`backtest show NAME\``);
      if (!name) throw new UsageError('backtest show needs the name of a backtest (see `llm-trading backtests`)');
      return commands.showBacktest(io, name, o);
    });
  withCommon(program.command('backtests').description('the stored backtests: range, weeks done, status')).action(async (o) =>
    (await import('./backtest-commands.js')).listBacktests(io, o),
  );
  withCommon(
    program
      .command('worker')
      .description(
        'work on the backtest weeks and schedule slots of a PostgreSQL database (DATABASE_URL) with any number of other workers, until Ctrl-C/SIGTERM',
      ),
  )
    .addOption(
      new Option('--workers <n>', 'decide jobs at once in this process (default 2; the books get their own)').argParser(parseWorkers),
    )
    .action(async (o) => (await import('./worker-command.js')).worker(io, o));
  const data = program
    .command('data')
    .description(
      'market data from Alpaca: `data sync` downloads bars into the database (MARKET_DATA=alpaca reads them), `data status` shows what it holds',
    );
  withCommon(
    data
      .command('sync')
      .description(
        "download Alpaca's calendar and the universe's daily bars (and with --minutes the minute bars of recent weeks) into the database, incrementally",
      ),
  )
    .addOption(
      new Option(
        '--from <date>',
        'first date, YYYY-MM-DD (default: history_start of config/market-data.yaml; with --minutes also the first minute-bar day)',
      ).argParser(parseDate),
    )
    .addOption(
      new Option('--to <date>', 'last date, YYYY-MM-DD (default and at most: the last closed session; minute bars: today)').argParser(
        parseDate,
      ),
    )
    .option('--minutes', 'also minute bars of the checkpoint days (default: the sessions of the last minute_weeks weeks)')
    .action(async (o) => (await import('./data-commands.js')).dataSync(io, o));
  withCommon(data.command('status').description('the bars and calendar the database holds, per ticker')).action(async (o) =>
    (await import('./data-commands.js')).dataStatus(io, o),
  );
  withPortfolio(
    withCommon(
      program
        .command('schedule')
        .description(
          'the schedule daemon: the postmortem and weekly run on the decision day, checkpoints on trading days, missed runs caught up by config/schedule.yaml; `schedule status` shows next, last and missed runs',
        ),
    ),
  )
    .argument('[status]', '`status`: print the next runs, the last runs and missed runs, and exit')
    .option('--once', 'one pass: run what is due (or still worth catching up), print the status, exit')
    .option('--offline', 'use the deterministic offline agents even when LLM keys are set')
    .option('--allow-offline-seats', 'let a seat whose provider has no key run its offline persona (labelled as such)')
    .addOption(new Option('--log-format <format>', 'plain (default) or json (one JSON line per event)').choices(['plain', 'json'] as const))
    .addOption(new Option('--health-port <port>', 'serve GET /healthz on 127.0.0.1:<port>').argParser(parsePort))
    .addOption(new Option('--now <instant>', 'pretend the clock starts at this ISO-8601 instant (replays on the bundled data)'))
    .addOption(
      new Option(
        '--workers <n>',
        'PostgreSQL: slots this process runs itself (default 1; 0: leave them to `llm-trading worker`)',
      ).argParser(parseWorkers),
    )
    .action(async (status, o) => {
      if (status !== undefined && status !== 'status')
        throw new UsageError(`unknown schedule subcommand "${status}": use \`schedule\` or \`schedule status\``);
      return (await import('./schedule-command.js')).schedule(io, status === 'status' ? 'status' : 'run', o);
    });
  planned(program, 'dashboard', 'the dashboard', 'the dashboard issue');

  return program;
}

/** A command the design names that a later issue builds: listed in --help, and says so when run. */
function planned(program: Command, name: string, description: string, issue: string): void {
  program
    .command(name)
    .description(`${description} — planned, not built yet`)
    .allowUnknownOption()
    .allowExcessArguments()
    .action(() => {
      throw new PlannedCommandError(
        `\`${name}\` is planned and not built yet (issue ${issue}); see \`llm-trading --help\` for what works today`,
      );
    });
}

/** Runs the CLI and returns the exit code; never throws. Errors become one line on stderr. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const program = buildProgram(io);
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Commander has already printed its message (unknown command or flag, bad argument), or help/version.
      return error.exitCode === 0 ? 0 : 1;
    }
    return await reportError(argv, io, error);
  }
}

async function reportError(argv: readonly string[], io: CliIo, error: unknown): Promise<number> {
  const secrets = secretsOfEnv(io.env);
  io.stderr(`llm-trading: ${redact(describeError(error), secrets)}${connectionLossAdvice(error)}\n`);
  // A refusal or a bad argument says all there is to say; anything else goes to the log in full.
  const expected = error instanceof UserError;
  if (argv.includes('--verbose') && !expected) io.stderr(`${redact(fullErrorText(error), secrets)}\n`);
  if (!expected) {
    const { resolve } = await import('node:path');
    const home = resolve(io.env.LLM_TRADING_HOME?.trim() || '.llm-trading');
    logError(home, argv, error, secrets);
  }
  return error instanceof InterruptedError ? error.exitCode : 1;
}
