/**
 * `npm run stress`: the process scenarios of tests/processes.test.ts for many rounds, with figures.
 *
 *   concurrent  R rounds of K = 2..4 `run_weekly --week W --json` started together on one fresh
 *               database (an embedded home; a scratch PostgreSQL database when STRESS_DATABASE_URL is
 *               set); each round's books are compared with one clean run.
 *   kill        R rounds on one fresh database each: run_weekly killed with SIGKILL at a random
 *               instant 1..N times, then resumed; the books, events, artifacts and the resumed --json
 *               result are checked.
 *
 * Options (environment): STRESS_ROUNDS (default 6), STRESS_KILLS (max kills per round, default 4),
 * STRESS_SEED, STRESS_DATABASE_URL (admin URL of a PostgreSQL server: its engine is tested too),
 * STRESS_COMMAND (`run_weekly`, the default, or `week`: the pipeline, every checkpoint and the
 * postmortem, so processes meet and die in the checkpoints too).
 *
 *   STRESS_COMMAND=workers (needs STRESS_DATABASE_URL): an offline backtest of STRESS_WEEKS weeks
 *               (default 26) on the job queue, waited for by `backtest --workers 0`, worked by
 *               STRESS_WORKERS `llm-trading worker` processes (default 3), one of which is killed -9
 *               every 1–4 s and replaced by a new one, STRESS_ROUNDS times; each round's report and
 *               books are compared with the same backtest run in one process. A backtest that stops
 *               because one job's workers were killed more than jobs.retry_limit times is run again, as
 *               its message tells the user (at most 3 times; counted in the round's line).
 * Prints one line per round and a summary per engine; exits 1 if any round broke an invariant.
 */
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { and, eq } from 'drizzle-orm';
import { STAGES } from '../src/council/stage.js';
import { addDays } from '../src/market/calendar.js';
import { openStore } from '../src/storage/db.js';
import { events, orders, runs } from '../src/storage/schema.js';
import { booksOf, runCli, startCli } from '../tests/helpers/processes.js';
import { createScratchDatabase } from '../tests/helpers/stores.js';

const WEEK = '2024-03-06';
const COMMAND = process.env.STRESS_COMMAND ?? 'run_weekly';
if (COMMAND !== 'run_weekly' && COMMAND !== 'week' && COMMAND !== 'workers')
  throw new Error(`STRESS_COMMAND must be run_weekly, week or workers, not ${COMMAND}`);
const ARGS = [COMMAND, '--week', WEEK, '--json'];

interface Listed {
  accounts: { orders: unknown[] }[];
}
/** How many orders a --json result lists: the week's execution's, and with `week` every checkpoint's too. */
function ordersListed(stdout: string): number {
  if (COMMAND === 'run_weekly') return (JSON.parse(stdout) as Listed).accounts.flatMap((a) => a.orders).length;
  const whole = JSON.parse(stdout) as { weekly: Listed; checkpoints: { updates: { orders: unknown[] }[] }[] };
  return (
    whole.weekly.accounts.flatMap((a) => a.orders).length + whole.checkpoints.flatMap((c) => c.updates.flatMap((u) => u.orders)).length
  );
}
const rounds = Number(process.env.STRESS_ROUNDS ?? 6);
const maxKills = Number(process.env.STRESS_KILLS ?? 4);
let seed = Number(process.env.STRESS_SEED ?? 20261202);
const random = () => {
  // mulberry32: reproducible rounds for a given seed
  seed = (seed + 0x6d2b79f5) | 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};

const root = mkdtempSync(join(tmpdir(), 'lt-stress-'));
type Where = { home: string; url?: string };

async function books(where: Where, portfolio = 'default') {
  const store = await openStore({ ...(where.url ? { databaseUrl: where.url } : { home: where.home }), lockTimeoutMs: 60_000 });
  try {
    const b = await booksOf(store.db, portfolio);
    const [run] = await store.db
      .select()
      .from(runs)
      .where(and(eq(runs.portfolio, portfolio), eq(runs.weekId, WEEK)));
    const placed = await store.db.select({ id: orders.clientOrderId }).from(orders).where(eq(orders.portfolio, portfolio));
    const logged = await store.db
      .select({ key: events.idempotencyKey })
      .from(events)
      .where(and(eq(events.portfolio, portfolio), eq(events.kind, 'order')));
    const keys = new Set(logged.map((e) => e.key));
    return { books: b, status: run?.status, orphanOrders: placed.filter((o) => !keys.has(`order:${o.id}`)).length, events: logged.length };
  } finally {
    await store.close();
  }
}

function artifactProblems(home: string): string[] {
  const dir = join(home, 'runs', 'default', WEEK);
  const missing = STAGES.filter((s) => !existsSync(join(dir, 'normalized', `${s}.json`))).map((s) => `missing ${s}.json`);
  const tmp = existsSync(dir) ? readdirSync(dir, { recursive: true }).filter((f) => String(f).endsWith('.tmp')) : [];
  return [...missing, ...tmp.map((f) => `leftover ${String(f)}`)];
}

async function fresh(engine: string, label: string): Promise<{ env: NodeJS.ProcessEnv; where: Where; drop(): Promise<void> }> {
  const home = join(root, `${engine}-${label}`);
  if (engine === 'pglite') return { env: { LLM_TRADING_HOME: home }, where: { home }, drop: async () => undefined };
  const scratch = await createScratchDatabase(process.env.STRESS_DATABASE_URL as string);
  return { env: { LLM_TRADING_HOME: home, DATABASE_URL: scratch.url }, where: { home, url: scratch.url }, drop: () => scratch.drop() };
}

const KILL_TARGETS = [
  'anytime',
  'snapshot',
  'research',
  'pm_pitches',
  'peer_review',
  'chairman',
  'risk',
  'execute',
  'execute',
  'execute',
  // `week`: a few milliseconds after a checkpoint is reported, while the next one runs.
  ...(COMMAND === 'week' ? ['checkpoint', 'checkpoint', 'checkpoint', 'checkpoint'] : []),
];

/**
 * One run_weekly killed with SIGKILL: at a random instant of a run, or a few milliseconds after a
 * chosen stage starts (execute most often: that is where orders are placed).
 */
async function killOnce(env: NodeJS.ProcessEnv, runMs: number): Promise<{ killed: boolean; stage: string; describe: string }> {
  const target = KILL_TARGETS[Math.floor(random() * KILL_TARGETS.length)] as string;
  const running = startCli([COMMAND, '--week', WEEK], env);
  let stderr = '';
  const after = Math.round(random() * (target === 'anytime' ? runMs : 150));
  let timer: NodeJS.Timeout | undefined;
  const fire = (ms: number) => {
    timer ??= setTimeout(() => running.child.kill('SIGKILL'), ms);
  };
  running.child.stderr?.on('data', (d: Buffer) => {
    stderr += d.toString();
    if (target === 'checkpoint' && /^ {2}checkpoint \S+ \S+: /m.test(stderr)) fire(after);
    else if (target !== 'anytime' && stderr.includes(`▸ ${target} `)) fire(after);
  });
  if (target === 'anytime') fire(after);
  const ended = await running.done;
  clearTimeout(timer);
  const checkpoints = [...stderr.matchAll(/^ {2}checkpoint (\S+ \S+): /gm)];
  const stage =
    checkpoints.length > 0
      ? `checkpoints (after ${checkpoints.at(-1)?.[1]})`
      : ([...stderr.matchAll(/▸ (\w+) /g)].at(-1)?.[1] ?? 'start-up');
  const killed = ended.signal === 'SIGKILL';
  return {
    killed,
    stage,
    describe: killed
      ? `${target === 'anytime' ? `${after} ms in` : `${after} ms into ${target}`} (during ${stage})`
      : `${target}: finished first`,
  };
}

async function main(): Promise<void> {
  const clean = await runCli(ARGS, { LLM_TRADING_HOME: join(root, 'reference') });
  if (clean.code !== 0) throw new Error(`the reference run failed: ${clean.stderr}`);
  const reference = (await books({ home: join(root, 'reference') })).books;
  const expectedOrders = reference.orders.length;
  if (ordersListed(clean.stdout) !== expectedOrders) throw new Error('the reference --json result does not list every order');
  console.log(`reference: one clean ${COMMAND} --week ${WEEK}: ${expectedOrders} orders, ${(clean.ms / 1000).toFixed(1)} s`);
  const engines = ['pglite', ...(process.env.STRESS_DATABASE_URL ? ['postgres'] : [])];
  let broken = 0;

  for (const engine of engines) {
    const tally = {
      rounds: 0,
      processes: 0,
      exit0: 0,
      waited: 0,
      equal: 0,
      kills: 0,
      killedDuringExecute: 0,
      killedInCheckpoints: 0,
      resumedOk: 0,
    };
    for (let r = 0; r < rounds; r++) {
      const db = await fresh(engine, `concurrent-${r}`);
      const k = 2 + Math.floor(random() * 3);
      const results = await Promise.all(Array.from({ length: k }, () => runCli(ARGS, db.env)));
      const state = await books(db.where);
      const problems = [
        ...results.filter((x) => x.code !== 0).map((x) => `exit ${x.code}: ${x.stderr.trim().split('\n').at(-1)}`),
        ...results
          .filter((x) => x.code === 0)
          .filter((x) => ordersListed(x.stdout) !== expectedOrders)
          .map(() => 'a --json result lacks orders'),
        ...(JSON.stringify(state.books) === JSON.stringify(reference) ? [] : ['books differ from the clean run']),
        ...(state.status === 'completed' ? [] : [`status ${state.status}`]),
        ...(state.orphanOrders ? [`${state.orphanOrders} orders without their event`] : []),
        ...artifactProblems(db.where.home),
      ];
      tally.rounds++;
      tally.processes += k;
      tally.exit0 += results.filter((x) => x.code === 0).length;
      tally.waited += results.filter((x) => /waiting/.test(x.stderr)).length;
      if (JSON.stringify(state.books) === JSON.stringify(reference)) tally.equal++;
      if (problems.length > 0) broken++;
      console.log(
        `${engine} concurrent round ${r + 1}: ${k} processes, ${problems.length ? `BROKEN: ${problems.join('; ')}` : 'books equal the clean run'}`,
      );
      await db.drop();
    }
    console.log(
      `${engine} concurrent: ${tally.rounds} rounds, ${tally.processes} processes, ${tally.exit0} exited 0, ${tally.waited} waited for another, ` +
        `${tally.equal}/${tally.rounds} rounds with books equal to one clean run`,
    );

    for (let r = 0; r < rounds; r++) {
      const db = await fresh(engine, `kill-${r}`);
      const kills = 1 + Math.floor(random() * maxKills);
      const points: string[] = [];
      for (let i = 0; i < kills; i++) {
        const kill = await killOnce(db.env, clean.ms);
        if (kill.killed) {
          tally.kills++;
          if (kill.stage === 'execute') tally.killedDuringExecute++;
          if (kill.stage.startsWith('checkpoints')) tally.killedInCheckpoints++;
        }
        points.push(kill.describe);
      }
      const resumed = await runCli(ARGS, db.env);
      const state = await books(db.where);
      const resultOrders = resumed.code === 0 ? ordersListed(resumed.stdout) : -1;
      const problems = [
        ...(resumed.code === 0 ? [] : [`resume exit ${resumed.code}: ${resumed.stderr.trim().split('\n').at(-1)}`]),
        ...(resultOrders === expectedOrders ? [] : [`resumed result lists ${resultOrders} of ${expectedOrders} orders`]),
        ...(JSON.stringify(state.books) === JSON.stringify(reference) ? [] : ['books differ from the clean run']),
        ...(state.orphanOrders ? [`${state.orphanOrders} orders without their event`] : []),
        ...artifactProblems(db.where.home),
      ];
      if (problems.length === 0) tally.resumedOk++;
      else broken++;
      console.log(
        `${engine} kill round ${r + 1}: killed at ${points.join(', ')}; ${problems.length ? `BROKEN: ${problems.join('; ')}` : 'resumed clean'}`,
      );
      await db.drop();
    }
    console.log(
      `${engine} kill -9: ${tally.kills} kills in ${rounds} rounds (${tally.killedDuringExecute} during execute${COMMAND === 'week' ? `, ${tally.killedInCheckpoints} during the checkpoints` : ''}), ${tally.resumedOk}/${rounds} resumed to the clean run's books, events and artifacts`,
    );
  }
  rmSync(root, { recursive: true, force: true });
  if (broken > 0) {
    console.log(`${broken} rounds broke an invariant`);
    process.exitCode = 1;
  }
}

/** STRESS_COMMAND=workers: see the file comment. */
async function workersUnderFire(): Promise<void> {
  const adminUrl = process.env.STRESS_DATABASE_URL;
  if (!adminUrl) throw new Error('STRESS_COMMAND=workers needs STRESS_DATABASE_URL (the job queue is PostgreSQL)');
  const weeks = Number(process.env.STRESS_WEEKS ?? 26);
  const poolSize = Number(process.env.STRESS_WORKERS ?? 3);
  const to = addDays('2024-01-03', 7 * (weeks - 1));
  const range = ['--from', '2024-01-03', '--to', to, '--offline', '--name', 'fire', '--json'];
  const referenceDb = await fresh('postgres', 'workers-reference');
  const reference = await runCli(['backtest', ...range, '--in-process'], referenceDb.env);
  if (reference.code !== 0) throw new Error(`the reference backtest failed: ${reference.stderr}`);
  const referenceBooks = (await books(referenceDb.where, 'bt-fire')).books;
  await referenceDb.drop();
  console.log(`reference: ${weeks} weeks in one process, ${(reference.ms / 1000).toFixed(1)} s, ${referenceBooks.orders.length} orders`);
  let broken = 0;
  let totalKills = 0;
  for (let r = 0; r < rounds; r++) {
    const db = await fresh('postgres', `workers-${r}`);
    const started = performance.now();
    const pool = Array.from({ length: poolSize }, () => startCli(['worker', '--workers', '2'], db.env));
    let kills = 0;
    let continued = 0;
    let ended;
    for (;;) {
      const coordinator = startCli(['backtest', ...range, '--workers', '0'], db.env);
      let finished = false;
      void coordinator.done.then(() => (finished = true));
      while (!finished) {
        await Promise.race([coordinator.done, new Promise((resolve) => setTimeout(resolve, 1000 + random() * 3000))]);
        if (finished) break;
        const i = Math.floor(random() * pool.length);
        pool[i]?.child.kill('SIGKILL');
        kills++;
        pool[i] = startCli(['worker', '--workers', '2'], db.env);
      }
      ended = await coordinator.done;
      // One job whose workers were killed more than jobs.retry_limit times fails the backtest by design
      // (a job that kills every worker must stop); the command says to run it again, as a user would.
      if (ended.code === 0 || !/no retry left/.test(ended.stderr) || continued >= 3) break;
      continued++;
    }
    const seconds = (performance.now() - started) / 1000;
    for (const w of pool) w.child.kill('SIGTERM');
    await Promise.all(pool.map((w) => w.done));
    const state = await books(db.where, 'bt-fire');
    const problems = [
      ...(ended.code === 0 ? [] : [`backtest exit ${ended.code}: ${ended.stderr.trim().split('\n').at(-1)}`]),
      ...(ended.code === 0 && ended.stdout !== reference.stdout ? ['the report differs from the one-process run'] : []),
      ...(JSON.stringify(state.books) === JSON.stringify(referenceBooks) ? [] : ['books differ from the one-process run']),
      ...(state.orphanOrders ? [`${state.orphanOrders} orders without their event`] : []),
    ];
    totalKills += kills;
    if (problems.length > 0) broken++;
    console.log(
      `workers round ${r + 1}: ${kills} workers killed -9, done in ${seconds.toFixed(1)} s${continued ? ` (run again ${continued}× after a job ran out of retries)` : ''}; ${problems.length ? `BROKEN: ${problems.join('; ')}` : 'report and books equal the one-process run'}`,
    );
    await db.drop();
  }
  console.log(`workers: ${totalKills} kills in ${rounds} rounds, ${rounds - broken}/${rounds} rounds equal to the one-process run`);
  rmSync(root, { recursive: true, force: true });
  if (broken > 0) process.exitCode = 1;
}

if (COMMAND === 'workers') await workersUnderFire();
else await main();
