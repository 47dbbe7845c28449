import { z } from 'zod';
import { AsOfEt, Ticker, WeekId } from './common.js';

const Impulse = z.enum(['RISING', 'FALLING', 'STABLE', 'MIXED']);

export const ResearchPack = z.object({
  week_id: WeekId,
  asof_et: AsOfEt,
  research_source: z.string().min(1),
  macro_regime: z.object({
    risk_mode: z.enum(['RISK_ON', 'RISK_OFF', 'MIXED']),
    rates_impulse: Impulse,
    usd_impulse: Impulse,
    inflation_impulse: Impulse,
    growth_impulse: Impulse,
    summary: z.string().min(1),
  }),
  top_narratives: z.array(z.string().min(1)).min(1),
  /** Neutral and scenario-conditional: what would make each asset work or fail, never a pick. */
  asset_setups: z.array(
    z.object({
      ticker: Ticker,
      context: z.string().min(1),
      bull_case_if: z.string().min(1),
      bear_case_if: z.string().min(1),
      key_levels: z.array(z.object({ name: z.string().min(1), value: z.number() })),
    }),
  ),
  event_calendar: z.array(z.object({ date: z.string().regex(/^\d{4}-\d{2}-\d{2}$/), event: z.string().min(1), relevance: z.string() })),
  citations: z.array(z.object({ source: z.string().min(1), url: z.string().nullable(), note: z.string() })),
});
export type ResearchPack = z.infer<typeof ResearchPack>;
