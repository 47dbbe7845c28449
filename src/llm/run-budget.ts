import { UserError } from '../errors.js';
import type { ChatMessage } from '../ports/llm.js';
import type { Price } from './llm-config.js';

/**
 * The spending cap of one weekly run. The client asks for a reservation before every network call and
 * settles it with the actual cost afterwards. Reservations count against the cap while calls are in
 * flight, so five PMs calling in parallel cannot each see the same headroom and overshoot together.
 */
export class BudgetExceededError extends UserError {
  constructor(
    readonly capUsd: number,
    readonly spentUsd: number,
    readonly estimateUsd: number,
    what: string,
    /** A cap other than the per-run one says what it caps (BacktestBudgetExceededError). */
    message?: string,
  ) {
    super(
      message ??
        `LLM budget of $${usd(capUsd)} per run would be exceeded by ${what}: ` +
          `$${usd(spentUsd)} spent or in flight + an estimated $${usd(estimateUsd)} for this call`,
    );
    this.name = 'BudgetExceededError';
  }
}

export function checkCap(capUsd: number): void {
  if (!(capUsd >= 0) || !Number.isFinite(capUsd)) throw new RangeError(`budget cap must be a finite number >= 0, got ${capUsd}`);
}

/** Dollars with up to 4 decimals and no trailing zeros: "10", "0.295", "0.0081". */
export function usd(n: number): string {
  return String(Number(n.toFixed(4)));
}

export interface BudgetReservation {
  readonly estimateUsd: number;
  /** Replace the estimate with what the call actually cost (0 when it failed before any usage). */
  settle(actualUsd: number): void;
}

/** A reservation of `estimateUsd` whose settlement runs once, with the actual cost (never negative). */
export function reservation(estimateUsd: number, onSettle: (actualUsd: number) => void): BudgetReservation {
  let settled = false;
  return {
    estimateUsd,
    settle: (actualUsd: number) => {
      if (settled) return;
      settled = true;
      onSettle(Math.max(0, actualUsd));
    },
  };
}

export class RunBudget {
  private spent = 0;
  private inFlight = 0;

  constructor(readonly capUsd: number) {
    checkCap(capUsd);
  }

  get spentUsd(): number {
    return this.spent;
  }

  get remainingUsd(): number {
    return Math.max(0, this.capUsd - this.spent - this.inFlight);
  }

  /** Throws BudgetExceededError (and reserves nothing) when spent + in flight + estimate would pass the cap. */
  reserve(estimateUsd: number, what: string): BudgetReservation {
    const committed = this.spent + this.inFlight;
    if (committed + estimateUsd > this.capUsd) throw new BudgetExceededError(this.capUsd, committed, estimateUsd, what);
    this.inFlight += estimateUsd;
    return reservation(estimateUsd, (actualUsd) => {
      this.inFlight -= estimateUsd;
      this.spent += actualUsd;
    });
  }

  /** Records a cost that was not reserved: what earlier commands spent on the same run (WeeklyBudgets). */
  charge(actualUsd: number): void {
    this.spent += Math.max(0, actualUsd);
  }
}

/**
 * The budgets of weekly runs, one per week_id: a run is one week's pipeline, whichever commands carry
 * it out. A week resumed by a later command (`run_weekly` after a failed stage, or `pm_pitches` and then
 * `peer_review`) continues that week's budget: what its calls already cost (`priorSpendUsd`, read from
 * llm_calls) counts from the first call on.
 */
export class WeeklyBudgets {
  private readonly budgets = new Map<string, Promise<RunBudget>>();

  constructor(
    readonly capUsd: number,
    private readonly priorSpendUsd: (weekId: string) => Promise<number> = async () => 0,
  ) {
    checkCap(capUsd); // now, rather than at the week's first call
  }

  /** The week's budget, created on first use with the week's earlier spending already charged. */
  of(weekId: string): Promise<RunBudget> {
    let budget = this.budgets.get(weekId);
    if (!budget) {
      budget = this.priorSpendUsd(weekId).then((spent) => {
        const fresh = new RunBudget(this.capUsd);
        fresh.charge(spent);
        return fresh;
      });
      // A failed read is not remembered: the next call asks again.
      budget.catch(() => this.budgets.delete(weekId));
      this.budgets.set(weekId, budget);
    }
    return budget;
  }
}

/**
 * A deliberately pessimistic estimate: prompt characters / 4 as input tokens (no cache discount) and
 * the full output allowance. An unknown price estimates 0 — the cap then only stops calls once the
 * reported costs have used it up.
 */
export function estimateCallUsd(messages: readonly ChatMessage[], maxOutputTokens: number, price: Price | undefined): number {
  if (!price) return 0;
  const promptChars = messages.reduce((n, m) => n + m.content.length, 0);
  return ((promptChars / 4) * price.input_per_mtok + maxOutputTokens * price.output_per_mtok) / 1_000_000;
}
