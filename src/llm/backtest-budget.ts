/**
 * The LLM spending cap of a whole backtest (`budget_usd_per_backtest`, `backtest --budget-usd`).
 *
 * Spent so far = every call recorded in the backtest's portfolio (llm_calls, so earlier processes and
 * interrupted runs count) read once at this process's first call, plus what this process has spent
 * since. Before each network call the client reserves the call's estimate here as well as in the
 * week's run budget (both caps must hold): spent + calls in flight + the estimate must stay within the
 * cap, or the call is refused unsent. Answers from the response cache never reach the budget.
 *
 * A refusal stops the run (StopsTheRun): the stage in progress commits nothing, the backtest does not
 * count the week as finished, and the same command with a higher cap continues where it stopped. The
 * first refusal is kept (`refusal`) so the backtest can stop even where a caller swallowed the error.
 *
 * Processes running the same backtest at the same time would each see the others' spending only at
 * their next start (one process runs a backtest today).
 */
import type { StopsTheRun } from '../errors.js';
import { BudgetExceededError, checkCap, reservation, usd, type BudgetReservation } from './run-budget.js';

export class BacktestBudgetExceededError extends BudgetExceededError implements StopsTheRun {
  readonly stopsTheRun = true;

  constructor(
    capUsd: number,
    spentUsd: number,
    readonly inFlightUsd: number,
    estimateUsd: number,
    what: string,
    portfolio: string,
  ) {
    const inFlight = inFlightUsd > 0 ? ` + $${usd(inFlightUsd)} in flight` : '';
    super(
      capUsd,
      spentUsd,
      estimateUsd,
      what,
      `LLM budget of $${usd(capUsd)} for this backtest would be exceeded by ${what}: ` +
        `$${usd(spentUsd)} spent in portfolio ${portfolio}${inFlight} + an estimated $${usd(estimateUsd)} for this call; ` +
        'nothing was sent. Raise it with --budget-usd (or budget_usd_per_backtest in config/llm.yaml) and run the same command to continue',
    );
  }
}

export class BacktestBudget {
  private prior: Promise<number> | null = null;
  private spentHere = 0;
  private inFlight = 0;
  /** The first call this budget refused, if any. */
  refusal: BacktestBudgetExceededError | null = null;

  constructor(
    readonly capUsd: number,
    /** The backtest's portfolio (bt-<name>): named in the refusal. */
    readonly portfolio: string,
    /** What the portfolio's recorded calls cost so far (read at the first call). */
    private readonly priorSpendUsd: () => Promise<number>,
  ) {
    checkCap(capUsd);
  }

  /** Spent so far: the recorded calls before this process, and this process's since. */
  async spentUsd(): Promise<number> {
    return (await this.priorSpend()) + this.spentHere;
  }

  /** Throws BacktestBudgetExceededError (reserving nothing) when spent + in flight + estimate would pass the cap. */
  async reserve(estimateUsd: number, what: string): Promise<BudgetReservation> {
    const spent = await this.spentUsd();
    // From here to the reservation nothing awaits: parallel calls cannot both take the same headroom.
    if (spent + this.inFlight + estimateUsd > this.capUsd) {
      const error = new BacktestBudgetExceededError(this.capUsd, spent, this.inFlight, estimateUsd, what, this.portfolio);
      this.refusal ??= error;
      throw error;
    }
    this.inFlight += estimateUsd;
    return reservation(estimateUsd, (actualUsd) => {
      this.inFlight -= estimateUsd;
      this.spentHere += actualUsd;
    });
  }

  /** Throws the first refusal, if there was one (the backtest checks before counting a week finished). */
  throwIfRefused(): void {
    if (this.refusal) throw this.refusal;
  }

  private priorSpend(): Promise<number> {
    if (!this.prior) {
      const read = this.priorSpendUsd();
      // A failed read is not remembered: the next call asks again.
      read.catch(() => {
        if (this.prior === read) this.prior = null;
      });
      this.prior = read;
    }
    return this.prior;
  }
}
