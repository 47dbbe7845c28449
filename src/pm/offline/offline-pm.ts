/**
 * The offline PM seat: a deterministic quant persona behind the same PortfolioManager port as the
 * LLM seats. Pitch and review are pure functions of their inputs.
 */
import type { AgentResult, AnonymizedPitch, CallOptions, CheckpointContext, PortfolioManager, WeekContext } from '../../ports/agents.js';
import { ensureNotAborted, offlineResult } from '../../research/offline/offline-result.js';
import type { CheckpointUpdate, PeerReview, PmPitch, ResearchPack } from '../../schemas/index.js';
import { CHECKPOINT_STYLES, decideCheckpoint } from './checkpoint.js';
import { PERSONA_NAMES, PERSONA_SPECS, isPersonaName, offlineModel, type PersonaName } from './personas.js';
import { buildPitch } from './pitch.js';
import { buildReview } from './review.js';

export { PERSONAS, PERSONA_NAMES, isPersonaName, type PersonaName } from './personas.js';

export class OfflinePortfolioManager implements PortfolioManager {
  /** 'offline/<persona>': reported as pm_model / reviewer_model and as the AgentResult model. */
  readonly model: string;

  constructor(
    readonly seat: string,
    readonly persona: PersonaName,
  ) {
    // The persona usually comes from config/models.yaml, so reject a typo with a clear message.
    if (!isPersonaName(persona))
      throw new Error(`unknown offline persona "${String(persona)}" for seat ${seat}: expected one of ${PERSONA_NAMES.join(', ')}`);
    this.model = offlineModel(persona);
  }

  async pitch(ctx: WeekContext, research: ResearchPack, opts: CallOptions): Promise<AgentResult<PmPitch>> {
    ensureNotAborted(opts);
    return offlineResult(buildPitch(PERSONA_SPECS[this.persona], ctx, research, this.model), this.model);
  }

  async review(ctx: WeekContext, target: AnonymizedPitch, own: PmPitch | null, opts: CallOptions): Promise<AgentResult<PeerReview>> {
    ensureNotAborted(opts);
    return offlineResult(buildReview(PERSONA_SPECS[this.persona], this.model, ctx, target, own), this.model);
  }

  async checkpoint(ctx: CheckpointContext, opts: CallOptions): Promise<AgentResult<CheckpointUpdate>> {
    ensureNotAborted(opts);
    return offlineResult(decideCheckpoint(CHECKPOINT_STYLES[this.persona], ctx), this.model);
  }
}
