/**
 * The benchmark's LLM stand-in, run in a worker thread so that serving 27 requests never competes
 * with the pipeline for its event loop (a real provider is another machine). It answers each seat with
 * the offline agents' output for the week after the seat's injected latency; `hangingSeat`'s pitch
 * request never gets an answer.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { loadConfig } from '../src/config/app-config.js';
import { councilResponder, offlineAnswers, schemaNameOf, seatOfModel } from '../tests/helpers/council-responder.js';
import { reply, startStandIn, type Reply, type StandInRequest } from '../tests/helpers/llm-stand-in.js';

export interface StandInLatencies {
  weekId: string;
  researchMs: number;
  chairmanMs: number;
  pmMs: Record<string, number>;
  reviewMs: Record<string, number>;
  hangingSeat: string | null;
}

const spec = workerData as StandInLatencies;
const seatOf = seatOfModel({ config: loadConfig() }, 'requesty');
const answers = await offlineAnswers(spec.weekId);

function latency(req: StandInRequest): number {
  const seat = seatOf(req.chat?.model ?? '') ?? '';
  switch (schemaNameOf(req)) {
    case 'research_pack':
      return spec.researchMs;
    case 'pm_pitch_with_ranking':
      return spec.pmMs[seat] ?? 0;
    case 'peer_review_ranking_vs_choice':
      return spec.reviewMs[seat] ?? 0;
    case 'chairman_decision':
      return spec.chairmanMs;
    default:
      return 0;
  }
}

const standIn = await startStandIn(
  councilResponder(answers, seatOf, (req, body): Reply => {
    if (spec.hangingSeat && seatOf(req.chat?.model ?? '') === spec.hangingSeat && schemaNameOf(req) === 'pm_pitch_with_ranking')
      return { kind: 'hang' };
    // Deep research is an async job that runs for its latency (the submit answers at once); the other
    // seats answer their chat completion after theirs.
    if (req.kind === 'async_submit') return reply.asyncJobFor(latency(req), body);
    return reply.delay(latency(req), body);
  }),
);
parentPort?.postMessage({ url: standIn.url });
parentPort?.on('message', (message) => {
  if (message === 'close') void standIn.close().then(() => process.exit(0));
});
