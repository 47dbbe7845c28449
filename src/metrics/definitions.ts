/**
 * The postmortem's metric definitions, word for word as the header of week-performance.ts states
 * them (a test holds the two equal), so the Markdown report and the README quote one text.
 */
export interface MetricDefinition {
  /** The field of AccountWeek it defines. */
  metric: string;
  definition: string;
}

export const METRIC_DEFINITIONS: readonly MetricDefinition[] = [
  {
    metric: 'start_equity',
    definition:
      "the account's book before the week's first fill instant (every earlier fill replayed from its starting cash), marked at the data_through close.",
  },
  {
    metric: 'pnl',
    definition:
      'end_equity − start_equity in dollars, end_equity being the book at the close of the last measured session; pnl_pct = pnl / start_equity.',
  },
  {
    metric: 'max_drawdown',
    definition:
      'the largest fall from a running peak, as a positive fraction of that peak, on the close-to-close equity path: the data_through close, then the close of each session.',
  },
  {
    metric: 'max_drawdown_intraday',
    definition:
      "the same on the path that merges those closes with the equity at each checkpoint, in time order (a checkpoint comes before its session's close); the equity at a checkpoint is the book from the fills at or before the checkpoint's instant, marked at the last price knowable then.",
  },
  {
    metric: 'turnover',
    definition: "Σ round2(qty × price) over the week's fills (checkpoint fills included) / start_equity.",
  },
  {
    metric: 'hit_rate',
    definition:
      'the share of sessions whose close-to-close change in equity is a gain, among the sessions whose change is not zero; null when none is.',
  },
  {
    metric: 'conviction_path',
    definition:
      "the conviction of the Wednesday decision (left out when the account did not trade), then the conviction after each of the account's checkpoint actions, in time order.",
  },
  {
    metric: 'conviction_volatility',
    definition: 'the population standard deviation of conviction_path; 0 with fewer than two points.',
  },
  {
    metric: 'conviction_changes',
    definition: 'the number of consecutive pairs in conviction_path that differ.',
  },
  {
    metric: 'panic_exits',
    definition:
      "the account's checkpoint actions that applied EXIT, FLIP or REDUCE while its own machine-checked invalidation trigger had not fired: a position cut or reversed without the account's stated reason.",
  },
  {
    metric: 'actions',
    definition:
      'the applied checkpoint actions counted by kind (STAY, EXIT, FLIP, REDUCE); a flat account or an owner that failed counts as STAY.',
  },
];
