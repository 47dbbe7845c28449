import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A local OpenAI-compatible server on 127.0.0.1 speaking the real wire format, scripted per request:
 *   POST …/chat/completions            (any base-path prefix: /v1, /api/v1, /perplexity, none)
 *   POST …/v1/async/sonar              → {id, model, created_at, status: CREATED, …}  (Perplexity's
 *   GET  …/v1/async/sonar/:id          → {id, status, response?, error_message?}        async jobs)
 *   POST …/async/chat/completions      the same job API at its older path, which it replaced
 *   GET  …/async/chat/completions/:id
 * A job is polled on the path family it was submitted to. `asyncRoutes` switches either family off
 * (it then answers 404, as a server without it would). Every request is recorded with its headers and
 * body, so tests can assert on model ids, headers, response_format and the Authorization header.
 * Chat and submit requests take the next scripted reply (a queue, or a function of the request);
 * polls do not. A `response_format.json_schema.name` outside Perplexity's rule (1–64 alphanumeric
 * characters, the strictest of the providers) is refused before the script is consulted, as Perplexity
 * refuses it: 400 with its error envelope on chat, 422 with a validation `detail` on an async submit.
 */

export interface StandInRequest {
  method: string;
  /** Path without the query string. */
  path: string;
  /** Lower-case header names. */
  headers: Record<string, string>;
  rawBody: string;
  /** Parsed JSON body, or null. */
  body: unknown;
  /** The chat request: the body of a chat completion, or `body.request` of an async submit. */
  chat: ChatBody | null;
  kind: 'chat' | 'async_submit' | 'async_poll' | 'other';
  /** For async requests: 'sonar' (/v1/async/sonar, documented) or 'legacy' (/async/chat/completions). */
  asyncRoute: AsyncRoute | null;
  /** Date.now() when the request arrived (for measuring waits between retries). */
  receivedAt: number;
}

export interface ChatBody {
  model?: string;
  messages?: { role: string; content: string }[];
  response_format?: { type: string; json_schema?: { name?: string; schema?: unknown; strict?: boolean } };
  temperature?: number;
  max_tokens?: number;
  usage?: unknown;
  [key: string]: unknown;
}

export interface CompletionOptions {
  finishReason?: 'stop' | 'length';
  /** Token counts; defaults derive from text lengths (chars / 4). */
  usage?: { prompt_tokens?: number; completion_tokens?: number; reasoning_tokens?: number; cached_tokens?: number };
  /** Reported cost in USD: OpenRouter puts a number in usage.cost, Perplexity {total_cost, …} in usage.cost. */
  cost?: number;
  costStyle?: 'openrouter' | 'perplexity';
  /** Perplexity-style citations (URL strings) and search_results ({title, url}). */
  citations?: string[];
  searchResults?: { title: string; url: string }[];
  /** The model id in the response (default: the requested one). */
  model?: string;
}

export type Reply =
  | ({ kind: 'completion'; content: string } & CompletionOptions)
  | { kind: 'error'; status: number; body?: unknown; headers?: Record<string, string> }
  | { kind: 'hang' }
  | { kind: 'stall_body' }
  | { kind: 'drop' }
  | { kind: 'delay'; ms: number; then: Reply }
  | { kind: 'async'; pollsUntilDone: number; then: Reply; /** and not before this long after the submit */ readyAfterMs?: number }
  | { kind: 'dynamic'; build: (req: StandInRequest) => Reply };

/** Builders for every behaviour the client must handle. */
export const reply = {
  /** Valid JSON content. */
  json: (value: unknown, options: CompletionOptions = {}): Reply => ({ kind: 'completion', content: JSON.stringify(value), ...options }),
  /** Any content text. */
  text: (content: string, options: CompletionOptions = {}): Reply => ({ kind: 'completion', content, ...options }),
  /** JSON between two paragraphs of prose. */
  prose: (value: unknown, options: CompletionOptions = {}): Reply => ({
    kind: 'completion',
    content: `Here is my assessment for this week.\n\n${JSON.stringify(value, null, 2)}\n\nLet me know if you need more detail.`,
    ...options,
  }),
  /** JSON in a ```json fenced block with prose around it. */
  fenced: (value: unknown, options: CompletionOptions = {}): Reply => ({
    kind: 'completion',
    content: `Sure. My answer:\n\n\`\`\`json\n${JSON.stringify(value, null, 2)}\n\`\`\`\n\nThat is all.`,
    ...options,
  }),
  /** Pretty JSON with a trailing comma before every closing bracket. */
  trailingCommas: (value: unknown, options: CompletionOptions = {}): Reply => ({
    kind: 'completion',
    content: JSON.stringify(value, null, 2).replace(/(["\d\]}el])(\n\s*[}\]])/g, '$1,$2'),
    ...options,
  }),
  /** The first `fraction` of the JSON text, cut off as at the output token limit. */
  truncated: (value: unknown, fraction = 0.6, options: CompletionOptions = {}): Reply => {
    const text = JSON.stringify(value, null, 2);
    return { kind: 'completion', content: text.slice(0, Math.floor(text.length * fraction)), finishReason: 'length', ...options };
  },
  /** An HTTP error; `retryAfter` sets the Retry-After header (seconds or an HTTP date). */
  status: (status: number, options: { retryAfter?: string; body?: unknown; headers?: Record<string, string> } = {}): Reply => ({
    kind: 'error',
    status,
    body: options.body ?? { error: { message: `stand-in error ${status}`, type: 'stand_in', code: status } },
    headers: { ...(options.retryAfter !== undefined ? { 'retry-after': options.retryAfter } : {}), ...options.headers },
  }),
  /** An error whose body echoes the request's Authorization header, as some gateways do. */
  echoAuthorization: (status: number): Reply => ({
    kind: 'dynamic',
    build: (req) => ({
      kind: 'error',
      status,
      body: { error: { message: `invalid credentials: ${req.headers.authorization ?? '(none)'}`, code: status } },
    }),
  }),
  /** Never answers (until the stand-in closes). */
  hang: (): Reply => ({ kind: 'hang' }),
  /** Sends 200 headers and the start of the body, then nothing more (until the stand-in closes). */
  stallAfterHeaders: (): Reply => ({ kind: 'stall_body' }),
  /** Destroys the connection without an answer (a network error for the client). */
  drop: (): Reply => ({ kind: 'drop' }),
  delay: (ms: number, then: Reply): Reply => ({ kind: 'delay', ms, then }),
  /** An async job: IN_PROGRESS for `polls − 1` polls, then COMPLETED with `then` (or FAILED if `then` is an error). */
  asyncJob: (polls: number, then: Reply): Reply => ({ kind: 'async', pollsUntilDone: polls, then }),
  /** An async job that runs for `ms` from its submit, as a real one does: IN_PROGRESS until then, whatever the polls. */
  asyncJobFor: (ms: number, then: Reply): Reply => ({ kind: 'async', pollsUntilDone: 1, then, readyAfterMs: ms }),
  dynamic: (build: (req: StandInRequest) => Reply): Reply => ({ kind: 'dynamic', build }),
};

export type StandInScript = readonly Reply[] | ((req: StandInRequest, index: number) => Reply | Promise<Reply>);

export type AsyncRoute = 'sonar' | 'legacy';

export interface StandInOptions {
  /** Wait this many ms before answering a chat/submit request for this model id (per-seat latency, bench). */
  delayByModel?: Record<string, number>;
  /** Which async job paths exist (default both); a missing one answers 404 like any unknown route. */
  asyncRoutes?: readonly AsyncRoute[];
  /** The first N polls of every job get a 200 that is not a job object, as from a confused gateway. */
  malformedPolls?: number;
}

export interface StandIn {
  /** http://127.0.0.1:<port> — append a base path (e.g. /v1) as a provider's base URL. */
  url: string;
  requests: StandInRequest[];
  /** Chat completions and async submits only (the requests that consumed the script). */
  chatRequests(): StandInRequest[];
  close(): Promise<void>;
}

interface Job {
  id: string;
  route: AsyncRoute;
  createdAt: number;
  model: string;
  polls: number;
  pollsUntilDone: number;
  /** Date.now() before which the job stays IN_PROGRESS. */
  readyAt: number;
  then: Reply;
  request: StandInRequest;
}

export async function startStandIn(script: StandInScript, options: StandInOptions = {}): Promise<StandIn> {
  const requests: StandInRequest[] = [];
  const jobs = new Map<string, Job>();
  const timers = new Set<NodeJS.Timeout>();
  let scripted = 0;
  let closed = false;

  const wait = (ms: number) =>
    new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        timers.delete(t);
        resolve();
      }, ms);
      timers.add(t);
    });

  const nextReply = async (req: StandInRequest): Promise<Reply> => {
    const index = scripted++;
    if (typeof script === 'function') return script(req, index);
    return script[index] ?? reply.status(418, { body: { error: { message: `stand-in script exhausted at request ${index + 1}` } } });
  };

  const server = createServer((incoming, res) => {
    void handle(incoming, res).catch((error: unknown) => {
      if (!res.headersSent && !closed) sendJson(res, 500, { error: { message: `stand-in failure: ${String(error)}` } });
    });
  });

  async function handle(incoming: IncomingMessage, res: ServerResponse): Promise<void> {
    const rawBody = await readBody(incoming);
    const path = (incoming.url ?? '/').split('?')[0]!;
    const method = (incoming.method ?? 'GET').toUpperCase();
    let body: unknown = null;
    try {
      body = rawBody ? JSON.parse(rawBody) : null;
    } catch {
      body = null;
    }
    const route = asyncRouteOf(path, options.asyncRoutes ?? ['sonar', 'legacy']);
    const kind: StandInRequest['kind'] =
      route && method === 'POST' && !route.jobId
        ? 'async_submit'
        : route && method === 'GET' && route.jobId
          ? 'async_poll'
          : !route && method === 'POST' && path.endsWith('/chat/completions') && !path.endsWith('/async/chat/completions')
            ? 'chat'
            : 'other';
    const chat =
      kind === 'chat' ? (body as ChatBody) : kind === 'async_submit' ? ((body as { request?: ChatBody } | null)?.request ?? null) : null;
    const headers = Object.fromEntries(
      Object.entries(incoming.headers).map(([k, v]) => [k.toLowerCase(), Array.isArray(v) ? v.join(', ') : (v ?? '')]),
    );
    const asyncRoute = kind === 'async_submit' || kind === 'async_poll' ? route!.route : null;
    const req: StandInRequest = { method, path, headers, rawBody, body, chat, kind, asyncRoute, receivedAt: Date.now() };
    requests.push(req);

    if (kind === 'other') return sendJson(res, 404, { error: { message: `stand-in: no route for ${method} ${path}` } });
    const badName = kind === 'async_poll' ? null : schemaNameProblem(chat);
    if (badName) return kind === 'chat' ? sendJson(res, 400, badName.chat) : sendJson(res, 422, badName.asyncSubmit);
    if (kind === 'async_poll') return answerPoll(res, route!.route, decodeURIComponent(route!.jobId!));

    const modelDelay = options.delayByModel?.[chat?.model ?? ''];
    if (modelDelay) await wait(modelDelay);
    await play(await nextReply(req), req, res);
  }

  async function play(r: Reply, req: StandInRequest, res: ServerResponse): Promise<void> {
    if (closed) return;
    switch (r.kind) {
      case 'dynamic':
        return play(r.build(req), req, res);
      case 'delay':
        await wait(r.ms);
        return play(r.then, req, res);
      case 'hang':
        return; // the response stays open until close()
      case 'stall_body':
        res.writeHead(200, { 'content-type': 'application/json' });
        res.write('{"id": "chatcmpl-stalled", "choices": [');
        return;
      case 'drop':
        res.socket?.destroy();
        return;
      case 'error':
        return sendJson(res, r.status, r.body ?? {}, r.headers);
      case 'async': {
        if (req.kind !== 'async_submit')
          return sendJson(res, 400, { error: { message: 'stand-in: an async reply needs an async submit' } });
        return submitJob(res, req, r.pollsUntilDone, r.then, r.readyAfterMs ?? 0);
      }
      case 'completion':
        if (req.kind === 'async_submit') return submitJob(res, req, 1, r);
        return sendJson(res, 200, completion(req.chat, r, requests.length));
    }
  }

  function submitJob(res: ServerResponse, req: StandInRequest, pollsUntilDone: number, then: Reply, readyAfterMs = 0): void {
    const id = `job-${jobs.size + 1}`;
    const model = req.chat?.model ?? 'unknown';
    const createdAt = Math.floor(Date.now() / 1000);
    const route = req.asyncRoute ?? 'sonar';
    jobs.set(id, { id, route, createdAt, model, polls: 0, pollsUntilDone, readyAt: Date.now() + readyAfterMs, then, request: req });
    sendJson(res, 200, {
      id,
      model,
      created_at: createdAt,
      status: 'CREATED',
      started_at: null,
      completed_at: null,
      response: null,
      failed_at: null,
      error_message: null,
    });
  }

  function answerPoll(res: ServerResponse, route: AsyncRoute, id: string): void {
    const job = jobs.get(id);
    if (!job || job.route !== route) return sendJson(res, 404, { error: { message: `no async job ${id}` } });
    job.polls++;
    if (job.polls <= (options.malformedPolls ?? 0)) return sendJson(res, 200, { status: 'ok', message: 'gateway healthy' });
    const base = { id, model: job.model, created_at: job.createdAt, started_at: job.createdAt, failed_at: null, error_message: null };
    if (job.polls < job.pollsUntilDone || Date.now() < job.readyAt)
      return sendJson(res, 200, { ...base, status: 'IN_PROGRESS', completed_at: null, response: null });
    let outcome = job.then;
    while (outcome.kind === 'dynamic') outcome = outcome.build(job.request);
    if (outcome.kind === 'completion') {
      return sendJson(res, 200, {
        ...base,
        status: 'COMPLETED',
        completed_at: Math.floor(Date.now() / 1000),
        response: completion(job.request.chat, outcome, job.polls),
      });
    }
    const message = outcome.kind === 'error' ? `upstream error ${outcome.status}` : `job ended with ${outcome.kind}`;
    sendJson(res, 200, { ...base, status: 'FAILED', failed_at: Math.floor(Date.now() / 1000), response: null, error_message: message });
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    chatRequests: () => requests.filter((r) => r.kind === 'chat' || r.kind === 'async_submit'),
    close: async () => {
      if (closed) return;
      closed = true;
      for (const t of timers) clearTimeout(t);
      timers.clear();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Perplexity: "The name field is required and must be 1-64 alphanumeric characters." */
const SCHEMA_NAME_RULE = /^[A-Za-z0-9]{1,64}$/;

/**
 * The rejection of a json_schema name Perplexity refuses, in its two wire shapes: the chat endpoint's
 * `{error: {message, type, code}}` (the message lists pydantic-style "At body -> …" problems) and the
 * async API's `{detail: [{loc, msg, type}]}` (its OpenAPI declares 422 HTTPValidationError).
 */
function schemaNameProblem(chat: ChatBody | null): { chat: unknown; asyncSubmit: unknown } | null {
  const format = chat?.response_format;
  if (format?.type !== 'json_schema') return null;
  const name = format.json_schema?.name;
  if (typeof name === 'string' && SCHEMA_NAME_RULE.test(name)) return null;
  const msg = name === undefined ? 'Field required' : "String should match pattern '^[a-zA-Z0-9]{1,64}$'";
  return {
    chat: {
      error: {
        message: JSON.stringify([`At body -> response_format -> ResponseFormatJSONSchema -> json_schema -> name: ${msg}`]),
        type: 'bad_request',
        code: 400,
      },
    },
    asyncSubmit: {
      detail: [{ loc: ['body', 'request', 'response_format', 'json_schema', 'name'], msg, type: 'value_error', input: name ?? null }],
    },
  };
}

/** The async job route a path names, and the job id of a poll; null for any other path. */
function asyncRouteOf(path: string, served: readonly AsyncRoute[]): { route: AsyncRoute; jobId: string | null } | null {
  const sonar = /\/v1\/async\/sonar(?:\/([^/]+))?$/.exec(path);
  if (sonar) return served.includes('sonar') ? { route: 'sonar', jobId: sonar[1] ?? null } : null;
  const legacy = /\/async\/chat\/completions(?:\/([^/]+))?$/.exec(path);
  if (legacy) return served.includes('legacy') ? { route: 'legacy', jobId: legacy[1] ?? null } : null;
  return null;
}

/** A chat.completion object in the OpenAI wire format, with OpenRouter/Perplexity extras as asked. */
function completion(chat: ChatBody | null, r: Extract<Reply, { kind: 'completion' }>, n: number): Record<string, unknown> {
  const promptChars = (chat?.messages ?? []).reduce((sum, m) => sum + String(m.content ?? '').length, 0);
  const u = r.usage ?? {};
  const prompt = u.prompt_tokens ?? Math.ceil(promptChars / 4);
  const completionTokens = u.completion_tokens ?? Math.ceil(r.content.length / 4);
  const usage: Record<string, unknown> = {
    prompt_tokens: prompt,
    completion_tokens: completionTokens,
    total_tokens: prompt + completionTokens,
    prompt_tokens_details: { cached_tokens: u.cached_tokens ?? 0 },
    completion_tokens_details: { reasoning_tokens: u.reasoning_tokens ?? 0 },
  };
  if (r.cost !== undefined) {
    usage.cost =
      r.costStyle === 'perplexity'
        ? { input_tokens_cost: r.cost / 2, output_tokens_cost: r.cost / 2, request_cost: 0, total_cost: r.cost }
        : r.cost;
  }
  return {
    id: `chatcmpl-standin-${n}`,
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model: r.model ?? chat?.model ?? 'unknown',
    choices: [{ index: 0, message: { role: 'assistant', content: r.content }, finish_reason: r.finishReason ?? 'stop' }],
    usage,
    ...(r.citations ? { citations: r.citations } : {}),
    ...(r.searchResults ? { search_results: r.searchResults } : {}),
  };
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent || res.destroyed) return;
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
