import { etToUtc } from '../../market/calendar.js';
import { equityOf } from '../../ledger/book.js';
import { booksAtDecision } from '../../ledger/decision-equity.js';
import { sizePosition } from '../../risk/position-sizing.js';
import type { Direction } from '../../schemas/index.js';
import { ofRun } from '../../storage/run-key.js';
import { insertRows } from '../../storage/bulk-insert.js';
import { tradeIntents } from '../../storage/schema.js';
import type { PipelineContext, Stage, TradeIntent } from '../stage.js';

/**
 * Risk turns each account's trade into a target position: universe only, one instrument per account,
 * size from conviction and volatility under the caps of config/models.yaml. These limits bind every
 * agent, offline or LLM.
 *
 * Equity is the account's as the decision saw it: its fills before the decision instant, marked at
 * the snapshot's closes (the previous session's). The week's own fills never feed back into its
 * sizing, so a re-run (`--force`) of an executed week targets what the first run targeted unless the
 * decision changed.
 *
 * An account whose owner failed this week never gets a default trade: with `risk.on_seat_failure:
 * flat` (the default) its target is no position — whatever it held is closed — and with `hold` its
 * position is left alone. Either way the intent records why.
 */
export const riskStage: Stage<'risk'> = {
  name: 'risk',
  inputs: ['snapshot', 'pm_pitches', 'chairman'],
  async run(ctx) {
    const { accounts, risk } = ctx.config.models;
    await ctx.broker.ensureAccounts(accounts, risk.starting_cash);
    const decidedAt = etToUtc(ctx.week.fill_date, ctx.config.schedule.weekly.time);
    ctx.clock.set(decidedAt);
    const snapshot = ctx.output('snapshot');
    const closeOf = (ticker: string): number => {
      const asset = snapshot.assets.find((a) => a.ticker === ticker);
      if (!asset) throw new Error(`account holds ${ticker}, which the week's snapshot does not price`);
      return asset.last_close;
    };
    const books = await booksAtDecision(ctx.store.db, ctx.portfolio, ctx.ledger, decidedAt);
    const intents: TradeIntent[] = [];
    for (const account of accounts) {
      const base = { account_id: account.id, owner: account.owner };
      const trade = tradeFor(ctx, account.owner);
      if ('failed' in trade) {
        const flat = risk.on_seat_failure === 'flat';
        intents.push({
          ...base,
          status: flat ? 'trade' : 'skipped',
          ticker: null,
          direction: flat ? 'FLAT' : null,
          conviction: flat ? 0 : null,
          target_qty: 0,
          reference_price: null,
          notes: `${trade.failed}: ${flat ? 'FLAT (risk.on_seat_failure: flat), any position is closed' : 'position held (risk.on_seat_failure: hold)'}`,
          seat_failed: true,
        });
        continue;
      }
      const asset = snapshot.assets.find((a) => a.ticker === trade.ticker);
      if (!asset || !ctx.config.tickers.includes(trade.ticker)) {
        intents.push({
          ...base,
          status: 'skipped',
          ticker: trade.ticker,
          direction: trade.direction,
          conviction: trade.conviction,
          target_qty: 0,
          reference_price: null,
          notes: `${trade.ticker} is not in the universe`,
        });
        continue;
      }
      const book = books.get(account.id);
      if (!book) throw new Error(`account ${account.id} does not exist in portfolio ${ctx.portfolio}`);
      const equity = equityOf(book, closeOf);
      const dailyVol = asset.realized_vol_20d !== null ? asset.realized_vol_20d / Math.sqrt(252) : asset.atr_pct;
      const sized = sizePosition({
        direction: trade.direction,
        conviction: trade.conviction,
        price: asset.last_close,
        dailyVol: dailyVol ?? 0.02,
        equity,
        risk,
      });
      intents.push({
        ...base,
        status: 'trade',
        ticker: trade.ticker,
        direction: trade.direction,
        conviction: trade.conviction,
        target_qty: sized.targetQty,
        reference_price: asset.last_close,
        notes: sized.notes,
        equity_at_decision: equity,
      });
    }
    const trading = intents.filter((i) => i.status === 'trade').length;
    const failed = intents.filter((i) => i.seat_failed).length;
    return {
      output: { intents },
      summary: `${trading} of ${intents.length} accounts sized${failed ? ` (${failed} seat${failed > 1 ? 's' : ''} failed: ${risk.on_seat_failure})` : ''}`,
    };
  },
  async clear(tx, run) {
    await tx.delete(tradeIntents).where(ofRun(tradeIntents, run));
  },
  async persist(tx, run, output) {
    await insertRows(
      tx,
      tradeIntents,
      output.intents
        .filter((x) => x.status === 'trade')
        .map((i) => ({
          ...run,
          checkpoint: 'weekly',
          accountId: i.account_id,
          owner: i.owner,
          ticker: i.ticker,
          direction: i.direction as string,
          conviction: i.conviction ?? 0,
          targetQty: i.target_qty,
          referencePrice: i.reference_price,
          notes: i.notes,
        })),
    );
  },
};

type AccountTrade = { ticker: string; direction: Direction; conviction: number } | { failed: string };

function tradeFor(ctx: PipelineContext, owner: string): AccountTrade {
  if (owner === 'council') {
    const { decision } = ctx.output('chairman');
    return { ticker: decision.selected_trade.ticker, direction: decision.selected_trade.direction, conviction: decision.conviction };
  }
  const seat = ctx.output('pm_pitches').pitches.find((p) => p.seat === owner);
  if (!seat || seat.status !== 'ok' || !seat.pitch)
    return { failed: `seat ${owner} has no valid pitch this week (${seat?.error ?? 'not run'})` };
  const t = seat.pitch.selected_trade;
  return { ticker: t.ticker, direction: t.direction, conviction: t.conviction };
}
