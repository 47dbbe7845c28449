import { sql } from 'drizzle-orm';
import type { Db } from '../storage/db.js';
import { reusableStatement, type Slots } from '../storage/reusable-query.js';
import { events, llmCache, llmCalls } from '../storage/schema.js';
import { TurnBatch } from '../storage/turn-batch.js';

/**
 * The rows an LLM call leaves (its `llm_calls` row and 'llm_call' event, its cached answer), gathered
 * per turn of the event loop and written together: one statement for everything the seats of a stage
 * ask to keep at once (five pitches answered together, six checkpoint updates, the cache hits of a
 * replayed stage), where each call's record and each answer had a statement of its own. A backtest
 * with LLM seats made about a hundred such statements a week, on the thread that also runs the books.
 *
 * Each caller's promise settles when the statement that holds its rows has: resolved once they are
 * stored, rejected with the statement's error otherwise (all the rows of a statement or none).
 * Conflicts keep what is there: a call is recorded once, and the first validated answer under a key
 * stays, within one statement as across them (rows go in the order they were asked for).
 */
export interface LlmCallRow {
  id: string;
  portfolio: string;
  week_id: string;
  stage: string;
  seat: string;
  provider: string;
  model: string;
  attempt: number;
  status: string;
  http_status: number | null;
  error: string | null;
  latency_ms: number;
  prompt_tokens: number;
  completion_tokens: number;
  reasoning_tokens: number;
  cached_tokens: number;
  cost_usd: number;
  cost_source: string;
  usage: unknown;
  cache_key: string;
  params: unknown;
  citations: unknown;
}

export interface LlmCallEventRow {
  idempotency_key: string;
  portfolio: string;
  week_id: string;
  kind: 'llm_call';
  stage: string;
  seat: string;
  payload: unknown;
}

export interface CachedAnswerRow {
  key: string;
  provider: string;
  model: string;
  response: unknown;
}

interface Batch {
  calls: LlmCallRow[];
  events: LlmCallEventRow[];
  answers: CachedAnswerRow[];
}

export class LlmWrites {
  readonly #turn: TurnBatch<Batch, void>;

  constructor(db: Db) {
    this.#turn = new TurnBatch(
      (): Batch => ({ calls: [], events: [], answers: [] }),
      async (batch) => {
        await writeBatch(db, {
          calls: JSON.stringify(batch.calls),
          events: JSON.stringify(batch.events),
          answers: JSON.stringify(batch.answers),
        });
      },
    );
  }

  /** Records one call: its row and its event. */
  recordCall(row: LlmCallRow, event: LlmCallEventRow): Promise<void> {
    // JSON has no NaN or Infinity: a number without a JSON form would reach the table as NULL.
    const numbers = [row.latency_ms, row.prompt_tokens, row.completion_tokens, row.reasoning_tokens, row.cached_tokens, row.cost_usd];
    if (!numbers.every(Number.isFinite)) return Promise.reject(new TypeError(`LLM call ${row.id}: a usage figure is not a finite number`));
    return this.#turn.join((batch) => {
      batch.calls.push(row);
      batch.events.push(event);
    });
  }

  /** Keeps a validated answer (or an invalid one, keyed by its exchange) unless one is kept under its key. */
  keepAnswer(row: CachedAnswerRow): Promise<void> {
    return this.#turn.join((batch) => batch.answers.push(row));
  }
}

/** One gatherer per database handle, shared by the call sinks and caches written through it. */
const writers = new WeakMap<Db, LlmWrites>();

export function llmWritesOf(db: Db): LlmWrites {
  let writes = writers.get(db);
  if (!writes) writers.set(db, (writes = new LlmWrites(db)));
  return writes;
}

const CALL_COLUMNS = [
  'id',
  'portfolio',
  'week_id',
  'stage',
  'seat',
  'provider',
  'model',
  'attempt',
  'status',
  'http_status',
  'error',
  'latency_ms',
  'prompt_tokens',
  'completion_tokens',
  'reasoning_tokens',
  'cached_tokens',
  'cost_usd',
  'cost_source',
  'usage',
  'cache_key',
  'params',
  'citations',
] as const satisfies readonly (keyof LlmCallRow)[];
const EVENT_COLUMNS = [
  'idempotency_key',
  'portfolio',
  'week_id',
  'kind',
  'stage',
  'seat',
  'payload',
] as const satisfies readonly (keyof LlmCallEventRow)[];
const ANSWER_COLUMNS = ['key', 'provider', 'model', 'response'] as const satisfies readonly (keyof CachedAnswerRow)[];
// Every field of a row is a column written (a field added to a row type but not here would be dropped).
type Unwritten<Row, Columns extends readonly string[]> = Exclude<keyof Row, Columns[number]>;
const everyColumnWritten: [
  Unwritten<LlmCallRow, typeof CALL_COLUMNS>,
  Unwritten<LlmCallEventRow, typeof EVENT_COLUMNS>,
  Unwritten<CachedAnswerRow, typeof ANSWER_COLUMNS>,
] extends [never, never, never]
  ? true
  : never = true;
void everyColumnWritten;

const list = (columns: readonly string[]) =>
  sql.join(
    columns.map((c) => sql.identifier(c)),
    sql`, `,
  );

/**
 * Each list a JSON array expanded by jsonb_populate_recordset (as storage/bulk-insert.ts does); an
 * empty one inserts nothing. Columns left out (created_at, the events' serial id) take their defaults.
 */
export const writeBatch = reusableStatement((_db, $: Slots<{ calls: string; events: string; answers: string }>) => {
  const calls = list(CALL_COLUMNS);
  const eventColumns = list(EVENT_COLUMNS);
  const answers = list(ANSWER_COLUMNS);
  return sql`
    with recorded_calls as (
      insert into ${llmCalls} (${calls})
      select ${calls} from jsonb_populate_recordset(null::${llmCalls}, ${$.calls}::jsonb)
      on conflict (id) do nothing
    ), call_events as (
      insert into ${events} (${eventColumns})
      select ${eventColumns} from jsonb_populate_recordset(null::${events}, ${$.events}::jsonb)
      on conflict (idempotency_key) do nothing
    )
    insert into ${llmCache} (${answers})
    select ${answers} from jsonb_populate_recordset(null::${llmCache}, ${$.answers}::jsonb)
    on conflict ("key") do nothing`;
});
