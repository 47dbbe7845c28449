import { z } from 'zod';
import type { ChatTransport, Exchange, ExchangeFailure } from './chat-transport.js';
import type { ProviderPreset } from './providers.js';

/**
 * Perplexity's asynchronous chat completion: POST {path} with {request: <chat body>} returns a job
 * {id, status}; GET {path}/{id} is polled until status COMPLETED (the chat completion is in
 * `response`) or FAILED (`error_message`). Deep research takes minutes, longer than any sane HTTP
 * timeout, hence jobs.
 *
 * Perplexity's API reference documents the job API at `/v1/async/sonar`; the older
 * `/async/chat/completions` is tried only when the documented path answers 404 (a deployment or proxy
 * that has not moved yet). Whichever answered is remembered per API root for the rest of the process.
 *
 * The whole job has one deadline. Reaching it is not retried by the client: a second wait of the same
 * length rarely fits the stage's own deadline, and the job may still be billed.
 */
export interface AsyncJobOptions {
  /** The whole job, submit to completion. */
  deadlineMs: number;
  /** Each HTTP request (submit, one poll). */
  callTimeoutMs: number;
  pollMs: number;
  /** Transient poll failures (429, 5xx, network) tolerated in a row before giving up. */
  maxPollErrors: number;
  signal: AbortSignal;
  sleep: (ms: number, signal: AbortSignal) => Promise<void>;
}

/** The exchange, plus which job and which path of the job API it went through (for the call record). */
export type AsyncExchange = Exchange & { jobId?: string; asyncPath?: string; asyncPathsTried?: string[] };

/** The documented path first, then the one it replaced. Both are relative to the API root (see asyncUrl). */
export const PERPLEXITY_ASYNC_PATHS: readonly string[] = ['/v1/async/sonar', '/async/chat/completions'];

/** API root → the path that last accepted a job there. Process-wide: one 404 per root, not one per job. */
const workingPaths = new Map<string, string>();

/**
 * The job object of a submit or a poll. `status` is compared upper-cased and an unknown one counts as
 * still running; `response` is the chat completion, read by the same code as a synchronous one.
 */
const AsyncJob = z.object({
  id: z.string().min(1, 'the job has no id'),
  status: z.string().transform((s) => s.toUpperCase()),
  response: z.record(z.string(), z.unknown()).nullish(),
  error_message: z.string().nullish(),
});
type AsyncJob = z.infer<typeof AsyncJob>;

/**
 * `path` under the API root: the base URL without a trailing `/v1`. Sync chat goes to
 * {base}/chat/completions as the SDK joins it; the job paths are documented from the host root
 * (`https://api.perplexity.ai/v1/async/sonar`), so a base URL given with or without `/v1` must give
 * the same URL — never `/v1/v1/…`. A query string on the base URL is kept.
 */
export function asyncUrl(baseURL: string, path: string): string {
  const url = new URL(baseURL);
  const root = url.pathname.replace(/\/+$/, '').replace(/\/v1$/i, '');
  url.pathname = `${root}${path}`;
  return url.toString();
}

export async function runAsyncJob(
  transport: ChatTransport,
  preset: ProviderPreset,
  chatBody: Record<string, unknown>,
  options: AsyncJobOptions,
): Promise<AsyncExchange> {
  const deadline = AbortSignal.timeout(Math.max(1, Math.ceil(options.deadlineMs)));
  const signal = AbortSignal.any([options.signal, deadline]);
  const call = { timeoutMs: options.callTimeoutMs, signal };
  const stopped = (jobId?: string): ExchangeFailure =>
    options.signal.aborted
      ? { ok: false, kind: 'aborted', httpStatus: null, message: 'aborted while waiting for the async job', retryable: false }
      : {
          ok: false,
          kind: 'timeout',
          httpStatus: null,
          message: `async job ${jobId ?? '(not submitted)'} did not complete within ${Math.round(options.deadlineMs / 1000)} s`,
          retryable: false,
        };

  const submit = await submitJob(transport, preset, chatBody, call);
  if (!submit.ok) {
    const { where, ...failure } = submit;
    return signal.aborted ? { ...stopped(), ...where } : { ...failure, ...where };
  }
  const { job, path, where } = submit;

  // The latest job object and the response it came in: the raw body text is what the audit log keeps.
  let latest: { job: AsyncJob; httpStatus: number; bodyText: string } = submit;
  let pollErrors = 0;
  for (;;) {
    const done = finished(latest.job, latest.httpStatus, latest.bodyText);
    if (done) return { ...done, jobId: job.id, ...where };
    try {
      await options.sleep(options.pollMs, signal);
    } catch {
      return { ...stopped(job.id), jobId: job.id, ...where };
    }
    const poll = await transport.request(preset, 'get', asyncUrl(preset.baseURL, `${path}/${encodeURIComponent(job.id)}`), undefined, call);
    // A poll that fails, or answers something other than a job (a proxy's hiccup), is tolerated a few
    // times in a row: giving up here means submitting, and paying for, the research again.
    let failure: ExchangeFailure;
    if (poll.ok) {
      const parsed = AsyncJob.safeParse(poll.body);
      if (parsed.success) {
        pollErrors = 0;
        latest = { job: parsed.data, httpStatus: poll.httpStatus, bodyText: poll.bodyText };
        continue;
      }
      failure = malformed(poll.httpStatus, parsed.error);
    } else failure = poll;
    if (signal.aborted) return { ...stopped(job.id), jobId: job.id, ...where };
    pollErrors++;
    if (!failure.retryable || pollErrors >= options.maxPollErrors)
      return { ...failure, message: `polling async job ${job.id}: ${failure.message}`, jobId: job.id, ...where };
  }
}

type Where = { asyncPath: string; asyncPathsTried?: string[] };
type Submitted = { ok: true; job: AsyncJob; path: string; httpStatus: number; bodyText: string; where: Where };

/** POST the job to the remembered path, else each path in turn while they answer 404. */
async function submitJob(
  transport: ChatTransport,
  preset: ProviderPreset,
  chatBody: Record<string, unknown>,
  call: { timeoutMs: number; signal: AbortSignal },
): Promise<Submitted | (ExchangeFailure & { where: Where })> {
  const paths = preset.asyncPaths;
  const rootKey = `${preset.name} ${asyncUrl(preset.baseURL, '')}`;
  const remembered = workingPaths.get(rootKey);
  const order = remembered ? [remembered, ...paths.filter((p) => p !== remembered)] : [...paths];
  const tried: string[] = [];
  for (const path of order) {
    tried.push(path);
    const where: Where = tried.length > 1 ? { asyncPath: path, asyncPathsTried: [...tried] } : { asyncPath: path };
    const answer = await transport.request(preset, 'post', asyncUrl(preset.baseURL, path), { request: chatBody }, call);
    if (!answer.ok) {
      if (answer.httpStatus === 404 && !call.signal.aborted) continue;
      return { ...answer, where };
    }
    const parsed = AsyncJob.safeParse(answer.body);
    if (!parsed.success) return { ...malformed(answer.httpStatus, parsed.error), where };
    workingPaths.set(rootKey, path);
    return { ok: true, job: parsed.data, path, httpStatus: answer.httpStatus, bodyText: answer.bodyText, where };
  }
  return {
    ok: false,
    kind: 'http_error',
    httpStatus: 404,
    message:
      `the async job API answered 404 at ${tried.join(' and at ')} under ${asyncUrl(preset.baseURL, '')}: ` +
      `check ${preset.baseUrlSetting} (the API root, e.g. https://api.perplexity.ai)`,
    retryable: false,
    where: { asyncPath: tried.at(-1) ?? '', asyncPathsTried: tried },
  };
}

/** A 2xx whose body is not a job object: a proxy or an API change. Retryable, like any unreadable body. */
function malformed(httpStatus: number, error: z.ZodError): ExchangeFailure {
  const issue = error.issues[0];
  const where = issue && issue.path.length > 0 ? `${issue.path.join('.')}: ` : '';
  return {
    ok: false,
    kind: 'http_error',
    httpStatus,
    message: `the async job API answered something other than a job: ${where}${issue?.message ?? 'invalid'}`,
    retryable: true,
  };
}

/** The completion of a COMPLETED job, the failure of a FAILED one, undefined while it runs. */
function finished(job: AsyncJob, httpStatus: number, bodyText: string): Exchange | undefined {
  if (job.status === 'COMPLETED') {
    if (!job.response)
      return { ok: false, kind: 'http_error', httpStatus, message: `async job ${job.id} completed without a response`, retryable: true };
    return { ok: true, httpStatus, bodyText, body: job.response };
  }
  if (job.status === 'FAILED') {
    const why = job.error_message ?? 'no error message';
    return { ok: false, kind: 'http_error', httpStatus, message: `async job ${job.id} failed: ${why}`, retryable: true };
  }
  return undefined;
}
