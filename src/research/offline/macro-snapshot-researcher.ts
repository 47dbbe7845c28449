/**
 * The offline researcher: a deterministic macro read of the market snapshot, used when no LLM key is
 * set. It emits the same research_pack an LLM researcher does, labelled honestly as offline, and
 * stays neutral (scenario-conditional setups, no picks) exactly like the real research seat must.
 */
import type { AgentResult, CallOptions, Researcher, WeekContext } from '../../ports/agents.js';
import { ResearchPack } from '../../schemas/index.js';
import { assetSetups } from './asset-setups.js';
import { recurringEvents } from './event-calendar.js';
import { topNarratives } from './narratives.js';
import { ensureNotAborted, offlineResult } from './offline-result.js';
import { readRegime } from './regime.js';

export const OFFLINE_RESEARCH_SOURCE = 'offline/macro-snapshot (deterministic, no LLM)';
export const OFFLINE_RESEARCH_MODEL = 'offline/macro-snapshot';
/** Trading days ahead covered by the event calendar (DESIGN §2: the next 7 trading days). */
const CALENDAR_DAYS = 7;

/** Cite what the numbers really came from: the bundled bars, or whichever market data built the snapshot. */
function citationFor(source: string, through: string): ResearchPack['citations'][number] {
  if (source === 'bundled')
    return { source: 'bundled daily bars (Yahoo Finance via data/etf-daily)', url: null, note: `data through ${through}` };
  return { source: `daily bars from market data "${source}"`, url: null, note: `data through ${through}` };
}

/** The research pack of a week, as a pure function of its context. */
export function buildResearchPack(ctx: WeekContext): ResearchPack {
  const { snapshot } = ctx;
  const reading = readRegime(snapshot);
  const pack: ResearchPack = {
    week_id: ctx.week_id,
    asof_et: ctx.asof_et,
    research_source: OFFLINE_RESEARCH_SOURCE,
    macro_regime: reading.regime,
    top_narratives: topNarratives(snapshot, reading),
    asset_setups: assetSetups(
      snapshot,
      ctx.universe.map((a) => a.ticker),
    ),
    event_calendar: recurringEvents(snapshot.data_through, CALENDAR_DAYS),
    citations: [citationFor(snapshot.source, snapshot.data_through)],
  };
  // Validate here so a bug in this module surfaces as a clear error, never as a bad pack downstream.
  return ResearchPack.parse(pack);
}

export class OfflineResearcher implements Researcher {
  async research(ctx: WeekContext, opts: CallOptions): Promise<AgentResult<ResearchPack>> {
    ensureNotAborted(opts);
    return offlineResult(buildResearchPack(ctx), OFFLINE_RESEARCH_MODEL);
  }
}
