import { buildResearchPack } from '../../research/offline/macro-snapshot-researcher.js';
import { sampleContext } from './fixtures.js';
import { PERSONA_SPECS, PERSONA_NAMES } from './personas.js';
import { buildPitch } from './pitch.js';
const ctx = sampleContext();
const research = buildResearchPack(ctx);
for (const p of PERSONA_NAMES) {
  const pitch = buildPitch(PERSONA_SPECS[p], ctx, research, `offline/${p}`);
  console.log('=====', p, pitch.selected_trade.ticker, pitch.selected_trade.direction, pitch.selected_trade.conviction);
  for (const r of pitch.instrument_ranking) console.log(r.rank, r.ticker, r.expected_outperformance_bucket_vs_spy, r.reason);
  console.log(JSON.stringify(pitch.selected_trade, null, 1));
  console.log(JSON.stringify(pitch.monitoring_plan.key_indicators, null, 1));
}
