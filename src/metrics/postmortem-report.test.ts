import { describe, expect, expectTypeOf, it } from 'vitest';
import { METRIC_DEFINITIONS } from './definitions.js';
import type { Postmortem } from './postmortem.js';
import { inline, renderPostmortemMarkdown, type PostmortemLike } from './postmortem-report.js';
import type { AccountWeek } from './week-performance.js';

function account(
  overrides: Partial<AccountWeek & { agent: string }> & Pick<AccountWeek, 'account_id' | 'owner'>,
): AccountWeek & { agent: string } {
  return {
    agent: `${overrides.owner}-model`,
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
    actions: { STAY: 0, EXIT: 0, FLIP: 0, REDUCE: 0 },
    hit_rate: null,
    equity_path: [],
    checkpoint_equity: [],
    positions_at_end: [],
    ...overrides,
  };
}

// The gpt and council numbers are those of the DST-week reference test in week-performance.test.ts.
const gpt = account({
  account_id: 1,
  owner: 'gpt',
  agent: 'openai/gpt-5',
  end_equity: 9_823,
  pnl: -177,
  pnl_pct: -0.0177,
  max_drawdown: 0.025,
  max_drawdown_intraday: 0.0298,
  turnover: 1.9975,
  fills: 5,
  conviction_path: [2, 2, -2, -1, 0],
  conviction_volatility: 1.6,
  conviction_changes: 3,
  panic_exits: 2,
  actions: { STAY: 1, EXIT: 1, FLIP: 1, REDUCE: 1 },
  hit_rate: 0.3333,
});
const council = account({
  account_id: 5,
  owner: 'council',
  agent: 'chairman',
  end_equity: 11_234.5,
  pnl: 1_234.5,
  pnl_pct: 0.1235,
  max_drawdown: 0.0119,
  max_drawdown_intraday: 0.0178,
  turnover: 0.802,
  conviction_path: [2, 2, 1, 1, 0],
  conviction_volatility: 0.7483,
  conviction_changes: 2,
  panic_exits: 1,
  actions: { STAY: 2, EXIT: 1, FLIP: 0, REDUCE: 1 },
  hit_rate: 0.6667,
});
const sonnet = account({ account_id: 3, owner: 'sonnet', agent: 'anthropic/claude | sonnet' });

function postmortem(overrides: Partial<PostmortemLike> = {}): PostmortemLike {
  return {
    portfolio: 'default',
    week_id: '2024-03-06',
    data_through: '2024-03-05',
    through: '2024-03-12',
    week_end: '2024-03-12',
    complete: true,
    accounts: [gpt, sonnet, council],
    council_vs_individuals: {
      council: { account_id: 5, pnl: 1_234.5, pnl_pct: 0.1235 },
      individuals_mean_pnl_pct: -0.0089,
      individuals_median_pnl_pct: -0.0089,
      best_individual: { owner: 'sonnet', pnl_pct: 0 },
      worst_individual: { owner: 'gpt', pnl_pct: -0.0177 },
      beat: 2,
      of: 2,
      rank: 1,
    },
    benchmarks: { flat: { pnl_pct: 0, max_drawdown: 0 }, spy_buy_hold: { ticker: 'SPY', pnl_pct: 0.04, max_drawdown: 0.0294 } },
    checkpoints: 20,
    notes: ['distributions are not credited (the simulated broker does not pay them)'],
    conviction_paths: [
      {
        account_id: 1,
        owner: 'gpt',
        steps: [
          {
            at_et: '2024-03-06 09:00',
            action: 'STAY',
            conviction_before: 2,
            conviction_after: 2,
            reason: 'on plan',
            invalidation_fired: null,
          },
          {
            at_et: '2024-03-06 12:00',
            action: 'STAY',
            conviction_before: 2,
            conviction_after: 2,
            reason: 'on plan',
            invalidation_fired: null,
          },
          {
            at_et: '2024-03-06 14:00',
            action: 'STAY',
            conviction_before: 2,
            conviction_after: 2,
            reason: 'on plan',
            invalidation_fired: null,
          },
          {
            at_et: '2024-03-07 12:00',
            action: 'FLIP',
            conviction_before: 2,
            conviction_after: -2,
            reason: 'breadth collapsed | RSI 28\nand the dollar ripped',
            invalidation_fired: null,
          },
          {
            at_et: '2024-03-07 14:00',
            action: 'STAY',
            conviction_before: -2,
            conviction_after: -2,
            reason: 'hold',
            invalidation_fired: null,
          },
          {
            at_et: '2024-03-11 09:00',
            action: 'EXIT',
            conviction_before: -1,
            conviction_after: 0,
            reason: 'stop hit on the gap',
            invalidation_fired: 'SPY close > 101',
          },
        ],
      },
    ],
    ...overrides,
  };
}

const lines = (markdown: string) => markdown.split('\n');

describe('renderPostmortemMarkdown', () => {
  const markdown = renderPostmortemMarkdown(postmortem());

  it('titles the week and states its span', () => {
    expect(lines(markdown)[0]).toBe('# Postmortem — week 2024-03-06, portfolio default');
    expect(markdown).toContain(
      'Measured from the 2024-03-05 close to the 2024-03-12 close (the week is complete); 20 checkpoints evaluated.',
    );
  });

  it('gives the verdict: the council against the PM mean and SPY', () => {
    // +12.35 % against −0.89 % and +4.00 %: ahead of both.
    expect(markdown).toContain(
      '**Verdict:** the council made +12.35% against a PM mean of -0.89% and SPY buy-and-hold +4.00%: ahead of the PMs, ahead of SPY.',
    );
    const behind = renderPostmortemMarkdown(
      postmortem({ benchmarks: { ...postmortem().benchmarks, spy_buy_hold: { ticker: 'SPY', pnl_pct: 0.1235, max_drawdown: 0 } } }),
    );
    expect(behind).toContain(': ahead of the PMs, level with SPY.');
    const noCouncil = renderPostmortemMarkdown(
      postmortem({ council_vs_individuals: { ...postmortem().council_vs_individuals, council: null, beat: 0, rank: null } }),
    );
    expect(noCouncil).toContain('**Verdict:** the council did not trade; the PMs averaged -0.89% against SPY buy-and-hold +4.00%.');
    expect(noCouncil).toContain('- The council did not trade this week.');
  });

  it('tabulates the accounts by P/L with their numbers formatted', () => {
    const header = lines(markdown).indexOf(
      '| Account | Owner | Agent | P/L $ | P/L % | Max DD close | Max DD intraday | Turnover | Hit rate | Conv. vol | Conv. changes | Panic exits | Actions S/E/F/R |',
    );
    expect(header).toBeGreaterThan(0);
    expect(lines(markdown)[header + 1]).toBe(
      '| ---: | :--- | :--- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    );
    // Council first (+1 234.50), sonnet (0), gpt last (−177).
    expect(lines(markdown).slice(header + 2, header + 5)).toEqual([
      '| 5 | council | chairman | +$1,234.50 | +12.35% | 1.19% | 1.78% | 0.80x | 67% | 0.75 | 2 | 1 | 2/1/0/1 |',
      '| 3 | sonnet | anthropic/claude \\| sonnet | $0.00 | 0.00% | 0.00% | 0.00% | 0.00x | — | 0.00 | 0 | 0 | 0/0/0/0 |',
      '| 1 | gpt | openai/gpt-5 | -$177.00 | -1.77% | 2.50% | 2.98% | 2.00x | 33% | 1.60 | 3 | 2 | 1/1/1/1 |',
    ]);
  });

  it('lists the benchmarks and the council against the individual PMs', () => {
    expect(markdown).toContain('| FLAT (cash) | 0.00% | 0.00% |');
    expect(markdown).toContain('| SPY buy-and-hold | +4.00% | 2.94% |');
    expect(markdown).toContain('- Council (account 5): +$1,234.50 (+12.35%)');
    expect(markdown).toContain('- Beat 2 of 2 individual PMs; rank 1 of 3 accounts');
    expect(markdown).toContain('- PM mean -0.89%, median -0.89%');
    expect(markdown).toContain('- Worst PM: gpt -1.77%');
  });

  it('shows each non-STAY step with its reason and trigger, and folds runs of STAY into a count', () => {
    const start = lines(markdown).indexOf('### gpt (account 1)');
    expect(lines(markdown).slice(start + 2, start + 8)).toEqual([
      'Path: +2 → +2 → -2 → -1 → 0 (volatility 1.60, 3 changes, 2 panic exits)',
      '',
      '- STAY × 3 (2024-03-06 09:00 … 2024-03-06 14:00 ET)',
      // The reason's pipe is escaped and its line break folded, so the list item stays one line.
      '- 2024-03-07 12:00 ET **FLIP** +2 → -2, trigger not fired (panic exit). breadth collapsed \\| RSI 28 and the dollar ripped',
      '- STAY at 2024-03-07 14:00 ET',
      '- 2024-03-11 09:00 ET **EXIT** -1 → 0, trigger fired: SPY close > 101. stop hit on the gap',
    ]);
    // An account without recorded steps still shows its measured path.
    expect(markdown).toContain('### council (account 5)\n\nPath: +2 → +2 → +1 → +1 → 0 (volatility 0.75, 2 changes, 1 panic exit)\n');
    expect(markdown).toContain('### sonnet (account 3)\n\nPath: none (no weekly trade and no checkpoint action).');
  });

  it('ends with the notes and every metric definition', () => {
    expect(markdown).toContain('## Notes\n\n- distributions are not credited (the simulated broker does not pay them)');
    const definitions = markdown.slice(markdown.indexOf('## Definitions'));
    expect(definitions).not.toBe('');
    for (const { metric, definition } of METRIC_DEFINITIONS) expect(definitions).toContain(`- **${metric}**: ${definition}`);
    expect(markdown.endsWith('\n')).toBe(true);
  });

  it('says when the week is not over and when nothing is noted', () => {
    const running = renderPostmortemMarkdown(postmortem({ complete: false, through: '2024-03-08', notes: [], checkpoints: 1 }));
    expect(running).toContain('to the 2024-03-08 close (the week is not over: it ends 2024-03-12); 1 checkpoint evaluated.');
    expect(running).toContain('## Notes\n\nNone.');
  });
});

describe('inline', () => {
  it('escapes what would break a table or the page', () => {
    expect(inline('a | b')).toBe('a \\| b');
    expect(inline('already \\| escaped')).toBe('already \\\\\\| escaped');
    expect(inline('line one\r\n  line two')).toBe('line one line two');
    expect(inline('<script>x</script>')).toBe('&lt;script>x&lt;/script>');
  });
});

describe('PostmortemLike', () => {
  it("is satisfied by postmortem.ts's Postmortem (checked by tsc)", () => {
    expectTypeOf<Postmortem>().toExtend<PostmortemLike>();
  });
});
