import type { AppConfig } from '../config/app-config.js';
import type { StageOutputs } from './stage.js';

/**
 * Who traded each account in a given week, by owner: the model id of the LLM in the seat
 * (`openai/gpt-5.1`), or the offline persona (`offline/trend`) when the seat ran offline — read from
 * the week's own stage outputs, so a week is always credited to what actually sat in the seat, never
 * to the model the seat is named after.
 */
export function accountAgents(
  config: AppConfig,
  pitches: StageOutputs['pm_pitches'] | null | undefined,
  chairman: StageOutputs['chairman'] | null | undefined,
): Map<string, string> {
  const agents = new Map<string, string>();
  for (const account of config.models.accounts) {
    if (account.owner === 'council') {
      if (chairman) agents.set('council', chairman.model);
      continue;
    }
    const seat = pitches?.pitches.find((p) => p.seat === account.owner);
    if (seat) agents.set(account.owner, seat.model);
  }
  return agents;
}
