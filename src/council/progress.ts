import type { StageName } from './stage.js';

/** Progress of a run, emitted as it happens (the CLI prints them; the dashboard will subscribe). */
export type ProgressEvent =
  | { type: 'stage_started'; week_id: string; stage: StageName }
  | { type: 'stage_skipped'; week_id: string; stage: StageName; reason: string }
  | { type: 'stage_completed'; week_id: string; stage: StageName; ms: number; summary: string }
  | { type: 'stage_failed'; week_id: string; stage: StageName; ms: number; error: string }
  | { type: 'seat_finished'; week_id: string; stage: StageName; seat: string; ok: boolean; ms: number; detail: string }
  /** Another process holds a lock this run needs (the week, the portfolio's books); the run waits. */
  | { type: 'waiting'; week_id: string; what: string };

export type ProgressListener = (event: ProgressEvent) => void;
