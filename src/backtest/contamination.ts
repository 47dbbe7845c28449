/**
 * Knowledge-cutoff contamination of a backtest's weeks (pure).
 *
 * A model trained on text up to its knowledge cutoff may know what happened after a decision day that
 * lies before the cutoff: its "forecast" can be memory. So:
 *  - a week is contaminated for a seat when the week's decision day (the date of asof_et, the morning
 *    the council decides) is on or before the seat's `knowledge_cutoff` (config/models.yaml);
 *  - `knowledge_cutoff: web` (a model that searches the web as it runs) knows everything up to the
 *    day the backtest runs: every week whose decision day is on or before that day is contaminated;
 *  - a seat on an LLM with no cutoff configured is contaminated every week (unknown is not clean);
 *  - an offline persona has no training data: never contaminated;
 *  - a week is contaminated for the council (and so for the verdict, which sets the council against
 *    its members) when any seat that feeds it is: a PM, the researcher (every PM reads its pack) or
 *    the chairman. A week is clean only when no seat is contaminated.
 * The seats are taken as the run assigned them (app.agents.assignments): the model, or the persona.
 */
import type { AppConfig, SeatConfig } from '../config/app-config.js';
import type { WeekInfo } from '../council/week.js';
import { utcToEt } from '../market/calendar.js';

export interface SeatKnowledge {
  seat: string;
  role: SeatConfig['role'];
  /** What sat in the seat: the model id, or the offline persona (`offline/trend`). */
  agent: string;
  /** The configured cutoff (YYYY-MM-DD or 'web'); null for an offline seat or an LLM seat without one. */
  knowledge_cutoff: string | null;
  /** offline: never contaminated; cutoff: a date; web: searches the web; unknown: an LLM without a cutoff (always contaminated). */
  kind: 'offline' | 'cutoff' | 'web' | 'unknown';
}

export interface WeekContamination {
  week_id: string;
  /** The decision day (the date of asof_et). */
  decision_date: string;
  /** True when any seat is contaminated this week: the council's decision, and the verdict, are. */
  contaminated: boolean;
  /** The contaminated seats, in config order. */
  seats: string[];
}

export interface Contamination {
  /** The rule, in one sentence, for readers of report.json. */
  rule: string;
  /** The day the backtest ran (ET), the cutoff of a `web` seat; null when no seat searches the web (the rest does not depend on it). */
  as_of: string | null;
  seats: SeatKnowledge[];
  weeks: WeekContamination[];
  clean_weeks: number;
  contaminated_weeks: number;
}

export const CONTAMINATION_RULE =
  "a week is contaminated for a seat when its decision day is on or before the seat's knowledge cutoff (web: the day the backtest ran; an LLM without a cutoff: every week; an offline persona: never), and for the council when any seat feeding it (a PM, the researcher or the chairman) is";

/** Each seat as assigned, with its cutoff. */
export function seatKnowledge(config: AppConfig, assignments: ReadonlyMap<string, { provider: string; model: string }>): SeatKnowledge[] {
  return Object.entries(config.models.seats).map(([seat, s]) => {
    const assigned = assignments.get(seat);
    const offline = !assigned || assigned.provider === 'offline';
    const agent = assigned?.model ?? `offline/${s.offline}`;
    if (offline) return { seat, role: s.role, agent, knowledge_cutoff: null, kind: 'offline' as const };
    const cutoff = s.knowledge_cutoff ?? null;
    return {
      seat,
      role: s.role,
      agent,
      knowledge_cutoff: cutoff,
      kind: cutoff === null ? ('unknown' as const) : cutoff === 'web' ? ('web' as const) : ('cutoff' as const),
    };
  });
}

/** Whether the seat's model may know what followed `decisionDate` (YYYY-MM-DD strings compare as dates). */
export function seatContaminated(seat: SeatKnowledge, decisionDate: string, asOf: string): boolean {
  switch (seat.kind) {
    case 'offline':
      return false;
    case 'unknown':
      return true;
    case 'web':
      return decisionDate <= asOf;
    case 'cutoff':
      return decisionDate <= (seat.knowledge_cutoff as string);
  }
}

/** Every week's contamination. `asOf` is the day the backtest runs (default: today in New York). */
export function weeksContamination(
  weeks: readonly Pick<WeekInfo, 'week_id' | 'asof_et'>[],
  seats: readonly SeatKnowledge[],
  asOf: string = todayEt(),
): Contamination {
  const list = weeks.map((w) => {
    const decision = w.asof_et.slice(0, 10);
    const contaminatedSeats = seats.filter((s) => seatContaminated(s, decision, asOf)).map((s) => s.seat);
    return { week_id: w.week_id, decision_date: decision, contaminated: contaminatedSeats.length > 0, seats: contaminatedSeats };
  });
  const contaminated = list.filter((w) => w.contaminated).length;
  return {
    rule: CONTAMINATION_RULE,
    as_of: seats.some((s) => s.kind === 'web') ? asOf : null,
    seats: [...seats],
    weeks: list,
    clean_weeks: list.length - contaminated,
    contaminated_weeks: contaminated,
  };
}

/** The contamination of a backtest's weeks, for the run's agents. */
export function contaminationOf(
  app: { config: AppConfig; agents: { assignments: ReadonlyMap<string, { provider: string; model: string }> } },
  weeks: readonly Pick<WeekInfo, 'week_id' | 'asof_et'>[],
  asOf: string = todayEt(),
): Contamination {
  return weeksContamination(weeks, seatKnowledge(app.config, app.agents.assignments), asOf);
}

/** A seat and why it is contaminated: "gpt (openai/gpt-5.1, cutoff 2024-09-30)". */
export function describeSeat(s: SeatKnowledge): string {
  const why =
    s.kind === 'web'
      ? 'searches the web'
      : s.kind === 'unknown'
        ? 'no knowledge_cutoff in config/models.yaml: counted as contaminated'
        : `cutoff ${s.knowledge_cutoff}`;
  return `${s.seat} (${s.agent}, ${why})`;
}

/**
 * The warning `backtest` prints on stderr before the first week: how many weeks are contaminated and
 * by which seats (with their cutoffs and weeks). Empty when every week is clean (offline agents, or
 * a range after every cutoff).
 */
export function contaminationWarning(c: Contamination): string {
  if (c.contaminated_weeks === 0) return '';
  const bySeat = c.seats
    .map((s) => ({ s, weeks: c.weeks.filter((w) => w.seats.includes(s.seat)).length }))
    .filter((x) => x.weeks > 0)
    .map((x) => `  ${describeSeat(x.s)}: ${x.weeks} week${x.weeks === 1 ? '' : 's'}\n`);
  const of = `${c.contaminated_weeks} of ${c.weeks.length} weeks`;
  const clean =
    c.clean_weeks === 0
      ? 'no week is clean, so the report has no clean-week verdict'
      : `the report gives the verdict on the ${c.clean_weeks} clean week${c.clean_weeks === 1 ? '' : 's'} separately`;
  return (
    `warning: ${of} are contaminated: their decision day is on or before a seat's knowledge cutoff, so the model may know what happened next (${clean}):\n` +
    bySeat.join('')
  );
}

/** For the CLI: the warning for a backtest's weeks with the run's agents ('' when all are clean). */
export function backtestContaminationWarning(
  app: Parameters<typeof contaminationOf>[0],
  weeks: readonly Pick<WeekInfo, 'week_id' | 'asof_et'>[],
): string {
  return contaminationWarning(contaminationOf(app, weeks));
}

function todayEt(): string {
  return utcToEt(new Date()).date;
}
