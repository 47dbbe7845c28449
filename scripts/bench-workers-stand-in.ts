/**
 * The worker-scaling benchmark's LLM stand-in, in a worker thread (a provider is another machine): it
 * answers every week's seats with the offline agents' output for that week, after an injected latency
 * per kind of request (decision calls slower than checkpoint updates, as with real models).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { loadConfig } from '../src/config/app-config.js';
import { offlineAnswersByWeek, schemaNameOf, seatOfModel, weeklyCouncilResponder } from '../tests/helpers/council-responder.js';
import { reply, startStandIn } from '../tests/helpers/llm-stand-in.js';

export interface WorkersStandInSpec {
  weekIds: string[];
  /** Latency of a research, pitch, review or chairman answer (ms). */
  decisionMs: number;
  /** Latency of a checkpoint update (ms). */
  checkpointMs: number;
}

const spec = workerData as WorkersStandInSpec;
const seatOf = seatOfModel({ config: loadConfig() }, 'requesty');
const answer = weeklyCouncilResponder(await offlineAnswersByWeek(spec.weekIds), seatOf);

const standIn = await startStandIn(async (req, index) => {
  const body = await answer(req, index);
  const ms = schemaNameOf(req) === 'checkpoint_update' ? spec.checkpointMs : spec.decisionMs;
  return req.kind === 'async_submit' ? reply.asyncJobFor(ms, body) : reply.delay(ms, body);
});
parentPort?.postMessage({ url: standIn.url });
parentPort?.on('message', (message) => {
  if (message === 'close') void standIn.close().then(() => process.exit(0));
});
