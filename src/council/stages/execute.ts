import { planOrders } from '../../broker/order-plan.js';
import { etToUtc, SESSION_OPEN } from '../../market/calendar.js';
import type { AccountState, OrderResult } from '../../ports/broker.js';
import { appendEvent } from '../../storage/event-store.js';
import type { Stage } from '../stage.js';

/**
 * Places each account's orders at the fill day's open. Orders are idempotent by client_order_id, so
 * re-running after a crash never doubles a trade; every order, filled or rejected, is recorded.
 */
export const executeStage: Stage<'execute'> = {
  name: 'execute',
  inputs: ['risk'],
  async run(ctx) {
    const { intents } = ctx.output('risk');
    ctx.clock.set(etToUtc(ctx.week.fill_date, SESSION_OPEN));
    const selected = intents.filter((i) => !ctx.accountFilter || ctx.accountFilter.includes(i.account_id));
    const orders: OrderResult[] = [];
    for (const intent of selected) {
      if (intent.status !== 'trade') continue;
      const state = await ctx.broker.account(intent.account_id);
      const target = intent.direction === 'FLAT' || intent.ticker === null ? null : { ticker: intent.ticker, qty: intent.target_qty };
      const plan = planOrders({
        weekId: ctx.week.week_id,
        accountId: intent.account_id,
        checkpoint: 'weekly',
        positions: state.positions.map((p) => ({ ticker: p.ticker, qty: p.qty })),
        target,
      });
      for (const request of plan) {
        const result = await ctx.broker.submitOrder(request);
        orders.push(result);
        await appendEvent(ctx.store.db, {
          key: `order:${request.clientOrderId}`,
          weekId: ctx.week.week_id,
          kind: 'order',
          stage: 'execute',
          seat: intent.owner,
          payload: { request, result },
        });
      }
    }
    const accounts: AccountState[] = [];
    for (const account of ctx.config.models.accounts) accounts.push(await ctx.broker.account(account.id));
    const rejected = orders.filter((o) => o.status === 'rejected').length;
    return {
      output: { fill_date: ctx.week.fill_date, orders, accounts },
      summary: `${orders.length} orders at the ${ctx.week.fill_date} open${rejected ? `, ${rejected} rejected` : ''}`,
    };
  },
};
