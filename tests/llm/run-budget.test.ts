import { describe, expect, it } from 'vitest';
import { BacktestBudget, BacktestBudgetExceededError } from '../../src/llm/backtest-budget.js';
import { BudgetExceededError, estimateCallUsd, RunBudget, WeeklyBudgets } from '../../src/llm/run-budget.js';

describe('RunBudget', () => {
  it('refuses a call whose estimate would pass the cap, and counts actual costs', () => {
    const budget = new RunBudget(1);
    const first = budget.reserve(0.6, 'call 1');
    expect(() => budget.reserve(0.5, 'call 2')).toThrow(BudgetExceededError);
    first.settle(0.2);
    expect(budget.spentUsd).toBeCloseTo(0.2);
    budget.reserve(0.5, 'call 2').settle(0.5);
    expect(budget.spentUsd).toBeCloseTo(0.7);
    expect(budget.remainingUsd).toBeCloseTo(0.3);
    expect(() => budget.reserve(0.31, 'call 3')).toThrow(/budget of \$1 per run would be exceeded by call 3/);
  });

  it('counts reservations in flight, so parallel calls cannot overshoot together', () => {
    const budget = new RunBudget(1);
    const reservations = [budget.reserve(0.4, 'a'), budget.reserve(0.4, 'b')];
    expect(() => budget.reserve(0.4, 'c')).toThrow(BudgetExceededError);
    reservations.forEach((r) => r.settle(0.1));
    reservations[0]!.settle(5); // settling twice has no effect
    expect(budget.spentUsd).toBeCloseTo(0.2);
  });

  it('estimates prompt chars / 4 at the input price plus max tokens at the output price', () => {
    const messages = [{ role: 'user' as const, content: 'x'.repeat(4000) }];
    expect(estimateCallUsd(messages, 1000, { input_per_mtok: 2, output_per_mtok: 10 })).toBeCloseTo((1000 * 2 + 1000 * 10) / 1e6, 12);
    expect(estimateCallUsd(messages, 1000, undefined)).toBe(0);
  });
});

describe('WeeklyBudgets', () => {
  it("starts each week's budget from what the week already spent, reading it once per week", async () => {
    const reads: string[] = [];
    const budgets = new WeeklyBudgets(1, async (weekId) => {
      reads.push(weekId);
      return weekId === '2024-03-06' ? 0.8 : 0;
    });
    const [resumed, again, other] = await Promise.all([budgets.of('2024-03-06'), budgets.of('2024-03-06'), budgets.of('2024-03-13')]);
    expect(again).toBe(resumed);
    expect(reads).toEqual(['2024-03-06', '2024-03-13']);
    expect(resumed.spentUsd).toBeCloseTo(0.8);
    expect(() => resumed.reserve(0.3, 'a resumed call')).toThrow(/\$0\.8 spent or in flight \+ an estimated \$0\.3/);
    expect(() => other.reserve(0.3, 'another week')).not.toThrow();
  });

  it('asks again after a failed read instead of remembering the failure', async () => {
    let fail = true;
    const budgets = new WeeklyBudgets(1, async () => {
      if (fail) throw new Error('database unavailable');
      return 0.25;
    });
    await expect(budgets.of('2024-03-06')).rejects.toThrow('database unavailable');
    fail = false;
    expect((await budgets.of('2024-03-06')).spentUsd).toBeCloseTo(0.25);
  });

  it('refuses an invalid cap when created', () => {
    expect(() => new WeeklyBudgets(-1)).toThrow(RangeError);
  });
});

describe('BacktestBudget', () => {
  it("counts the portfolio's recorded spending (read once), this process's and the calls in flight; keeps the first refusal", async () => {
    let reads = 0;
    const budget = new BacktestBudget(1, 'bt-feb', async () => {
      reads++;
      return 0.5;
    });
    // Parallel reservations cannot share the same headroom: 0.5 + 0.3 + 0.3 > 1.
    const results = await Promise.allSettled([budget.reserve(0.3, 'gpt'), budget.reserve(0.3, 'gemini')]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected']);
    expect(reads).toBe(1);
    const refusal = (results[1] as PromiseRejectedResult).reason;
    expect(refusal).toBeInstanceOf(BacktestBudgetExceededError);
    expect(refusal.stopsTheRun).toBe(true);
    expect(refusal.message).toBe(
      'LLM budget of $1 for this backtest would be exceeded by gemini: $0.5 spent in portfolio bt-feb + $0.3 in flight + an estimated $0.3 for this call; nothing was sent. Raise it with --budget-usd (or budget_usd_per_backtest in config/llm.yaml) and run the same command to continue',
    );
    (results[0] as PromiseFulfilledResult<{ settle(x: number): void }>).value.settle(0.1);
    expect(await budget.spentUsd()).toBeCloseTo(0.6);
    await budget.reserve(0.4, 'fits exactly');
    expect(budget.refusal).toBe(refusal);
    expect(() => budget.throwIfRefused()).toThrow(refusal);
  });

  it('asks again after a failed read, and refuses an invalid cap', async () => {
    let fail = true;
    const budget = new BacktestBudget(1, 'bt-x', async () => {
      if (fail) throw new Error('database unavailable');
      return 0.25;
    });
    await expect(budget.reserve(0.1, 'a call')).rejects.toThrow('database unavailable');
    fail = false;
    expect(await budget.spentUsd()).toBeCloseTo(0.25);
    expect(() => new BacktestBudget(Number.NaN, 'bt-x', async () => 0)).toThrow(RangeError);
    expect(() => budget.throwIfRefused()).not.toThrow();
  });
});
