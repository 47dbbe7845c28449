import { planOrders } from '../../broker/order-plan.js';
import { roundQty } from '../../broker/money.js';
import { recordedOrders } from '../../ledger/orders.js';
import { etToUtc, SESSION_OPEN } from '../../market/calendar.js';
import { portfolioTag } from '../../portfolio/portfolio.js';
import { submitAll, type AccountState, type Broker, type OrderRequest, type OrderResult } from '../../ports/broker.js';
import type { PipelineContext, Stage, TradeIntent } from '../stage.js';

/** The weekly execution's checkpoint label (orders of the intraday checkpoints carry their time). */
const WEEKLY = 'weekly';

/**
 * Places each account's orders at the fill day's open: from what the account holds now to the risk
 * stage's target. The plan starts from the account's current position and the orders it already has
 * this week, so a re-run or a crash-restart places exactly what is missing: nothing twice, nothing
 * skipped (see src/broker/order-plan.ts for the order ids). The stage's result lists every order the
 * week's execution placed, read back from the ledger — those of an earlier, interrupted run included.
 */
export const executeStage: Stage<'execute'> = {
  name: 'execute',
  inputs: ['risk'],
  async run(ctx) {
    const { intents } = ctx.output('risk');
    ctx.clock.set(etToUtc(ctx.week.fill_date, SESSION_OPEN));
    const selected = intents.filter((i) => !ctx.accountFilter || ctx.accountFilter.includes(i.account_id));
    const tag = portfolioTag(ctx.portfolio);
    // Every order the week's execution already has (an earlier, interrupted run's), read once.
    const earlier = await recordedOrders(ctx.store.db, ctx.portfolio, { weekId: ctx.week.week_id, checkpoint: WEEKLY });
    // What each account holds before its orders, read together (an account's orders change no other's).
    const before = await accountStates(
      ctx.broker,
      selected.filter((i) => i.status === 'trade').map((i) => i.account_id),
    );
    // Every account's orders go together: a broker that nets them (Alpaca's sub-ledger mode) sees them
    // all; the others take them one by one, in this order.
    const requests: OrderRequest[] = [];
    for (const intent of selected) requests.push(...(await planIntent(ctx, intent, earlier, tag, before)));
    // A duplicate the ledger did not list (sent by a run that died before recording it) is listed now.
    const placedNow = (await submitAll(ctx.broker, requests)).filter((r) => !earlier.some((o) => o.clientOrderId === r.clientOrderId));
    const placed = placedNow.filter((o) => !o.duplicate).length;
    let orders = [...earlier, ...placedNow].filter((o) => !ctx.accountFilter || ctx.accountFilter.includes(o.accountId));
    // A broker whose auction orders stay open (Alpaca's opg) is waited for, within its deadline.
    const open = orders.filter((o) => o.status === 'accepted').map((o) => o.clientOrderId);
    if (ctx.broker.awaitOrders && open.length > 0) {
      const settled = new Map((await ctx.broker.awaitOrders(open)).map((o) => [o.clientOrderId, o]));
      orders = orders.map((o) => {
        const now = settled.get(o.clientOrderId);
        return now ? { ...now, duplicate: o.duplicate } : o;
      });
    }
    const accounts = [
      ...(
        await accountStates(
          ctx.broker,
          ctx.config.models.accounts.map((a) => a.id),
        )
      ).values(),
    ];
    const rejected = orders.filter((o) => o.status === 'rejected').length;
    const earlierRuns = orders.length - placed;
    // Books kept beside one real account (Alpaca's sub-ledger mode) are reconciled with it after every execution.
    const reconciliation = ctx.broker.reconcile ? await ctx.broker.reconcile({ weekId: ctx.week.week_id, checkpoint: WEEKLY }) : null;
    return {
      output: { fill_date: ctx.week.fill_date, orders, accounts, ...(reconciliation ? { reconciliation } : {}) },
      summary:
        `${placed} orders at the ${ctx.week.fill_date} open` +
        (earlierRuns > 0 ? ` (${earlierRuns} placed earlier this week)` : '') +
        (rejected ? `, ${rejected} rejected` : '') +
        (reconciliation ? `; reconciliation with Alpaca: ${reconciliation.status}` : ''),
    };
  },
};

/** The orders that take an intent's account from what it holds (and has ordered) to the intent's target. */
async function planIntent(
  ctx: PipelineContext,
  intent: TradeIntent,
  earlier: readonly OrderResult[],
  tag: string,
  states?: ReadonlyMap<number, AccountState>,
): Promise<OrderRequest[]> {
  if (intent.status !== 'trade') return [];
  const mine = earlier.filter((o) => o.accountId === intent.account_id);
  const state = states?.get(intent.account_id) ?? (await ctx.broker.account(intent.account_id));
  const target = intent.direction === 'FLAT' || intent.ticker === null ? null : { ticker: intent.ticker, qty: intent.target_qty };
  return planOrders({
    portfolioTag: tag,
    weekId: ctx.week.week_id,
    accountId: intent.account_id,
    checkpoint: WEEKLY,
    sequence: mine.length,
    positions: await withOpenOrders(ctx.broker, state, mine),
    target,
  });
}

/**
 * The orders the week's execution will place at the fill day's open, without placing them: what a week
 * whose open has not come yet (no bar for the fill day in the data) shows as waiting (`pending_open`).
 * They carry the ids execute will give them, so the week continues with exactly these.
 */
export async function pendingOpenOrders(ctx: PipelineContext): Promise<OrderRequest[]> {
  const { intents } = ctx.output('risk');
  const tag = portfolioTag(ctx.portfolio);
  const earlier = await recordedOrders(ctx.store.db, ctx.portfolio, { weekId: ctx.week.week_id, checkpoint: WEEKLY });
  // Positions are marked before the open: the last close the decision saw.
  ctx.clock.set(etToUtc(ctx.week.data_through, '16:00'));
  const planned: OrderRequest[] = [];
  for (const intent of intents) planned.push(...(await planIntent(ctx, intent, earlier, tag)));
  return planned;
}

/** Accounts by id, in one read when the broker can. */
async function accountStates(broker: Broker, ids: readonly number[]): Promise<Map<number, AccountState>> {
  const states: AccountState[] = [];
  if (broker.accounts) states.push(...(ids.length > 0 ? await broker.accounts(ids) : []));
  else for (const id of ids) states.push(await broker.account(id));
  return new Map(states.map((s) => [s.accountId, s]));
}

/**
 * The account's positions plus what its orders still open at the broker will add: a plan made while an
 * order is working must not order the same shares again. (The simulated broker fills or rejects at
 * once; a real broker's opening-auction order stays open until the open.)
 */
async function withOpenOrders(
  broker: Broker,
  state: AccountState,
  earlier: readonly OrderResult[],
): Promise<{ ticker: string; qty: number }[]> {
  const held = new Map(state.positions.map((p) => [p.ticker, p.qty]));
  for (const order of earlier) {
    if (order.status !== 'accepted') continue;
    const now = (await broker.getOrder(order.clientOrderId)) ?? order;
    if (now.status !== 'accepted') continue;
    const open = roundQty(now.qty - now.filledQty) * (now.side === 'buy' ? 1 : -1);
    held.set(now.ticker, roundQty((held.get(now.ticker) ?? 0) + open));
  }
  return [...held].map(([ticker, qty]) => ({ ticker, qty }));
}
