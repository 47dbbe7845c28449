import { and, eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCheckpoint } from '../src/checkpoint/engine.js';
import { slotOf } from '../src/checkpoint/schedule.js';
import { weekOf } from '../src/council/week.js';
import { runWeek } from '../src/council/weekly.js';
import type { Store } from '../src/storage/db.js';
import { orders, positions } from '../src/storage/schema.js';
import { pmExitingAtCheckpoints, withPms } from './helpers/agents.js';
import { setPricesFromBundle, startAlpacaStandIn, type AlpacaStandIn } from './helpers/alpaca-stand-in.js';
import { testApp } from './helpers/app.js';
import { expectBooksMatchFills } from './helpers/ledger.js';
import { storeFactories } from './helpers/stores.js';

/**
 * The checkpoint engine with BROKER=alpaca: a 15:50 decision goes to the closing auction (cls), and
 * the checkpoint waits for the auction (Broker.awaitOrders) before it reports, so its update shows the
 * fill and the ledger holds it — as the weekly execution does with its opening-auction orders.
 */

const WEEK = '2024-03-06';
const keyId = (n: number): string => `PKSTANDINCKPT${n}KEY0001`;
const secret = (n: number): string => `sEcReT-ckpt${n}-0123456789abcdefghijklmnopqrstuvwxyz`;

describe('a checkpoint on Alpaca', () => {
  let store: Store;
  let standIn: AlpacaStandIn;
  beforeAll(async () => {
    store = await storeFactories[0]!.open();
    standIn = await startAlpacaStandIn();
    for (let n = 1; n <= 6; n++) standIn.addAccount({ keyId: keyId(n), secretKey: secret(n), cash: 100_000 });
    await setPricesFromBundle(standIn);
  });
  afterAll(async () => {
    await standIn.stop();
    await store.close();
  });

  it('sends a 15:50 EXIT as a market-on-close order, waits for the closing auction and reports the fill', async () => {
    const env: NodeJS.ProcessEnv = { APCA_API_BASE_URL: standIn.tradingUrl, APCA_DATA_BASE_URL: standIn.dataUrl };
    for (let n = 1; n <= 6; n++) {
      env[`APCA_ACCT${n}_KEY_ID`] = keyId(n);
      env[`APCA_ACCT${n}_SECRET_KEY`] = secret(n);
    }
    // Each auction happens while the run waits for its orders: the first look at an open order.
    let next: (() => void) | null = () => standIn.open();
    standIn.transformResponse = (operationId, body) => {
      if (operationId === 'getOrderByClientOrderId' && next) {
        const auction = next;
        next = null;
        setImmediate(auction);
      }
      return body;
    };
    const opened = await testApp(store, env, { alpacaWaits: { fillTimeoutMs: 5000, orderWaitMs: 200, pollMs: 5 } });
    const app = withPms(opened, { gpt: pmExitingAtCheckpoints });
    try {
      const week = weekOf(WEEK, app.config);
      const weekly = await runWeek(
        app,
        week,
        ['snapshot', 'research', 'pm_pitches', 'peer_review', 'chairman', 'risk', 'execute'],
        {},
        () => undefined,
      );
      expect(weekly.error).toBeNull();
      const gpt = app.config.models.accounts.find((a) => a.owner === 'gpt')!;
      const held = await store.db
        .select()
        .from(positions)
        .where(and(eq(positions.portfolio, app.portfolio), eq(positions.accountId, gpt.id)));
      expect(held).toHaveLength(1);

      next = () => standIn.close();
      const posted = standIn.calls('postOrder').length;
      const result = await runCheckpoint(app, week, slotOf(week, WEEK, '15:50'));

      const update = result.updates.find((u) => u.account_id === gpt.id)!;
      expect(update, JSON.stringify(update)).toMatchObject({ status: 'ok', action: 'EXIT' });
      expect(update.orders).toHaveLength(1);
      // Filled in the auction the checkpoint waited for, not left 'accepted'.
      expect(update.orders[0]).toMatchObject({ status: 'filled', filled_qty: Math.abs(held[0]!.qty), duplicate: false });
      expect(update.order).toEqual(update.orders[0]);
      const sent = standIn.calls('postOrder').slice(posted);
      expect(sent).toHaveLength(1);
      expect(sent[0]?.body).toMatchObject({ time_in_force: 'cls', client_order_id: update.orders[0]!.client_order_id });
      // The ledger holds the fill: the account is flat, its order filled, books replayable from fills.
      const after = await store.db
        .select()
        .from(positions)
        .where(and(eq(positions.portfolio, app.portfolio), eq(positions.accountId, gpt.id)));
      expect(after).toEqual([]);
      const [row] = await store.db.select().from(orders).where(eq(orders.clientOrderId, update.orders[0]!.client_order_id));
      expect(row?.status).toBe('filled');
      await expectBooksMatchFills(store.db, app.portfolio);
      expect(standIn.violations).toEqual([]);
    } finally {
      await opened.close();
      await opened.cleanup();
    }
  });
});
