import pg from 'pg';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { Stack } from '../helpers/stack.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';
import { uniqueId } from '../helpers/env.js';
import { addWorkerWithMetrics, Buyers, createSale, expectCleanAudit, metricValue, setFaults, shop, useStack, waitSettled } from './kit.js';

// The settlement worker's Postgres goes away for 40 s in the middle of a sale's payments — as in a
// failover — and comes back. A Postgres outage is not the payments' fault: the jobs ride it out on their
// own retry budget (settlement/payment-retry.ts) instead of landing in the dead-letter queue after ~7 s.
const OUTAGE_MS = 40_000;
const UNITS = 30;

let stack: Stack;
let buyers: Buyers;
let db: pg.Pool;
let proxy: TcpProxy;
let workerMetrics: () => Promise<string>;
useStack(async (s, b) => {
  stack = s;
  buyers = b;
  proxy = await new TcpProxy('127.0.0.1', Number(new URL(s.databaseUrl).port || 5432)).start();
  // Only the worker reaches Postgres through the proxy; the gateway and this test keep their own way in.
  workerMetrics = (await addWorkerWithMetrics(s, { DATABASE_URL: proxy.urlFor(s.databaseUrl) })).metrics;
  db = new pg.Pool({ connectionString: s.databaseUrl, max: 2 });
}, { workers: 0 });
afterEach(() => setFaults(stack, null));
afterAll(async () => {
  await proxy?.close();
  await db?.end();
});

const workerMetric = async (name: string) => metricValue(await workerMetrics(), name);

describe('Postgres away for 40 s under the settlement worker', () => {
  it('every paid buyer gets exactly one order, charges at the provider == orders, no dead letters', async () => {
    const sale = await createSale(stack, { stock: UNITS, pools: 2, holdSeconds: 120 });
    // Provider answers slow enough, and buyers spread enough, that the cut finds payments at every step:
    // before the attempt row, between authorisation and order, between order and capture.
    await setFaults(stack, { latencyMs: 200 });
    const sockets = await Promise.all(Array.from({ length: UNITS }, () => buyers.connect(sale.id, uniqueId('fo'))));
    const shopping = Promise.all(sockets.map(async (b, i) => {
      await new Promise((r) => setTimeout(r, i * 60));
      return shop(b, { timeoutMs: 100_000 });
    }));
    await Promise.any(sockets.map((b) => b.next('order_confirmed', 20_000)));
    proxy.cut();
    const cutAt = Date.now();
    const confirmedSeenAtCut = sockets.filter((b) => b.frames.some((f) => f.type === 'order_confirmed')).length;
    await new Promise((r) => setTimeout(r, OUTAGE_MS)); // the outage itself is what is being simulated
    const pendingAtRestore = UNITS - sockets.filter((b) => b.frames.some((f) => f.type === 'order_confirmed')).length;
    proxy.restore();
    const restoredAt = Date.now();

    const outcomes = await shopping;
    // Said on failure: what the worker wrote (a crash is the usual reason for buyers left without an answer).
    if (outcomes.some((o) => o.end !== 'order_confirmed')) console.log(`worker stderr: ${stack.workers[0]!.stderr().slice(0, 5000)}`);
    expect(outcomes.filter((o) => o.end !== 'order_confirmed').map((o) => `${o.buyer}:${o.end}`)).toEqual([]);
    await waitSettled(stack, sale.id, 30_000);
    const settledAfterRestoreMs = Date.now() - restoredAt;

    const orders = (await db.query<{ hold_id: string; buyer_id: string; payment_intent_id: string }>('SELECT hold_id, buyer_id, payment_intent_id FROM orders WHERE sale_id = $1', [sale.id])).rows;
    expect(orders).toHaveLength(UNITS);
    // Every paid buyer exactly one order, and the order each was told about.
    expect(new Set(orders.map((o) => o.buyer_id))).toEqual(new Set(sockets.map((b) => b.buyer)));
    expect(new Set(outcomes.map((o) => o.holdId))).toEqual(new Set(orders.map((o) => o.hold_id)));
    const charges = stack.standIn.charges().filter((c) => c.metadata.saleId === sale.id);
    expect(charges).toHaveLength(orders.length);
    expect(new Set(charges.map((c) => c.paymentIntent))).toEqual(new Set(orders.map((o) => o.payment_intent_id)));

    // Nothing dead-lettered: not listed, not stamped, not counted.
    const listed = (await stack.admin('GET', '/v1/admin/dead-letters')).body.deadLetters.filter((d: { saleId: string }) => d.saleId === sale.id);
    expect(listed).toEqual([]);
    expect((await db.query('SELECT 1 FROM payment_attempts WHERE sale_id = $1 AND dead_lettered_at IS NOT NULL', [sale.id])).rowCount).toBe(0);
    expect(await workerMetric('fs_payment_dead_letters_total')).toBe(0);
    const retries = await workerMetric('fs_payment_retries_total');
    // The outage really held payments up: they were retried through it and finished after it.
    expect(pendingAtRestore).toBeGreaterThan(0);
    expect(retries).toBeGreaterThan(pendingAtRestore);
    await expectCleanAudit(stack, sale.id, { sold: UNITS, orders: UNITS });
    console.log(`postgres-failover figures ${JSON.stringify({ units: UNITS, outageMs: OUTAGE_MS, confirmedSeenAtCut, pendingAtRestore, retries, settledAfterRestoreMs, cutToSettledMs: Date.now() - cutAt })}`);
  }, 120_000);
});
