import { describe, expect, it } from 'vitest';
import { etToUtc } from '../market/calendar.js';
import {
  councilVsIndividuals,
  maxDrawdown,
  measureWeek,
  populationStdev,
  type AccountWeek,
  type FillOfAccount,
  type WeekPerformanceInput,
} from './week-performance.js';

// A week decided on Wednesday 2024-03-06: bars through Tuesday 03-05, fills at the 03-06 open.
const CLOSES: Record<string, Record<string, number>> = {
  SPY: { '2024-03-05': 100, '2024-03-06': 102, '2024-03-07': 99, '2024-03-08': 101, '2024-03-11': 101, '2024-03-12': 104 },
  TLT: { '2024-03-05': 90, '2024-03-06': 90, '2024-03-07': 91, '2024-03-08': 92, '2024-03-11': 92, '2024-03-12': 90 },
};
const SESSIONS = ['2024-03-06', '2024-03-07', '2024-03-08', '2024-03-11', '2024-03-12'];
const OPEN = etToUtc('2024-03-06', '09:30');

function fill(
  accountId: number,
  at: Date,
  ticker: string,
  side: 'buy' | 'sell',
  qty: number,
  price: number,
  commission = 0,
): FillOfAccount {
  return { accountId, filledAt: at, ticker, side, qty, price, commission };
}

function input(overrides: Partial<WeekPerformanceInput> = {}): WeekPerformanceInput {
  return {
    dataThrough: '2024-03-05',
    sessions: SESSIONS,
    weekStartsAt: OPEN,
    closeInstant: (d) => etToUtc(d, '16:00'),
    accounts: [{ id: 1, owner: 'gpt', startingCash: 10_000 }],
    fills: [],
    close: (ticker, d) => {
      const value = CLOSES[ticker]?.[d];
      if (value === undefined) throw new Error(`no ${ticker} close on ${d}`);
      return value;
    },
    convictions: new Map(),
    checkpointExits: new Map(),
    ...overrides,
  };
}

describe('measureWeek', () => {
  it("marks a position bought at the week's open at every close, from the last close before the decision", () => {
    const [a] = measureWeek(input({ fills: [fill(1, OPEN, 'SPY', 'buy', 50, 100.5, 1)], convictions: new Map([[1, [2]]]) }));
    // Cash 10 000 − (50 × 100.5 + 1) = 4 974; equity = cash + 50 × close.
    expect(a!.equity_path).toEqual([
      { date: '2024-03-05', equity: 10_000 },
      { date: '2024-03-06', equity: 4_974 + 5_100 },
      { date: '2024-03-07', equity: 4_974 + 4_950 },
      { date: '2024-03-08', equity: 4_974 + 5_050 },
      { date: '2024-03-11', equity: 4_974 + 5_050 },
      { date: '2024-03-12', equity: 4_974 + 5_200 },
    ]);
    expect(a).toMatchObject({ start_equity: 10_000, end_equity: 10_174, pnl: 174, pnl_pct: 0.0174, fills: 1 });
    // Peak 10 074 on 03-06, trough 9 924 on 03-07.
    expect(a!.max_drawdown).toBeCloseTo((10_074 - 9_924) / 10_074, 4);
    expect(a!.turnover).toBeCloseTo(5_025 / 10_000, 4);
    // Gains on 03-06, 03-08, 03-12; a loss on 03-07; 03-11 unchanged is not counted.
    expect(a!.hit_rate).toBe(0.75);
    expect(a!.conviction_volatility).toBe(0);
    expect(a!.positions_at_end).toEqual([{ ticker: 'SPY', qty: 50 }]);
  });

  it('starts from what earlier weeks left, and ignores fills after the last measured close', () => {
    const lastWeek = etToUtc('2024-02-28', '09:30');
    const nextWeek = etToUtc('2024-03-13', '09:30');
    const [a] = measureWeek(
      input({
        fills: [
          fill(1, lastWeek, 'TLT', 'sell', 100, 95), // a short carried into this week: cash 19 500
          fill(1, OPEN, 'TLT', 'buy', 100, 90.2), // covered at this week's open: cash 10 480
          fill(1, OPEN, 'SPY', 'buy', 40, 100.4), // then long SPY: cash 6 464
          fill(1, nextWeek, 'SPY', 'sell', 40, 110), // next week's: not this week's business
        ],
      }),
    );
    // Start: 19 500 cash − 100 × 90 (the 03-05 close) = 10 500.
    expect(a!.start_equity).toBe(10_500);
    expect(a!.end_equity).toBe(6_464 + 40 * 104);
    expect(a!.pnl).toBe(6_464 + 40 * 104 - 10_500);
    expect(a!.fills).toBe(2);
    expect(a!.turnover).toBeCloseTo((9_020 + 4_016) / 10_500, 4);
    expect(a!.positions_at_end).toEqual([{ ticker: 'SPY', qty: 40 }]);
  });

  it('measures a short: it gains when the price falls', () => {
    const [a] = measureWeek(input({ fills: [fill(1, OPEN, 'TLT', 'sell', 100, 90)] }));
    // Cash 19 000; equity = 19 000 − 100 × close. TLT ends at 90: flat P/L after a rise to 92.
    expect(a!.end_equity).toBe(10_000);
    expect(a!.max_drawdown).toBeCloseTo(200 / 10_000, 4);
  });

  it('has no hit rate for an account that held nothing', () => {
    const [a] = measureWeek(input());
    expect(a).toMatchObject({ pnl: 0, pnl_pct: 0, max_drawdown: 0, turnover: 0, hit_rate: null, fills: 0 });
  });

  it('takes convictions and checkpoint exits as given', () => {
    const [a] = measureWeek(input({ convictions: new Map([[1, [2, 1, -1]]]), checkpointExits: new Map([[1, 1]]) }));
    expect(a!.conviction_volatility).toBe(populationStdev([2, 1, -1]));
    expect(a!.panic_exits).toBe(1);
  });
});

describe('maxDrawdown and populationStdev', () => {
  it('finds the deepest fall from a running peak', () => {
    expect(maxDrawdown([100, 120, 90, 130, 117])).toBeCloseTo(0.25, 4);
    expect(maxDrawdown([100, 101, 102])).toBe(0);
  });
  it('is 0 for fewer than two points', () => {
    expect(populationStdev([])).toBe(0);
    expect(populationStdev([2])).toBe(0);
    expect(populationStdev([2, -2])).toBe(2);
  });
});

describe('councilVsIndividuals', () => {
  const week = (account_id: number, owner: string, pnl: number): AccountWeek => ({
    account_id,
    owner,
    start_equity: 100_000,
    end_equity: 100_000 + pnl,
    pnl,
    pnl_pct: pnl / 100_000,
    max_drawdown: 0,
    turnover: 0,
    fills: 0,
    conviction_volatility: 0,
    panic_exits: 0,
    hit_rate: null,
    equity_path: [],
    positions_at_end: [],
  });

  it('counts the PMs the council beat, its rank among six, and the PMs mean and median', () => {
    const result = councilVsIndividuals([
      week(1, 'gpt', -500),
      week(2, 'gemini', 700),
      week(3, 'sonnet', 5_000),
      week(4, 'grok', 2_000),
      week(5, 'council', 700),
      week(6, 'deepseek', 600),
    ]);
    expect(result).toEqual({
      council: { account_id: 5, pnl: 700, pnl_pct: 0.007 },
      individuals_mean_pnl_pct: 0.0156,
      individuals_median_pnl_pct: 0.007,
      best_individual: { owner: 'sonnet', pnl_pct: 0.05 },
      worst_individual: { owner: 'gpt', pnl_pct: -0.005 },
      beat: 2, // gpt and deepseek; a tie with gemini is not a win
      of: 5,
      rank: 3, // behind sonnet and grok, sharing third with gemini
    });
  });

  it('says nothing of a council that did not trade', () => {
    expect(councilVsIndividuals([week(1, 'gpt', 10)])).toMatchObject({ council: null, beat: 0, of: 1, rank: null });
  });
});
