import { eq } from 'drizzle-orm';
import { etToUtc } from '../../market/calendar.js';
import { sizePosition } from '../../risk/position-sizing.js';
import type { Direction } from '../../schemas/index.js';
import { tradeIntents } from '../../storage/schema.js';
import type { PipelineContext, Stage, TradeIntent } from '../stage.js';

/**
 * Risk turns each account's trade into a target position: universe only, one instrument per account,
 * size from conviction and volatility under the caps of config/models.yaml. These limits bind every
 * agent, offline or LLM. An account whose seat failed gets no trade (never a default one).
 */
export const riskStage: Stage<'risk'> = {
  name: 'risk',
  inputs: ['snapshot', 'pm_pitches', 'chairman'],
  async run(ctx) {
    const { accounts, risk } = ctx.config.models;
    await ctx.broker.ensureAccounts(accounts, risk.starting_cash);
    // Equity is marked at the decision time (before the open: the previous close).
    ctx.clock.set(etToUtc(ctx.week.fill_date, ctx.config.schedule.weekly.time));
    const intents: TradeIntent[] = [];
    for (const account of accounts) {
      const trade = tradeFor(ctx, account.owner);
      if ('skipped' in trade) {
        intents.push({
          account_id: account.id,
          owner: account.owner,
          status: 'skipped',
          ticker: null,
          direction: null,
          conviction: null,
          target_qty: 0,
          reference_price: null,
          notes: trade.skipped,
        });
        continue;
      }
      const asset = ctx.output('snapshot').assets.find((a) => a.ticker === trade.ticker);
      if (!asset || !ctx.config.tickers.includes(trade.ticker)) {
        intents.push({
          account_id: account.id,
          owner: account.owner,
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
      const state = await ctx.broker.account(account.id);
      const dailyVol = asset.realized_vol_20d !== null ? asset.realized_vol_20d / Math.sqrt(252) : asset.atr_pct;
      const sized = sizePosition({
        direction: trade.direction,
        conviction: trade.conviction,
        price: asset.last_close,
        dailyVol: dailyVol ?? 0.02,
        equity: state.equity,
        risk,
      });
      intents.push({
        account_id: account.id,
        owner: account.owner,
        status: 'trade',
        ticker: trade.ticker,
        direction: trade.direction,
        conviction: trade.conviction,
        target_qty: sized.targetQty,
        reference_price: asset.last_close,
        notes: sized.notes,
      });
    }
    const trading = intents.filter((i) => i.status === 'trade').length;
    return { output: { intents }, summary: `${trading} of ${intents.length} accounts sized` };
  },
  async clear(tx, weekId) {
    await tx.delete(tradeIntents).where(eq(tradeIntents.weekId, weekId));
  },
  async persist(tx, weekId, output) {
    const trades = output.intents.filter((x) => x.status === 'trade');
    if (trades.length === 0) return;
    await tx.insert(tradeIntents).values(
      trades.map((i) => ({
        weekId,
        checkpoint: 'weekly',
        accountId: i.account_id,
        owner: i.owner,
        ticker: i.ticker as string,
        direction: i.direction as string,
        conviction: i.conviction as number,
        targetQty: i.target_qty,
        referencePrice: i.reference_price as number,
        notes: i.notes,
      })),
    );
  },
};

type AccountTrade = { ticker: string; direction: Direction; conviction: number } | { skipped: string };

function tradeFor(ctx: PipelineContext, owner: string): AccountTrade {
  if (owner === 'council') {
    const { decision } = ctx.output('chairman');
    return { ticker: decision.selected_trade.ticker, direction: decision.selected_trade.direction, conviction: decision.conviction };
  }
  const seat = ctx.output('pm_pitches').pitches.find((p) => p.seat === owner);
  if (!seat || seat.status !== 'ok' || !seat.pitch)
    return { skipped: `seat ${owner} has no valid pitch this week (${seat?.error ?? 'not run'}): no trade` };
  const t = seat.pitch.selected_trade;
  return { ticker: t.ticker, direction: t.direction, conviction: t.conviction };
}
