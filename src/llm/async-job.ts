import type { ChatTransport, Exchange, ExchangeFailure } from './chat-transport.js';
import type { ProviderPreset } from './providers.js';
import { asRecord } from './usage-cost.js';

/**
 * Perplexity-style asynchronous chat completion: POST {asyncPath} with {request: <chat body>} returns a
 * job {id, status}; GET {asyncPath}/{id} is polled until status COMPLETED (the chat completion is in
 * `response`) or FAILED. Deep research takes minutes, longer than any sane HTTP timeout, hence jobs.
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

export type AsyncExchange = Exchange & { jobId?: string };

export async function runAsyncJob(
  transport: ChatTransport,
  preset: ProviderPreset,
  chatBody: Record<string, unknown>,
  options: AsyncJobOptions,
): Promise<AsyncExchange> {
  const path = preset.asyncPath ?? '/async/chat/completions';
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

  const submitted = await transport.request(preset, 'post', path, { request: chatBody }, call);
  if (!submitted.ok) return signal.aborted ? stopped() : submitted;
  const jobId = submitted.body.id;
  if (typeof jobId !== 'string' || jobId === '') {
    return {
      ok: false,
      kind: 'http_error',
      httpStatus: submitted.httpStatus,
      message: 'the async submit returned no job id',
      retryable: true,
    };
  }

  let lastPoll: Exchange = submitted;
  let pollErrors = 0;
  for (;;) {
    if (lastPoll.ok) {
      const done = finished(lastPoll, jobId);
      if (done) return done;
    }
    try {
      await options.sleep(options.pollMs, signal);
    } catch {
      return stopped(jobId);
    }
    const poll = await transport.request(preset, 'get', `${path}/${encodeURIComponent(jobId)}`, undefined, call);
    if (!poll.ok) {
      if (signal.aborted) return stopped(jobId);
      pollErrors++;
      if (!poll.retryable || pollErrors >= options.maxPollErrors)
        return { ...poll, message: `polling async job ${jobId}: ${poll.message}`, jobId };
      continue;
    }
    pollErrors = 0;
    lastPoll = poll;
  }
}

/** The completion of a COMPLETED job, the failure of a FAILED one, undefined while it runs. */
function finished(poll: Extract<Exchange, { ok: true }>, jobId: string): AsyncExchange | undefined {
  const status = String(poll.body.status ?? '').toUpperCase();
  if (status === 'COMPLETED') {
    const completion = asRecord(poll.body.response);
    if (!completion)
      return {
        ok: false,
        kind: 'http_error',
        httpStatus: poll.httpStatus,
        message: `async job ${jobId} completed without a response`,
        retryable: true,
        jobId,
      };
    return { ok: true, httpStatus: poll.httpStatus, bodyText: poll.bodyText, body: completion, jobId };
  }
  if (status === 'FAILED') {
    const why = typeof poll.body.error_message === 'string' ? poll.body.error_message : 'no error message';
    return {
      ok: false,
      kind: 'http_error',
      httpStatus: poll.httpStatus,
      message: `async job ${jobId} failed: ${why}`,
      retryable: true,
      jobId,
    };
  }
  return undefined;
}
