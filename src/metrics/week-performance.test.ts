import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { etToUtc, isEarlyClose, isTradingDay, sessionHours, tradingDaysBetween } from '../market/calendar.js';
import { METRIC_DEFINITIONS } from './definitions.js';
import {
  countChanges,
  councilVsIndividuals,
  maxDrawdown,
  measureWeek,
  populationStdev,
  type AccountWeek,
  type CheckpointActionKind,
  type CheckpointActionRecord,
  type CheckpointMark,
  type FillOfAccount,
  type WeekPerformanceInput,
} from './week-performance.js';

// Every expected number below is computed by hand in the comment next to it; commissions are 0
// unless stated, so cash moves by qty × price exactly.

type Prices = Record<string, Record<string, number>>;

// A week decided on Wednesday 2024-03-06: bars through Tuesday 03-05, fills at the 03-06 open. New York
// moves to daylight time on Sunday 03-10, so the sessions of 03-11 and 03-12 are an hour earlier in UTC.
const MARCH_CLOSES: Prices = {
  SPY: { '2024-03-05': 100, '2024-03-06': 102, '2024-03-07': 99, '2024-03-08': 101, '2024-03-11': 101, '2024-03-12': 104 },
  TLT: { '2024-03-05': 90, '2024-03-06': 90, '2024-03-07': 91, '2024-03-08': 92, '2024-03-11': 92, '2024-03-12': 90 },
};
const MARCH_OPENS: Prices = {
  SPY: { '2024-03-06': 100.5, '2024-03-07': 103, '2024-03-08': 98, '2024-03-11': 100, '2024-03-12': 102 },
  TLT: { '2024-03-06': 90, '2024-03-07': 89, '2024-03-08': 91, '2024-03-11': 93, '2024-03-12': 91 },
};
const MARCH_SESSIONS = ['2024-03-06', '2024-03-07', '2024-03-08', '2024-03-11', '2024-03-12'];
const OPEN = etToUtc('2024-03-06', '09:30');
const CHECKPOINT_TIMES = ['09:00', '12:00', '14:00', '15:50'];

function priceOf(table: Prices, ticker: string, date: string): number {
  const value = table[ticker]?.[date];
  if (value === undefined) throw new Error(`no ${ticker} price on ${date}`);
  return value;
}

/**
 * The checkpoints of `sessions` as the engine marks them with daily bars: the previous close at 09:00,
 * the day's open later; only those before the session's close (an early close drops 14:00 and 15:50).
 */
function checkpointsOf(sessions: readonly string[], previousClose: string, closes: Prices, opens: Prices): CheckpointMark[] {
  return sessions.flatMap((date, i) => {
    const before = i === 0 ? previousClose : (sessions[i - 1] as string);
    const closesAt = etToUtc(date, sessionHours(date).close).getTime();
    return CHECKPOINT_TIMES.filter((time) => etToUtc(date, time).getTime() < closesAt).map((time) => ({
      at: etToUtc(date, time),
      date,
      time,
      price: (ticker: string) => (time === '09:00' ? priceOf(closes, ticker, before) : priceOf(opens, ticker, date)),
    }));
  });
}

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

function action(
  account_id: number,
  date: string,
  time: string,
  kind: CheckpointActionKind,
  conviction_before: number,
  conviction_after: number,
  trigger_fired = false,
): CheckpointActionRecord {
  return { account_id, at: etToUtc(date, time), action: kind, conviction_before, conviction_after, trigger_fired };
}

/** Closes are at 16:00 unless the calendar says 13:00 (an early close). */
const closeAt = (date: string) => etToUtc(date, sessionHours(date).close);

function input(overrides: Partial<WeekPerformanceInput> = {}): WeekPerformanceInput {
  return {
    dataThrough: '2024-03-05',
    sessions: MARCH_SESSIONS,
    weekStartsAt: OPEN,
    closeInstant: closeAt,
    accounts: [{ id: 1, owner: 'gpt', startingCash: 10_000 }],
    fills: [],
    close: (ticker, d) => priceOf(MARCH_CLOSES, ticker, d),
    weeklyConvictions: new Map(),
    checkpoints: [],
    actions: [],
    ...overrides,
  };
}

const NO_ACTIONS = { STAY: 0, EXIT: 0, FLIP: 0, REDUCE: 0 };

describe('measureWeek: close to close', () => {
  it("marks a position bought at the week's open at every close, from the last close before the decision", () => {
    const [a] = measureWeek(input({ fills: [fill(1, OPEN, 'SPY', 'buy', 50, 100.5, 1)], weeklyConvictions: new Map([[1, 2]]) }));
    // Cash 10 000 − (50 × 100.5 + 1) = 4 974; equity = cash + 50 × close.
    expect(a!.equity_path).toEqual([
      { date: '2024-03-05', equity: 10_000 },
      { date: '2024-03-06', equity: 4_974 + 5_100 },
      { date: '2024-03-07', equity: 4_974 + 4_950 },
      { date: '2024-03-08', equity: 4_974 + 5_050 },
      { date: '2024-03-11', equity: 4_974 + 5_050 },
      { date: '2024-03-12', equity: 4_974 + 5_200 },
    ]);
    // End 4 974 + 5 200 = 10 174: P/L 174 = 1.74 %.
    expect(a).toMatchObject({ start_equity: 10_000, end_equity: 10_174, pnl: 174, pnl_pct: 0.0174, fills: 1 });
    // Peak 10 074 on 03-06, trough 9 924 on 03-07: 150 / 10 074 = 0.014890… → 0.0149.
    expect(a!.max_drawdown).toBe(0.0149);
    // No checkpoints: the intraday path is the close path.
    expect(a!.max_drawdown_intraday).toBe(0.0149);
    // 50 × 100.5 = 5 025 traded (the commission is not notional): 5 025 / 10 000.
    expect(a!.turnover).toBe(0.5025);
    // Gains on 03-06, 03-08, 03-12; a loss on 03-07; 03-11 unchanged is not counted: 3 / 4.
    expect(a!.hit_rate).toBe(0.75);
    // A single conviction point: nothing to vary.
    expect(a).toMatchObject({ conviction_path: [2], conviction_volatility: 0, conviction_changes: 0, panic_exits: 0, actions: NO_ACTIONS });
    expect(a!.checkpoint_equity).toEqual([]);
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
    // Start: 19 500 cash − 100 × 90 (the 03-05 close) = 10 500. End: 6 464 + 40 × 104 = 10 624.
    expect(a).toMatchObject({ start_equity: 10_500, end_equity: 10_624, pnl: 124, fills: 2 });
    // (100 × 90.2 + 40 × 100.4) / 10 500 = (9 020 + 4 016) / 10 500 = 1.241523… → 1.2415.
    expect(a!.turnover).toBe(1.2415);
    expect(a!.positions_at_end).toEqual([{ ticker: 'SPY', qty: 40 }]);
  });

  it('measures a short: it gains when the price falls', () => {
    const [a] = measureWeek(input({ fills: [fill(1, OPEN, 'TLT', 'sell', 100, 90)] }));
    // Cash 19 000; equity = 19 000 − 100 × close: 10 000, 10 000, 9 900, 9 800, 9 800, 10 000.
    expect(a!.equity_path.map((p) => p.equity)).toEqual([10_000, 10_000, 9_900, 9_800, 9_800, 10_000]);
    // Peak 10 000, trough 9 800: 200 / 10 000.
    expect(a!.max_drawdown).toBe(0.02);
    // Changes 0, −100, −100, 0, +200: one gain of three moves.
    expect(a!.hit_rate).toBe(0.3333);
  });
});

describe('measureWeek: edge cases', () => {
  it('gives all zeros and no hit rate to a week without a trade or a checkpoint', () => {
    const [a] = measureWeek(input({ weeklyConvictions: new Map([[1, null]]) }));
    expect(a).toEqual({
      account_id: 1,
      owner: 'gpt',
      start_equity: 10_000,
      end_equity: 10_000,
      pnl: 0,
      pnl_pct: 0,
      max_drawdown: 0,
      max_drawdown_intraday: 0,
      turnover: 0,
      fills: 0,
      conviction_path: [],
      conviction_volatility: 0,
      conviction_changes: 0,
      panic_exits: 0,
      actions: NO_ACTIONS,
      hit_rate: null,
      equity_path: [{ date: '2024-03-05', equity: 10_000 }, ...MARCH_SESSIONS.map((date) => ({ date, equity: 10_000 }))],
      checkpoint_equity: [],
      positions_at_end: [],
    });
  });

  it('keeps every account flat through a week of checkpoints that all STAY', () => {
    const checkpoints = checkpointsOf(MARCH_SESSIONS, '2024-03-05', MARCH_CLOSES, MARCH_OPENS);
    // Two accounts whose seats failed (no weekly conviction); the engine records STAY at 0 for a flat account.
    const actions = checkpoints.flatMap((c) => [1, 2].map((id) => action(id, c.date, c.time, 'STAY', 0, 0)));
    const measured = measureWeek(
      input({
        accounts: [
          { id: 1, owner: 'gpt', startingCash: 10_000 },
          { id: 2, owner: 'gemini', startingCash: 5_000 },
        ],
        weeklyConvictions: new Map([
          [1, null],
          [2, null],
        ]),
        checkpoints,
        actions,
      }),
    );
    for (const a of measured) {
      // 5 sessions × 4 checkpoints = 20 marks and 20 STAYs; the path is 20 zeros, which never change.
      expect(a.checkpoint_equity).toHaveLength(20);
      expect(new Set(a.checkpoint_equity.map((c) => c.equity))).toEqual(new Set([a.start_equity]));
      expect(a).toMatchObject({
        pnl: 0,
        max_drawdown: 0,
        max_drawdown_intraday: 0,
        turnover: 0,
        hit_rate: null,
        conviction_volatility: 0,
        conviction_changes: 0,
        panic_exits: 0,
        actions: { STAY: 20, EXIT: 0, FLIP: 0, REDUCE: 0 },
      });
      expect(a.conviction_path).toEqual(Array.from({ length: 20 }, () => 0));
    }
    expect(measured.map((a) => a.start_equity)).toEqual([10_000, 5_000]);
  });
});

describe('measureWeek: checkpoints across the 2024-03-10 DST change', () => {
  const checkpoints = checkpointsOf(MARCH_SESSIONS, '2024-03-05', MARCH_CLOSES, MARCH_OPENS);
  const closeOf = (d: string) => etToUtc(d, '16:00');
  const fills = [
    // gpt: long 50 SPY at the open, FLIPped at the 03-07 12:00 checkpoint (both legs fill at that day's
    // close, $1 commission each: fills at the close price change equity only by their commission, so the
    // commission shows in which close a fill is counted), REDUCEd at 03-08 14:00, EXITed at 03-11 09:00
    // (after the DST change).
    fill(1, OPEN, 'SPY', 'buy', 50, 100.5),
    fill(1, closeOf('2024-03-07'), 'SPY', 'sell', 50, 99, 1),
    fill(1, closeOf('2024-03-07'), 'SPY', 'sell', 50, 99, 1),
    fill(1, closeOf('2024-03-08'), 'SPY', 'buy', 25, 101),
    fill(1, closeOf('2024-03-11'), 'SPY', 'buy', 25, 101),
    // gemini: long 100 TLT at the open, EXITed at the 03-07 09:00 checkpoint.
    fill(2, OPEN, 'TLT', 'buy', 100, 90),
    fill(2, closeOf('2024-03-07'), 'TLT', 'sell', 100, 91),
    // council: long 40 SPY, REDUCEd by half at 03-07 09:00, EXITed at 03-11 14:00.
    fill(5, OPEN, 'SPY', 'buy', 40, 100.5),
    fill(5, closeOf('2024-03-07'), 'SPY', 'sell', 20, 99),
    fill(5, closeOf('2024-03-11'), 'SPY', 'sell', 20, 101),
  ];
  const actions = [
    action(1, '2024-03-06', '12:00', 'STAY', 2, 2),
    action(1, '2024-03-07', '12:00', 'FLIP', 2, -2), // trigger not fired: panic
    action(1, '2024-03-08', '14:00', 'REDUCE', -2, -1), // trigger not fired: panic
    action(1, '2024-03-11', '09:00', 'EXIT', -1, 0, true), // the price gapped through the trigger: not panic
    action(2, '2024-03-07', '09:00', 'EXIT', 1, 0), // trigger not fired: panic
    action(5, '2024-03-06', '15:50', 'STAY', 2, 2),
    action(5, '2024-03-07', '09:00', 'REDUCE', 2, 1), // trigger not fired: panic
    action(5, '2024-03-08', '12:00', 'STAY', 1, 1),
    action(5, '2024-03-11', '14:00', 'EXIT', 1, 0, true),
  ];
  const week = input({
    accounts: [
      { id: 1, owner: 'gpt', startingCash: 10_000 },
      { id: 2, owner: 'gemini', startingCash: 10_000 },
      { id: 3, owner: 'sonnet', startingCash: 10_000 },
      { id: 5, owner: 'council', startingCash: 10_000 },
    ],
    fills: [...fills].reverse(), // any order: measureWeek sorts by instant
    weeklyConvictions: new Map([
      [1, 2],
      [2, 1],
      [3, null],
      [5, 2],
    ]),
    checkpoints,
    actions: [...actions].reverse(),
  });
  const [gpt, gemini, sonnet, council] = measureWeek(week);

  it('puts the 09:00 checkpoint at 14:00Z before the change and 13:00Z after it', () => {
    expect(gpt!.checkpoint_equity[8]).toMatchObject({ date: '2024-03-08', time: '09:00', at: '2024-03-08T14:00:00.000Z' });
    expect(gpt!.checkpoint_equity[12]).toMatchObject({ date: '2024-03-11', time: '09:00', at: '2024-03-11T13:00:00.000Z' });
    // The 03-11 EXIT fills at 16:00 EDT = 20:00Z, after the 13:00Z checkpoint and at that session's close.
    expect(closeOf('2024-03-11').toISOString()).toBe('2024-03-11T20:00:00.000Z');
  });

  it('FLIP, REDUCE, EXIT: equity at every checkpoint and close, both drawdowns', () => {
    // Cash: 10 000 − 50 × 100.5 = 4 975 (long 50) → FLIP at the 03-07 close: + (50 × 99 − 1) + (50 × 99 − 1) = 14 873
    // (short 50) → REDUCE at the 03-08 close: − 25 × 101 = 12 348 (short 25) → EXIT at the 03-11 close: − 25 × 101 = 9 823 (flat).
    // Checkpoints (09:00 at the previous close, later at the day's open), each before its session's fills:
    //   03-06 09:00 before the 09:30 fill: 10 000;  12:00/14:00/15:50: 4 975 + 50 × 100.5 = 10 000
    //   03-07 09:00: 4 975 + 50 × 102 = 10 075;   12:00…: 4 975 + 50 × 103 = 10 125
    //   03-08 09:00: 14 873 − 50 × 99 = 9 923;    12:00…: 14 873 − 50 × 98 = 9 973
    //   03-11 09:00: 12 348 − 25 × 101 = 9 823;   12:00…: 12 348 − 25 × 100 = 9 848
    //   03-12: flat, 9 823
    expect(gpt!.checkpoint_equity.map((c) => c.equity)).toEqual([
      10_000, 10_000, 10_000, 10_000, 10_075, 10_125, 10_125, 10_125, 9_923, 9_973, 9_973, 9_973, 9_823, 9_848, 9_848, 9_848, 9_823, 9_823,
      9_823, 9_823,
    ]);
    // Closes: 10 000; 4 975 + 50 × 102 = 10 075; 14 873 − 50 × 99 = 9 923; 12 348 − 25 × 101 = 9 823; 9 823; 9 823.
    expect(gpt!.equity_path.map((p) => p.equity)).toEqual([10_000, 10_075, 9_923, 9_823, 9_823, 9_823]);
    // P/L 9 823 − 10 000 = −177 = −1.77 %.
    expect(gpt).toMatchObject({ pnl: -177, pnl_pct: -0.0177, fills: 5 });
    // Close to close: peak 10 075, trough 9 823: 252 / 10 075 = 0.025012… → 0.025.
    expect(gpt!.max_drawdown).toBe(0.025);
    // With the checkpoints: peak 10 125 (03-07 12:00), trough 9 823: 302 / 10 125 = 0.029827… → 0.0298.
    expect(gpt!.max_drawdown_intraday).toBe(0.0298);
    // (5 025 + 4 950 + 4 950 + 2 525 + 2 525) / 10 000 = 19 975 / 10 000 (commissions are not notional).
    expect(gpt!.turnover).toBe(1.9975);
    // Close changes +75, −152, −100, 0, 0: one gain of three moves.
    expect(gpt!.hit_rate).toBe(0.3333);
    expect(gpt!.positions_at_end).toEqual([]);
  });

  it('FLIP, REDUCE, EXIT: conviction path, volatility, changes, panic exits and action counts', () => {
    // Path [2, 2, −2, −1, 0]: mean 1 / 5 = 0.2; deviations 1.8, 1.8, −2.2, −1.2, −0.2;
    // squares 3.24 + 3.24 + 4.84 + 1.44 + 0.04 = 12.8; 12.8 / 5 = 2.56; √2.56 = 1.6.
    // Changes: 2→−2, −2→−1, −1→0 = 3. Panic: the FLIP and the REDUCE (trigger not fired); the EXIT's trigger fired.
    expect(gpt).toMatchObject({
      conviction_path: [2, 2, -2, -1, 0],
      conviction_volatility: 1.6,
      conviction_changes: 3,
      panic_exits: 2,
      actions: { STAY: 1, EXIT: 1, FLIP: 1, REDUCE: 1 },
    });
  });

  it('an EXIT without the trigger is a panic exit; the intraday drawdown sees the 12:00 dip the closes miss', () => {
    // Cash 10 000 − 100 × 90 = 1 000, long 100 TLT; sold at the 03-07 close: 1 000 + 100 × 91 = 10 100.
    // Checkpoints: 03-06 09:00 10 000 (before the fill); 12:00… 1 000 + 100 × 90 = 10 000;
    // 03-07 09:00 1 000 + 100 × 90 = 10 000; 12:00… 1 000 + 100 × 89 = 9 900; then flat, 10 100.
    expect(gemini!.checkpoint_equity.slice(0, 9).map((c) => c.equity)).toEqual([
      10_000, 10_000, 10_000, 10_000, 10_000, 9_900, 9_900, 9_900, 10_100,
    ]);
    // Closes 10 000, 10 000, 10 100, 10 100, 10 100, 10 100: never below a peak.
    expect(gemini!.max_drawdown).toBe(0);
    // Peak 10 000, trough 9 900: 100 / 10 000.
    expect(gemini!.max_drawdown_intraday).toBe(0.01);
    // P/L +100; turnover (9 000 + 9 100) / 10 000 = 1.81; one move, a gain.
    expect(gemini).toMatchObject({ pnl: 100, pnl_pct: 0.01, turnover: 1.81, hit_rate: 1 });
    // Path [1, 0]: mean 0.5, √((0.25 + 0.25) / 2) = 0.5; one change.
    expect(gemini).toMatchObject({
      conviction_path: [1, 0],
      conviction_volatility: 0.5,
      conviction_changes: 1,
      panic_exits: 1,
      actions: { STAY: 0, EXIT: 1, FLIP: 0, REDUCE: 0 },
    });
  });

  it('a REDUCE without the trigger is a panic exit; an EXIT with it is not', () => {
    // Cash 10 000 − 40 × 100.5 = 5 980, long 40; REDUCE at the 03-07 close: + 20 × 99 = 7 960, long 20;
    // EXIT at the 03-11 close: + 20 × 101 = 9 980, flat.
    // Closes: 10 000; 5 980 + 40 × 102 = 10 060; 7 960 + 20 × 99 = 9 940; 7 960 + 20 × 101 = 9 980; 9 980; 9 980.
    expect(council!.equity_path.map((p) => p.equity)).toEqual([10_000, 10_060, 9_940, 9_980, 9_980, 9_980]);
    // Checkpoints: 03-07 12:00 5 980 + 40 × 103 = 10 100 (the peak); 03-08 12:00 7 960 + 20 × 98 = 9 920 (the trough);
    // 03-11 12:00 7 960 + 20 × 100 = 9 960.
    expect(council!.checkpoint_equity.filter((c) => c.time === '12:00').map((c) => c.equity)).toEqual([
      10_000, 10_100, 9_920, 9_960, 9_980,
    ]);
    // Close to close: 120 / 10 060 = 0.011928… → 0.0119. Intraday: 180 / 10 100 = 0.017821… → 0.0178.
    expect(council).toMatchObject({ max_drawdown: 0.0119, max_drawdown_intraday: 0.0178 });
    // P/L −20 = −0.2 %; turnover (4 020 + 1 980 + 2 020) / 10 000 = 0.802; changes +60, −120, +40, 0, 0: 2 of 3.
    expect(council).toMatchObject({ pnl: -20, pnl_pct: -0.002, turnover: 0.802, hit_rate: 0.6667, fills: 3 });
    // Path [2, 2, 1, 1, 0]: mean 6 / 5 = 1.2; deviations 0.8, 0.8, −0.2, −0.2, −1.2;
    // squares 0.64 + 0.64 + 0.04 + 0.04 + 1.44 = 2.8; 2.8 / 5 = 0.56; √0.56 = 0.748331… → 0.7483. Changes 2→1, 1→0 = 2.
    expect(council).toMatchObject({
      conviction_path: [2, 2, 1, 1, 0],
      conviction_volatility: 0.7483,
      conviction_changes: 2,
      panic_exits: 1,
      actions: { STAY: 2, EXIT: 1, FLIP: 0, REDUCE: 1 },
    });
  });

  it('leaves an account without trades or actions at zero among accounts that traded', () => {
    expect(sonnet).toMatchObject({ pnl: 0, max_drawdown_intraday: 0, turnover: 0, hit_rate: null, conviction_path: [], panic_exits: 0 });
    expect(sonnet!.checkpoint_equity.every((c) => c.equity === 10_000)).toBe(true);
  });

  it('does not depend on the order checkpoints are given in', () => {
    expect(measureWeek({ ...week, checkpoints: [...checkpoints].reverse() })).toEqual([gpt, gemini, sonnet, council]);
  });

  it('leaves checkpoints and actions after the last measured close to a later measurement', () => {
    // The week still running: measured through the 03-07 close. gpt's 03-08 REDUCE and 03-11 EXIT are not yet part of it.
    const [partial] = measureWeek({
      ...week,
      sessions: MARCH_SESSIONS.slice(0, 2),
      accounts: [{ id: 1, owner: 'gpt', startingCash: 10_000 }],
    });
    // 2 sessions × 4 checkpoints; path [2, 2, −2]; panic: the FLIP.
    expect(partial!.checkpoint_equity).toHaveLength(8);
    expect(partial).toMatchObject({ conviction_path: [2, 2, -2], panic_exits: 1, actions: { STAY: 1, EXIT: 0, FLIP: 1, REDUCE: 0 } });
    // Peak 10 125 (03-07 12:00), trough 9 923 (the 03-07 close, after the FLIP): 202 / 10 125 = 0.019950… → 0.02.
    expect(partial!.max_drawdown_intraday).toBe(0.02);
    expect(partial!.positions_at_end).toEqual([{ ticker: 'SPY', qty: -50 }]);
  });

  it('puts a checkpoint at the very instant of a close before that close', () => {
    // Checkpoints are before 16:00, so this never happens in a real week; the order is the documented rule.
    // Long 100 SPY at 100 from the 03-06 open: cash 0. A mark at the 16:00 close instant pricing SPY at 90.
    const atClose: CheckpointMark = { at: closeOf('2024-03-06'), date: '2024-03-06', time: '16:00', price: () => 90 };
    const [a] = measureWeek(input({ sessions: ['2024-03-06'], fills: [fill(1, OPEN, 'SPY', 'buy', 100, 100)], checkpoints: [atClose] }));
    // Path 10 000 (03-05 close), 9 000 (the mark), 10 200 (the close, 100 × 102): 1 000 / 10 000 = 0.1.
    // (The other order, 10 000, 10 200, 9 000, would give 1 200 / 10 200 = 0.1176.)
    expect(a!.max_drawdown_intraday).toBe(0.1);
    expect(a!.max_drawdown).toBe(0);
  });

  it('refuses an action at an instant where no checkpoint was evaluated', () => {
    // 09:00 EST on 03-11 would be 14:00Z: an instant computed with last week's offset matches no checkpoint.
    const wrongOffset = { ...action(1, '2024-03-11', '09:00', 'EXIT', -1, 0), at: new Date('2024-03-11T14:00:00.000Z') };
    expect(() => measureWeek({ ...week, actions: [...actions, wrongOffset] })).toThrow(
      /EXIT at 2024-03-11T14:00:00.000Z is at no checkpoint/,
    );
  });
});

describe('measureWeek: Thanksgiving 2024, a holiday and an early close in one week', () => {
  // Decided Wednesday 11-27 on bars through 11-26; Thursday 11-28 is closed, Friday 11-29 closes at 13:00.
  const sessions = tradingDaysBetween('2024-11-27', '2024-12-03');
  const closes: Prices = { SPY: { '2024-11-26': 100, '2024-11-27': 101, '2024-11-29': 96, '2024-12-02': 97, '2024-12-03': 98 } };
  const opens: Prices = { SPY: { '2024-11-27': 100, '2024-11-29': 95, '2024-12-02': 97, '2024-12-03': 98 } };
  const checkpoints = checkpointsOf(sessions, '2024-11-26', closes, opens);
  const [a] = measureWeek(
    input({
      dataThrough: '2024-11-26',
      sessions,
      weekStartsAt: etToUtc('2024-11-27', '09:30'),
      close: (ticker, d) => priceOf(closes, ticker, d),
      fills: [
        fill(1, etToUtc('2024-11-27', '09:30'), 'SPY', 'buy', 10, 100),
        // EXIT at the 11-29 12:00 checkpoint fills at that day's 13:00 close ($1 commission: it marks which close counts the fill).
        fill(1, etToUtc('2024-11-29', '13:00'), 'SPY', 'sell', 10, 96, 1),
      ],
      weeklyConvictions: new Map([[1, 1]]),
      checkpoints,
      // SPY opened through the stop on 11-29: the trigger fired at 12:00, so not a panic exit.
      actions: [action(1, '2024-11-29', '12:00', 'EXIT', 1, 0, true)],
    }),
  );

  it('reads the calendar as the week assumes', () => {
    expect(isTradingDay('2024-11-28')).toBe(false);
    expect(isEarlyClose('2024-11-29')).toBe(true);
    expect(sessions).toEqual(['2024-11-27', '2024-11-29', '2024-12-02', '2024-12-03']);
    // 13:00 EST = 18:00Z.
    expect(closeAt('2024-11-29').toISOString()).toBe('2024-11-29T18:00:00.000Z');
  });

  it('marks no close and no checkpoint on the holiday, and only 09:00 and 12:00 on the early-close day', () => {
    expect(a!.equity_path.map((p) => p.date)).toEqual(['2024-11-26', ...sessions]);
    // 4 + 2 + 4 + 4 = 14 checkpoints.
    expect(a!.checkpoint_equity.map((c) => `${c.date} ${c.time}`)).toEqual([
      '2024-11-27 09:00',
      '2024-11-27 12:00',
      '2024-11-27 14:00',
      '2024-11-27 15:50',
      '2024-11-29 09:00',
      '2024-11-29 12:00',
      '2024-12-02 09:00',
      '2024-12-02 12:00',
      '2024-12-02 14:00',
      '2024-12-02 15:50',
      '2024-12-03 09:00',
      '2024-12-03 12:00',
      '2024-12-03 14:00',
      '2024-12-03 15:50',
    ]);
  });

  it('puts the 13:00 fill in the early-close session and the 12:00 checkpoint before it', () => {
    // Cash 10 000 − 10 × 100 = 9 000, long 10; sold at the 11-29 13:00 close: 9 000 + 10 × 96 − 1 = 9 959.
    // Closes: 10 000; 9 000 + 10 × 101 = 10 010; 9 959 (flat); 9 959; 9 959.
    expect(a!.equity_path.map((p) => p.equity)).toEqual([10_000, 10_010, 9_959, 9_959, 9_959]);
    // Checkpoints: 11-27 09:00 10 000 (before the fill), 12:00… 9 000 + 10 × 100 = 10 000;
    // 11-29 09:00 9 000 + 10 × 101 = 10 010; 12:00 9 000 + 10 × 95 = 9 950; then flat at 9 959.
    expect(a!.checkpoint_equity.slice(0, 7).map((c) => c.equity)).toEqual([10_000, 10_000, 10_000, 10_000, 10_010, 9_950, 9_959]);
    // Close to close: 51 / 10 010 = 0.005094… → 0.0051. Intraday: 10 010 → 9 950, 60 / 10 010 = 0.005994… → 0.006.
    expect(a).toMatchObject({ max_drawdown: 0.0051, max_drawdown_intraday: 0.006 });
    // P/L −41 = −0.41 %; turnover (1 000 + 960) / 10 000 = 0.196; changes +10, −51, 0, 0: 1 of 2.
    expect(a).toMatchObject({ pnl: -41, pnl_pct: -0.0041, turnover: 0.196, hit_rate: 0.5 });
    // Path [1, 0]; the EXIT's trigger fired: no panic.
    expect(a).toMatchObject({
      conviction_path: [1, 0],
      conviction_changes: 1,
      panic_exits: 0,
      actions: { STAY: 0, EXIT: 1, FLIP: 0, REDUCE: 0 },
    });
  });
});

describe('maxDrawdown, populationStdev and countChanges', () => {
  it('finds the deepest fall from a running peak', () => {
    // Peak 120, trough 90: 30 / 120 = 0.25 (the later 130 → 117 is 13 / 130 = 0.1).
    expect(maxDrawdown([100, 120, 90, 130, 117])).toBe(0.25);
    expect(maxDrawdown([100, 101, 102])).toBe(0);
    expect(maxDrawdown([])).toBe(0);
  });
  it('is 0 for fewer than two points', () => {
    expect(populationStdev([])).toBe(0);
    expect(populationStdev([2])).toBe(0);
    // Mean 0; √((4 + 4) / 2) = 2.
    expect(populationStdev([2, -2])).toBe(2);
    // Mean 2 / 3; deviations 4 / 3, 1 / 3, −5 / 3; squares (16 + 1 + 25) / 9 = 42 / 9; / 3 = 14 / 9; √ = 1.247219… → 1.2472.
    expect(populationStdev([2, 1, -1])).toBe(1.2472);
  });
  it('counts consecutive pairs that differ', () => {
    expect(countChanges([])).toBe(0);
    expect(countChanges([2])).toBe(0);
    // 2→2 same, 2→1, 1→1 same, 1→0: 2.
    expect(countChanges([2, 2, 1, 1, 0])).toBe(2);
    // A return to an earlier value is a change too: 1→2, 2→1.
    expect(countChanges([1, 2, 1])).toBe(2);
  });
});

describe('metric definitions', () => {
  it('are stated word for word in the header of week-performance.ts', () => {
    const source = readFileSync(new URL('./week-performance.ts', import.meta.url), 'utf8');
    const header = (source.split('*/')[0] as string)
      .split('\n')
      .map((line) => line.replace(/^\s*\/?\*+\s?/, ''))
      .join(' ')
      .replace(/\s+/g, ' ');
    for (const { metric, definition } of METRIC_DEFINITIONS) expect(header).toContain(`- ${metric}: ${definition}`);
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
    max_drawdown_intraday: 0,
    turnover: 0,
    fills: 0,
    conviction_path: [],
    conviction_volatility: 0,
    conviction_changes: 0,
    panic_exits: 0,
    actions: NO_ACTIONS,
    hit_rate: null,
    equity_path: [],
    checkpoint_equity: [],
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
      // (−0.005 + 0.007 + 0.05 + 0.02 + 0.006) / 5 = 0.078 / 5 = 0.0156.
      individuals_mean_pnl_pct: 0.0156,
      // Sorted −0.005, 0.006, 0.007, 0.02, 0.05: the middle one.
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
