/**
 * The five offline PM personas. Names match config/models.yaml `offline:` values; each is a
 * documented quant style (see personas/*.ts for the scoring rules and the reasons behind them).
 */
import type { PersonaName, PersonaSpec } from './persona-spec.js';
import { contrarian } from './personas/contrarian.js';
import { defensiveCarry } from './personas/defensive-carry.js';
import { macroRegime } from './personas/macro-regime.js';
import { meanReversion } from './personas/mean-reversion.js';
import { trend } from './personas/trend.js';

export { PERSONA_NAMES, isPersonaName, type PersonaName } from './persona-spec.js';

export const PERSONA_SPECS: Readonly<Record<PersonaName, PersonaSpec>> = {
  trend,
  'mean-reversion': meanReversion,
  'macro-regime': macroRegime,
  'defensive-carry': defensiveCarry,
  contrarian,
};

/** One-line description of each persona (README "Offline agents"). */
export const PERSONAS: Readonly<Record<PersonaName, string>> = {
  trend: trend.description,
  'mean-reversion': meanReversion.description,
  'macro-regime': macroRegime.description,
  'defensive-carry': defensiveCarry.description,
  contrarian: contrarian.description,
};

/** The model label an offline persona reports, e.g. 'offline/trend'. */
export function offlineModel(persona: string): string {
  return `offline/${persona}`;
}
