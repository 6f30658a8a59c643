import pg from 'pg';
import Stripe from 'stripe';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../helpers/stack.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';
import { uniqueId } from '../helpers/env.js';
import { Buyers, createSale, expectCleanAudit, setFaults, shop, stats, waitSettled } from './kit.js';

// A worker killed with SIGKILL at the worst moments, and Postgres vanishing mid-payment: afterwards
// exactly one order and one charge per paid hold, and every buyer told.
type Hook = (path: string, key: string | null) => Promise<void>;
let hook: Hook | null = null;
let stack: Stack;
let buyers: Buyers;
let db: pg.Pool;
let stripe: Stripe;
// Short lock and thresholds so a dead worker's job and its leftovers are picked up in seconds.
const WORKER_ENV = { PAYMENT_LOCK_MS: '2000', RECONCILE_AFTER_MS: '2000', RECONCILE_INTERVAL_MS: '500', DEAD_LETTER_RELEASE_MS: '2000' };

beforeAll(async () => {
  stack = await startStack({ workers: 0, workerEnv: WORKER_ENV, standIn: { afterExecute: (p, k) => hook?.(p, k) ?? Promise.resolve() } });
  buyers = new Buyers(stack);
  db = new pg.Pool({ connectionString: stack.databaseUrl, max: 2 });
  stripe = new Stripe('sk_test_check', { host: '127.0.0.1', port: stack.standIn.port, protocol: 'http' });
}, 60_000);
afterEach(async () => {
  hook = null;
  await buyers.closeAll();
  await setFaults(stack, null);
  await Promise.all(stack.workers.splice(0).map((w) => w.kill('SIGKILL')));
});
afterAll(async () => {
  await db?.end();
  await stack?.close();
});

/** Resolves when the stand-in has executed a request on `path`, holding its answer until `release()`. */
function holdAnswer(pathPattern: RegExp): { reached: Promise<void>; release: () => void } {
  let reached!: () => void;
  let release!: () => void;
  const r = new Promise<void>((res) => (reached = res));
  const gate = new Promise<void>((res) => (release = res));
  let done = false;
  hook = async (path) => {
    if (done || !pathPattern.test(path)) return;
    done = true;
    reached();
    await gate;
  };
  return { reached: r, release };
}

async function intentsOf(holdId: string): Promise<Stripe.PaymentIntent[]> {
  return (await stripe.paymentIntents.search({ query: `metadata['holdId']:'${holdId}'` })).data;
}

async function onePaidHold(saleId: string, holdId: string): Promise<void> {
  const orders = await db.query('SELECT payment_intent_id, capture_status FROM orders WHERE hold_id = $1', [holdId]);
  expect(orders.rows).toMatchObject([{ capture_status: 'captured' }]);
  expect(stack.standIn.charges().filter((c) => c.metadata.holdId === holdId)).toMatchObject([{ paymentIntent: orders.rows[0].payment_intent_id }]);
  expect((await intentsOf(holdId)).map((pi) => pi.status)).toEqual(['succeeded']);
  await expectCleanAudit(stack, saleId, { sold: 1, orders: 1 });
}

describe('a settlement worker killed with SIGKILL', () => {
  it('between "authorised at the provider" (the confirmation ran) and "order written": a new worker finishes it — one order, one charge', async () => {
    await stack.addWorker();
    const sale = await createSale(stack, { stock: 1, pools: 1 });
    const { b, holdId } = await buyers.holding(sale.id);
    const gate = holdAnswer(/\/confirm$/);
    b.send({ type: 'pay', holdId, paymentMethod: 'pm_card_visa' });
    await gate.reached;
    await stack.workers[0]!.kill('SIGKILL');
    gate.release();
    // Money authorised, no order, hold still paying: the state a crash leaves.
    expect((await intentsOf(holdId)).map((pi) => pi.status)).toEqual(['requires_capture']);
    expect((await db.query('SELECT 1 FROM orders WHERE hold_id = $1', [holdId])).rowCount).toBe(0);
    expect((await stats(stack, sale.id)).paying).toBe(1);

    await stack.addWorker();
    expect(await b.next('order_confirmed', 30_000)).toMatchObject({ holdId });
    await onePaidHold(sale.id, holdId);
  }, 60_000);

  it('between "order written" and "captured": reconciliation captures once and sells the hold', async () => {
    await stack.addWorker();
    const sale = await createSale(stack, { stock: 1, pools: 1 });
    const { b, holdId } = await buyers.holding(sale.id);
    const gate = holdAnswer(/\/capture$/);
    b.send({ type: 'pay', holdId, paymentMethod: 'pm_card_visa' });
    await gate.reached;
    await stack.workers[0]!.kill('SIGKILL');
    gate.release();
    expect((await db.query('SELECT capture_status FROM orders WHERE hold_id = $1', [holdId])).rows).toEqual([{ capture_status: 'pending' }]);

    await stack.addWorker();
    expect(await b.next('order_confirmed', 30_000)).toMatchObject({ holdId });
    await onePaidHold(sale.id, holdId);
    expect(b.frames.filter((f) => f.type === 'order_confirmed')).toHaveLength(1);
  }, 60_000);
});

describe('Postgres unavailable for a few seconds during payments', () => {
  it('nothing is lost: every payment settles after it returns, one order and one charge each', async () => {
    const proxy = await new TcpProxy('127.0.0.1', Number(new URL(stack.databaseUrl).port || 5432)).start();
    try {
      await stack.addWorker({ DATABASE_URL: proxy.urlFor(stack.databaseUrl) });
      const units = 40;
      const sale = await createSale(stack, { stock: units, pools: 2, holdSeconds: 60 });
      // Slower answers keep payments in flight while the database is away.
      await setFaults(stack, { latencyMs: 150 });
      const sockets = await Promise.all(Array.from({ length: units }, () => buyers.connect(sale.id, uniqueId('pg'))));
      const shopping = Promise.all(sockets.map((b) => shop(b, { timeoutMs: 60_000 })));
      // Cut once payments are under way, for 4 s.
      await sockets[0]!.next((f) => f.type === 'payment_pending', 15_000);
      proxy.cut();
      const cutAt = Date.now();
      await new Promise((r) => setTimeout(r, 4000)); // the outage itself is what is being simulated
      proxy.restore();
      const outcomes = await shopping;
      expect(outcomes.filter((o) => o.end !== 'order_confirmed').map((o) => `${o.buyer}:${o.end}`)).toEqual([]);
      await waitSettled(stack, sale.id);
      const orders = await db.query<{ hold_id: string }>('SELECT hold_id FROM orders WHERE sale_id = $1', [sale.id]);
      expect(orders.rowCount).toBe(units);
      const charged = stack.standIn.charges().filter((c) => c.metadata.saleId === sale.id);
      expect(charged).toHaveLength(units);
      expect(new Set(charged.map((c) => c.metadata.holdId))).toEqual(new Set(orders.rows.map((o) => o.hold_id)));
      await expectCleanAudit(stack, sale.id, { sold: units, orders: units });
      console.log(`postgres-outage figures ${JSON.stringify({ units, outageMs: 4000, settledAfterCutMs: Date.now() - cutAt })}`);
    } finally {
      await proxy.close();
    }
  }, 120_000);
});
