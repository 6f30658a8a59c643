import pg from 'pg';
import Stripe from 'stripe';
import { afterAll, describe, expect, it } from 'vitest';
import type { Stack } from '../helpers/stack.js';
import { uniqueId } from '../helpers/env.js';
import { addWorkerWithMetrics, Buyers, createSale, expectCleanAudit, metricValue, setFaults, shop, useStack, waitSettled, type ShopOutcome } from './kit.js';

// A bad payment day, end to end: 520 real buyer sockets, 200 units, two settlement workers, the
// stand-in failing 10 % of calls, dropping 10 % of answers after charging, 20 ms slower, and sending
// webhooks. Money, orders and what buyers saw must agree exactly once the dust settles.
const BUYERS = 520;
const UNITS = 200;
const FAULTS = { errorRate: 0.1, dropAfterChargeRate: 0.1, latencyMs: 20 };

let stack: Stack;
let buyers: Buyers;
let db: pg.Pool;
const workerMetrics: (() => Promise<string>)[] = [];
useStack(async (s, b) => {
  stack = s;
  buyers = b;
  for (let i = 0; i < 2; i++) workerMetrics.push((await addWorkerWithMetrics(s)).metrics);
  db = new pg.Pool({ connectionString: s.databaseUrl, max: 2 });
}, {
  workers: 0, webhooks: true,
  workerEnv: { RECONCILE_AFTER_MS: '2000', RECONCILE_INTERVAL_MS: '500', DEAD_LETTER_RELEASE_MS: '3000', WORKER_CONCURRENCY: '50' },
});
afterAll(() => db?.end());

describe('settlement on a bad payment day', () => {
  it(`${BUYERS} buyers, ${UNITS} units, faults ${JSON.stringify(FAULTS)}: charges == orders == confirmations, nothing twice, every buyer done`, async () => {
    const sale = await createSale(stack, { stock: UNITS, pools: 4, admitPerSecond: 250, maxActiveHolds: UNITS, holdSeconds: 30 });
    await setFaults(stack, FAULTS);
    const sockets = await Promise.all(Array.from({ length: BUYERS }, () => buyers.connect(sale.id, uniqueId('shopper'))));
    const started = Date.now();
    const outcomes: ShopOutcome[] = await Promise.all(sockets.map((b) => shop(b, { timeoutMs: 150_000 })));
    const shoppersDone = Date.now() - started;

    // Let retries, dead letters, webhooks and reconciliation finish what is in flight.
    await waitSettled(stack, sale.id, 90_000);
    const settled = Date.now() - started;

    const ends: Partial<Record<ShopOutcome['end'], ShopOutcome[]>> = {};
    for (const o of outcomes) (ends[o.end] ??= []).push(o);
    const stuck = ends.stuck ?? [];
    expect(stuck.map((o) => o.buyer), 'buyers without a terminal state').toEqual([]);

    const charges = stack.standIn.charges();
    const orders = (await db.query<{ hold_id: string; payment_intent_id: string; buyer_id: string }>('SELECT hold_id, payment_intent_id, buyer_id FROM orders WHERE sale_id = $1', [sale.id])).rows;
    const confirmed = ends.order_confirmed ?? [];
    // Same count three ways, and the same holds.
    expect(orders.length).toBe(UNITS);
    expect(charges.length).toBe(orders.length);
    expect(confirmed.length).toBe(orders.length);
    expect(new Set(charges.map((c) => c.metadata.holdId)).size).toBe(charges.length);
    expect(new Set(charges.map((c) => c.metadata.holdId))).toEqual(new Set(orders.map((o) => o.hold_id)));
    expect(new Set(confirmed.map((o) => o.holdId))).toEqual(new Set(orders.map((o) => o.hold_id)));
    // No order without its charge, no buyer with two.
    expect(new Set(orders.map((o) => o.payment_intent_id))).toEqual(new Set(charges.map((c) => c.paymentIntent)));
    expect(new Set(orders.map((o) => o.buyer_id)).size).toBe(orders.length);
    // No authorisation left hanging on a buyer's card.
    const stripe = new Stripe('sk_test_check', { host: '127.0.0.1', port: stack.standIn.port, protocol: 'http' });
    const hanging: string[] = [];
    for await (const pi of stripe.paymentIntents.list({ limit: 100 })) if (pi.status === 'requires_capture') hanging.push(pi.id);
    expect(hanging).toEqual([]);
    await expectCleanAudit(stack, sale.id, { sold: UNITS, orders: UNITS });

    const text = (await Promise.all(workerMetrics.map((read) => read()))).join('\n');
    const figures = {
      buyers: BUYERS, units: UNITS, faults: FAULTS, charges: charges.length, orders: orders.length, confirmations: confirmed.length,
      soldOut: ends.sold_out?.length ?? 0, holdExpired: ends.hold_expired?.length ?? 0, pays: outcomes.reduce((s, o) => s + o.pays, 0),
      retries: metricValue(text, 'fs_payment_retries_total'), deadLetters: metricValue(text, 'fs_payment_dead_letters_total'),
      reconciliationFixes: metricValue(text, 'fs_reconciliation_fixes_total'), captureFailures: metricValue(text, 'fs_payment_captures_total', 'result="failed"'),
      webhookEvents: metricValue(text, 'fs_stripe_webhook_events_total'), shoppersDoneMs: shoppersDone, allSettledMs: settled,
    };
    console.log(`payment-faults figures ${JSON.stringify(figures)}`);
    // The faults really happened and were really ridden out.
    expect(figures.retries).toBeGreaterThan(0);
    expect(figures.webhookEvents).toBeGreaterThan(0);
  }, 240_000);
});
