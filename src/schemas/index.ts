import type { z } from 'zod';
import { ChairmanDecision, ChairmanDecisionShape } from './chairman.js';
import { CheckpointUpdate } from './checkpoint-update.js';
import { PeerReview } from './peer-review.js';
import { PmPitch, PmPitchShape } from './pm-pitch.js';
import { ResearchPack } from './research-pack.js';

export * from './common.js';
export * from './pm-pitch.js';
export * from './peer-review.js';
export * from './chairman.js';
export * from './checkpoint-update.js';
export * from './invalidation-trigger.js';
export * from './research-pack.js';

/**
 * The published schemas: file name (config/schemas/<name>.schema.json) → zod shape.
 * Refinements (sign rules, universe rules) are enforced in code and cannot be expressed in JSON
 * Schema, so the JSON Schema is generated from the unrefined shape.
 */
export const PUBLISHED_SCHEMAS: Record<string, z.ZodType> = {
  research_pack: ResearchPack,
  pm_pitch_with_ranking: PmPitchShape,
  peer_review_ranking_vs_choice: PeerReview,
  chairman_decision: ChairmanDecisionShape,
  checkpoint_update: CheckpointUpdate,
};

/** The validating schemas (shape + refinements), by the same names. */
export const VALIDATORS = {
  research_pack: ResearchPack,
  pm_pitch_with_ranking: PmPitch,
  peer_review_ranking_vs_choice: PeerReview,
  chairman_decision: ChairmanDecision,
  checkpoint_update: CheckpointUpdate,
} as const;
