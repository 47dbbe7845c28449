import { cpSync, existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config/app-config.js';
import { openStore } from '../src/storage/db.js';
import { cli } from './helpers/cli.js';
import { councilResponder, offlineAnswers, schemaNameOf, seatOfModel, type CouncilAnswers } from './helpers/council-responder.js';
import { fastConfigDir } from './helpers/fast-config.js';
import { reply, startStandIn, type StandIn } from './helpers/llm-stand-in.js';

const WEEK = '2024-03-06';
const REQUESTY_KEY = 'rq-test-KEY-7f3a9c1e5b2d';
const PERPLEXITY_KEY = 'pplx-test-KEY-4e8b0d6a2c9f';

let answers: CouncilAnswers;
let configDir: string;
let root: string;
const seatOf = seatOfModel({ config: loadConfig() }, 'requesty');

beforeAll(async () => {
  answers = await offlineAnswers(WEEK);
  configDir = fastConfigDir({ callDeadlineSeconds: 5 });
  root = mkdtempSync(join(tmpdir(), 'lt-llm-'));
});
afterAll(() => {
  rmSync(root, { recursive: true, force: true });
  rmSync(configDir, { recursive: true, force: true });
});

function envFor(standIn: StandIn, home: string): NodeJS.ProcessEnv {
  return {
    LLM_TRADING_HOME: join(root, home),
    LLM_TRADING_CONFIG_DIR: configDir,
    REQUESTY_API_KEY: REQUESTY_KEY,
    REQUESTY_BASE_URL: `${standIn.url}/v1`,
    PERPLEXITY_API_KEY: PERPLEXITY_KEY,
    PERPLEXITY_BASE_URL: standIn.url,
  };
}

function filesUnder(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? filesUnder(path) : [path];
  });
}

describe('real LLM seats against the local stand-in', () => {
  let standIn: StandIn;
  beforeAll(async () => {
    standIn = await startStandIn(councilResponder(answers, seatOf));
  });
  afterAll(async () => standIn.close());

  it('runs the week on Perplexity research and the Requesty models, with usage and cost per seat', async () => {
    const run = await cli(['run_weekly', '--week', WEEK, '--json'], envFor(standIn, 'live'));
    expect(run.code, run.stderr).toBe(0);
    const result = JSON.parse(run.stdout);
    expect(result.status).toBe('completed');
    expect(result.mode).toBe('perplexity+requesty');
    expect(result.research).toMatchObject({ provider: 'perplexity', model: 'sonar-deep-research' });
    expect(result.pitches.map((p: { model: string }) => p.model)).toEqual([
      'openai/gpt-5.1',
      'google/gemini-3-pro-preview',
      'anthropic/claude-sonnet-4-5',
      'xai/grok-4',
      'deepseek/deepseek-chat',
    ]);
    expect(result.pitches[0].pitch.pm_model).toBe('openai/gpt-5.1');
    expect(result.decision).toMatchObject({ provider: 'requesty', model: 'anthropic/claude-opus-4-5' });
    // 1 research + 5 pitches + 20 reviews + 1 chairman, each answered once at $0.01 (reported by the provider).
    expect(result.usage).toMatchObject({ calls: 27, cache_hits: 0, prompt_tokens: 27 * 2000, completion_tokens: 27 * 800, cost_usd: 0.27 });
    expect(result.usage.by_seat).toContainEqual(
      expect.objectContaining({ stage: 'research', seat: 'researcher', calls: 1, cost_usd: 0.01 }),
    );
    expect(result.usage.by_seat).toContainEqual(expect.objectContaining({ stage: 'peer_review', seat: 'gpt', calls: 4, cost_usd: 0.04 }));
    // Research went through the asynchronous job API; the others through chat completions with the JSON Schema.
    expect(standIn.requests.filter((r) => r.kind === 'async_submit')).toHaveLength(1);
    const pitchRequest = standIn
      .chatRequests()
      .find((r) => r.chat?.model === 'openai/gpt-5.1' && schemaNameOf(r) === 'pm_pitch_with_ranking');
    expect(pitchRequest?.headers.authorization).toBe(`Bearer ${REQUESTY_KEY}`);
    // Reviewers never see model names of the pitches they review.
    for (const r of standIn.chatRequests().filter((x) => schemaNameOf(x) === 'peer_review_ranking_vs_choice')) {
      const text = JSON.stringify(r.chat?.messages);
      for (const model of result.pitches.map((p: { model: string }) => p.model)) expect(text).not.toContain(model);
    }

    const status = await cli(['status', '--json'], envFor(standIn, 'live'));
    expect(JSON.parse(status.stdout)[0].usage).toEqual(result.usage);
    expect(result.usage).toMatchObject({ calls: 27, prompt_tokens: 54000, completion_tokens: 21600, cost_usd: 0.27 });
    const readable = await cli(['status'], envFor(standIn, 'live'));
    expect(readable.stdout).toMatch(/2024-03-06\s+completed\s+.*\s27\s+\$0\.2700/);
    // Per seat, all stages together: a PM's pitch and its four reviews; the researcher; the chairman.
    expect(readable.stdout).toMatch(/^ {4}researcher 1 calls \$0\.0100 · gpt 5 calls \$0\.0500 · .*chairman 1 calls \$0\.0100/m);
    // The postmortem reports the same cost, per seat and in total, and asks no model anything.
    const before = standIn.requests.length;
    const postmortem = await cli(['postmortem', '--week', WEEK, '--json'], envFor(standIn, 'live'));
    expect(postmortem.code, postmortem.stderr).toBe(0);
    expect(JSON.parse(postmortem.stdout).usage).toEqual(result.usage);
    expect(standIn.requests.length).toBe(before);
  });

  it('keeps every key out of the database, the event log and the artifacts', async () => {
    const env = envFor(standIn, 'live');
    const store = await openStore({ home: env.LLM_TRADING_HOME as string });
    try {
      for (const table of ['llm_calls', 'events', 'stage_runs', 'pitches', 'reviews', 'decisions', 'runs', 'llm_cache']) {
        // A whole-row text cast: every column, jsonb included, as the database stores it.
        const rows = await store.db.execute(sql.raw(`select t::text as row from ${table} t`));
        const text = JSON.stringify(rows);
        expect(text.length).toBeGreaterThan(2);
        expect(text).not.toContain(REQUESTY_KEY);
        expect(text).not.toContain(PERPLEXITY_KEY);
      }
    } finally {
      await store.close();
    }
    const files = filesUnder(join(env.LLM_TRADING_HOME as string, 'runs'));
    expect(files.some((f) => f.includes(`${join('raw', 'pm_pitches', 'calls')}`))).toBe(true);
    for (const file of files) {
      const text = readFileSync(file, 'utf8');
      expect(text).not.toContain(REQUESTY_KEY);
      expect(text).not.toContain(PERPLEXITY_KEY);
    }
  });

  it('replays a finished week from the cache with zero network calls', async () => {
    const before = standIn.requests.length;
    const run = await cli(['run_weekly', '--week', WEEK, '--force', '--json'], envFor(standIn, 'live'));
    expect(run.code, run.stderr).toBe(0);
    const result = JSON.parse(run.stdout);
    expect(result.status).toBe('completed');
    expect(standIn.requests.length).toBe(before);
    expect(result.usage.cache_hits).toBe(27);
    // --no-cache asks again.
    const fresh = await cli(['research', '--week', WEEK, '--force', '--no-cache', '--json'], envFor(standIn, 'live'));
    expect(fresh.code, fresh.stderr).toBe(0);
    expect(standIn.requests.filter((r) => r.kind === 'async_submit')).toHaveLength(2);
  });
});

describe('a seat that keeps answering invalid output', () => {
  let standIn: StandIn;
  beforeAll(async () => {
    standIn = await startStandIn(
      councilResponder(answers, seatOf, (req, body) => {
        // GPT's pitch always ranks only three instruments: the re-asks cannot fix it.
        if (req.chat?.model === 'openai/gpt-5.1' && schemaNameOf(req) === 'pm_pitch_with_ranking') {
          const pitch = answers.pitchBySeat.get('gpt') as { instrument_ranking: unknown[] };
          return reply.json({ ...pitch, instrument_ranking: pitch.instrument_ranking.slice(0, 3) });
        }

        return body;
      }),
    );
  });
  afterAll(async () => standIn.close());

  it('fails that seat with the reason, completes with quorum, and never trades it', async () => {
    const run = await cli(['run_weekly', '--week', WEEK], envFor(standIn, 'invalid'));
    expect(run.code, run.stderr).toBe(0);
    expect(run.stderr).toMatch(/✖ gpt .*instrument_ranking: missing/);
    expect(run.stdout).toMatch(/gpt\s+openai\/gpt-5\.1\s+FAILED/);
    expect(run.stdout).toMatch(/error: .*instrument_ranking: missing/);
    // Per-seat usage: the first answer and two re-asks of gpt, all three invalid.
    expect(run.stdout).toMatch(/LLM usage per seat/);
    expect(run.stdout).toMatch(/pm_pitches\s+gpt\s+3\s+0\s+3\s+/);
    expect(run.stdout).toMatch(/usage: \d+ LLM calls \(0 from cache\)/);
    const json = await cli(['run_weekly', '--week', WEEK, '--json'], envFor(standIn, 'invalid'));
    const result = JSON.parse(json.stdout);
    expect(result.pitches[0]).toMatchObject({ seat: 'gpt', status: 'failed', pitch: null });
    expect(result.accounts[0]).toMatchObject({ account_id: 1, trade: null, orders: [] });
    // The first answer plus two re-asks, each re-ask listing the validation errors.
    const asks = standIn.chatRequests().filter((r) => r.chat?.model === 'openai/gpt-5.1' && schemaNameOf(r) === 'pm_pitch_with_ranking');
    expect(asks).toHaveLength(3);
    expect(JSON.stringify(asks[1]?.chat?.messages?.at(-1))).toMatch(/missing/);
  });
});

describe('a broken prompt template', () => {
  let standIn: StandIn;
  let prompts: string;
  let brokenLine: number;
  beforeAll(async () => {
    standIn = await startStandIn(councilResponder(answers, seatOf));
    prompts = mkdtempSync(join(tmpdir(), 'lt-prompts-'));
    cpSync(join(configDir, 'prompts'), prompts, { recursive: true });
    const chairman = join(prompts, 'chairman.md');
    const lines = readFileSync(chairman, 'utf8').split('\n');
    brokenLine = lines.indexOf('<!-- system -->') + 2;
    lines.splice(brokenLine - 1, 0, '{% if week_id %}never closed');
    writeFileSync(chairman, lines.join('\n'));
  });
  afterAll(async () => {
    await standIn.close();
    rmSync(prompts, { recursive: true, force: true });
  });

  it('stops the run before any call is paid for, naming the file and line', async () => {
    const env = { ...envFor(standIn, 'broken-prompt'), LLM_TRADING_PROMPTS_DIR: prompts };
    const run = await cli(['run_weekly', '--week', WEEK], env);
    expect(run.code).toBe(1);
    expect(run.stderr.trim().split('\n').at(-1)).toMatch(new RegExp(`chairman\\.md:${brokenLine}: .*never closed`));
    expect(standIn.requests).toHaveLength(0);
    // Nothing was written: the database was not even opened.
    expect(existsSync(join(root, 'broken-prompt', 'pgdata'))).toBe(false);
  });
});

describe('the per-run budget', () => {
  let standIn: StandIn;
  let tinyBudget: string;
  beforeAll(async () => {
    standIn = await startStandIn(councilResponder(answers, seatOf));
    // Research is priced at about $0.03 by the price table's estimate; the cap allows it and nothing more.
    tinyBudget = fastConfigDir({ callDeadlineSeconds: 5, budgetUsd: 0.05 });
  });
  afterAll(async () => {
    await standIn.close();
    rmSync(tinyBudget, { recursive: true, force: true });
  });

  it('stops the run before a call would exceed the cap, without sending it', async () => {
    const env = { ...envFor(standIn, 'budget'), LLM_TRADING_CONFIG_DIR: tinyBudget };
    const run = await cli(['run_weekly', '--week', WEEK, '--json'], env);
    expect(run.code).toBe(1);
    const result = JSON.parse(run.stdout);
    expect(result.status).toBe('partial');
    expect(result.error).toMatch(/budget/i);
    expect(result.failed_stage).toMatchObject({ stage: 'pm_pitches', error: expect.stringMatching(/^pm_pitches failed: .*quorum is 3/) });
    // Seat by seat, for scripts: who answered, and why the others did not.
    expect(result.failed_stage.seats).toEqual([
      { seat: 'gpt', ok: false, error: expect.stringMatching(/LLM budget of \$0\.05 per run would be exceeded/) },
      { seat: 'gemini', ok: false, error: expect.stringMatching(/LLM budget/) },
      { seat: 'sonnet', ok: false, error: expect.stringMatching(/LLM budget/) },
      { seat: 'grok', ok: false, error: expect.stringMatching(/LLM budget/) },
      { seat: 'deepseek', ok: true },
    ]);
    // The quorum failure names every seat the budget stopped, and the estimate that would have exceeded it.
    for (const seat of ['gpt', 'gemini', 'sonnet', 'grok']) {
      expect(result.error).toMatch(new RegExp(`${seat}: LLM budget of \\$0\\.05 per run would be exceeded by ${seat}'s call`));
    }
    // Only the calls that fit went out (research, then DeepSeek's cheap pitch); the rest were refused unsent.
    expect(standIn.chatRequests().map((r) => [schemaNameOf(r), r.chat?.model])).toEqual([
      ['research_pack', 'sonar-deep-research'],
      ['pm_pitch_with_ranking', 'deepseek/deepseek-chat'],
    ]);
    expect(result.accounts.every((a: { orders: unknown[] }) => a.orders.length === 0)).toBe(true);
  });
});

describe('a seat meant for an LLM whose provider has no key (issue P3 #6)', () => {
  let standIn: StandIn;
  let pinnedConfig: string;
  beforeAll(async () => {
    standIn = await startStandIn(councilResponder(answers, seatOf));
    // GPT pinned to OpenRouter, whose key is not set; the rest on Requesty, whose key is.
    pinnedConfig = mkdtempSync(join(tmpdir(), 'lt-pinned-'));
    cpSync(configDir, pinnedConfig, { recursive: true });
    const models = join(pinnedConfig, 'models.yaml');
    writeFileSync(models, readFileSync(models, 'utf8').replace(/( {2}gpt:\n {4}role: pm\n)/, '$1    provider: openrouter\n'));
  });
  afterAll(async () => {
    await standIn.close();
    rmSync(pinnedConfig, { recursive: true, force: true });
  });

  it('stops the run before anything is paid for, naming the seat and the variable', async () => {
    const env: NodeJS.ProcessEnv = { ...envFor(standIn, 'no-key'), LLM_TRADING_CONFIG_DIR: pinnedConfig };
    const before = standIn.requests.length;
    const run = await cli(['run_weekly', '--week', WEEK], env);
    expect(run.code).toBe(1);
    expect(run.stderr.trim().split('\n')).toEqual([
      'llm-trading: seat gpt cannot run on an LLM: its provider openrouter has no key (OPENROUTER_API_KEY is not set); set OPENROUTER_API_KEY, ' +
        'or pass --allow-offline-seats (allow_offline_seats: true in config/models.yaml) to run its offline persona offline/trend, labelled as such',
    ]);
    expect(standIn.requests.length).toBe(before);
    expect(existsSync(join(env.LLM_TRADING_HOME as string, 'pgdata'))).toBe(false);
  });

  it('with --allow-offline-seats, runs the persona and names it, never the model, in --json, the summary and the postmortem', async () => {
    const env = { ...envFor(standIn, 'allowed'), LLM_TRADING_CONFIG_DIR: pinnedConfig };
    const run = await cli(['run_weekly', '--week', WEEK, '--json', '--allow-offline-seats'], env);
    expect(run.code, run.stderr).toBe(0);
    const result = JSON.parse(run.stdout);
    expect(result.pitches[0]).toMatchObject({ seat: 'gpt', provider: 'offline', model: 'offline/trend' });
    expect(result.accounts[0]).toMatchObject({ account_id: 1, owner: 'gpt', agent: 'offline/trend' });
    expect(result.accounts[1]).toMatchObject({ owner: 'gemini', agent: 'google/gemini-3-pro-preview' });
    expect(run.stdout).not.toContain('gpt-5.1');

    const summary = await cli(['run_weekly', '--week', WEEK, '--allow-offline-seats'], env);
    expect(summary.stdout).toMatch(/^ {2}1 {5}gpt {7}offline\/trend /m);
    expect(summary.stdout).not.toContain('gpt-5.1');
    const postmortem = JSON.parse((await cli(['postmortem', '--week', WEEK, '--json'], env)).stdout);
    expect(postmortem.accounts.find((a: { account_id: number }) => a.account_id === 1)).toMatchObject({ agent: 'offline/trend' });
    expect(JSON.stringify(postmortem)).not.toContain('gpt-5.1');
  });
});

describe('a research seat that fails after its retries', () => {
  let standIn: StandIn;
  beforeAll(async () => {
    // Every research request is refused (503); the other seats answer.
    standIn = await startStandIn(
      councilResponder(answers, seatOf, (req, body) => (schemaNameOf(req) === 'research_pack' ? reply.status(503) : body)),
    );
  });
  afterAll(async () => standIn.close());

  it('is replaced by the offline analyst, and every output says so (council.research_fallback: offline)', async () => {
    const env = envFor(standIn, 'research-fallback');
    const run = await cli(['run_weekly', '--week', WEEK, '--json'], env);
    expect(run.code, run.stderr).toBe(0);
    const result = JSON.parse(run.stdout);
    expect(result.status).toBe('completed');
    expect(result.research).toMatchObject({
      provider: 'offline',
      model: 'offline/macro-snapshot',
      fallback: { provider: 'perplexity', model: 'sonar-deep-research', error: expect.stringMatching(/503/) },
      research_source: expect.stringMatching(/^FALLBACK offline\/macro-snapshot .*: sonar-deep-research failed/),
    });
    expect(run.stderr).toMatch(/✔ research .*FALLBACK: sonar-deep-research failed/);
    const summary = await cli(['run_weekly', '--week', WEEK], env);
    expect(summary.stdout).toMatch(/FALLBACK: the research seat sonar-deep-research failed/);
    const postmortem = JSON.parse((await cli(['postmortem', '--week', WEEK, '--json'], env)).stdout);
    expect(postmortem.notes).toContainEqual(
      expect.stringMatching(/^the research seat sonar-deep-research failed .*offline analyst's pack$/),
    );
  });

  it('stops the week at research with research_fallback: none, trading nothing', async () => {
    const strict = mkdtempSync(join(tmpdir(), 'lt-strict-'));
    cpSync(configDir, strict, { recursive: true });
    const models = join(strict, 'models.yaml');
    writeFileSync(models, readFileSync(models, 'utf8').replace('research_fallback: offline', 'research_fallback: none'));
    try {
      const env = { ...envFor(standIn, 'research-strict'), LLM_TRADING_CONFIG_DIR: strict };
      const run = await cli(['run_weekly', '--week', WEEK, '--json'], env);
      expect(run.code).toBe(1);
      const result = JSON.parse(run.stdout);
      expect(result).toMatchObject({ status: 'partial', stages: { snapshot: 'completed', research: 'pending' } });
      expect(result.failed_stage).toMatchObject({ stage: 'research', error: expect.stringMatching(/^research failed: researcher: .*503/) });
      expect(result.accounts.every((a: { orders: unknown[] }) => a.orders.length === 0)).toBe(true);
    } finally {
      rmSync(strict, { recursive: true, force: true });
    }
  });
});

describe('credentials inside a base URL (issue P3 #12)', () => {
  const PASSWORD = 'gateway-PASS-93b1d2';
  let standIn: StandIn;
  beforeAll(async () => {
    standIn = await startStandIn(councilResponder(answers, seatOf));
  });
  afterAll(async () => standIn.close());

  const withCredentials = (home: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => {
    const url = new URL(`${standIn.url}/v1`);
    url.username = 'trader';
    url.password = PASSWORD;
    return {
      ...envFor(standIn, home),
      REQUESTY_API_KEY: '',
      LLM_PROVIDER: 'requesty',
      REQUESTY_BASE_URL: url.toString(),
      ...extra,
    };
  };

  it('are sent as Basic auth, and the password is nowhere: not in the output, the database or the artifacts', async () => {
    const env = withCredentials('basic-auth');
    const before = standIn.requests.length;
    const run = await cli(['run_weekly', '--week', WEEK, '--json'], env);
    expect(run.code, run.stderr).toBe(0);
    const routed = standIn.requests.slice(before).filter((r) => r.kind === 'chat');
    expect(routed.length).toBeGreaterThan(20);
    const basic = `Basic ${Buffer.from(`trader:${PASSWORD}`).toString('base64')}`;
    for (const r of routed.filter((x) => x.chat?.model !== 'sonar-deep-research')) expect(r.headers.authorization).toBe(basic);
    expect(run.stdout + run.stderr).not.toContain(PASSWORD);
    const store = await openStore({ home: env.LLM_TRADING_HOME as string });
    try {
      for (const table of ['llm_calls', 'events', 'stage_runs', 'llm_cache']) {
        const rows = JSON.stringify(await store.db.execute(sql.raw(`select t::text as row from ${table} t`)));
        expect(rows).not.toContain(PASSWORD);
        expect(rows).not.toContain(Buffer.from(`trader:${PASSWORD}`).toString('base64'));
      }
    } finally {
      await store.close();
    }
    const files = filesUnder(join(env.LLM_TRADING_HOME as string, 'runs'));
    expect(files.filter((f) => f.includes(join('raw', 'pm_pitches', 'calls'))).length).toBeGreaterThan(0);
    for (const file of files) expect(readFileSync(file, 'utf8')).not.toContain(PASSWORD);
  });

  it('with a key for the same provider too, the run stops in one line before any request, naming both', async () => {
    const before = standIn.requests.length;
    const run = await cli(['run_weekly', '--week', WEEK], withCredentials('basic-and-key', { REQUESTY_API_KEY: REQUESTY_KEY }));
    expect(run.code).toBe(1);
    const lines = run.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/REQUESTY_BASE_URL.*REQUESTY_API_KEY|REQUESTY_API_KEY.*REQUESTY_BASE_URL/);
    expect(run.stderr).not.toContain(PASSWORD);
    expect(run.stderr).not.toContain(REQUESTY_KEY);
    expect(standIn.requests.length).toBe(before);
  });
});
