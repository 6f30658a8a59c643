import pg from 'pg';
import Stripe from 'stripe';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { WEBHOOK_SECRET, type Stack } from '../helpers/stack.js';
import { METRIC } from '../../shared/metric-names.js';
import { addWorkerWithMetrics, Buyers, createSale, expectCleanAudit, metricValue, setFaults, stats, useStack } from './kit.js';

// Dead letters and webhooks through the operator API and the gateway, against worker processes.
// Reconciliation runs often but leaves an unpaid dead letter to the operator for 10 minutes.
const WORKER_ENV = { RECONCILE_AFTER_MS: '1000', RECONCILE_INTERVAL_MS: '300', DEAD_LETTER_RELEASE_MS: '600000' };

let stack: Stack;
let buyers: Buyers;
let db: pg.Pool;
let workerMetrics: () => Promise<string>;
useStack(async (s, b) => {
  stack = s;
  buyers = b;
  workerMetrics = (await addWorkerWithMetrics(s)).metrics;
  db = new pg.Pool({ connectionString: s.databaseUrl, max: 2 });
}, { workers: 0, webhooks: true, workerEnv: WORKER_ENV });
afterEach(() => setFaults(stack, null));
afterAll(() => db?.end());

async function deadLetterOf(holdId: string, timeoutMs = 30_000): Promise<any> {
  return vi.waitFor(async () => {
    const r = await stack.admin('GET', '/v1/admin/dead-letters');
    expect(r.status).toBe(200);
    const hit = r.body.deadLetters.find((d: any) => d.holdId === holdId);
    expect(hit, `a dead letter for ${holdId}`).toBeDefined();
    return hit;
  }, { timeout: timeoutMs, interval: 200 });
}

describe('dead letters', () => {
  it('after 1 try + 3 retries the job is a dead letter, its hold stays paying (not handed on); replay → one order, one charge', async () => {
    const sale = await createSale(stack, { stock: 1, pools: 1 });
    const { b, holdId } = await buyers.holding(sale.id);
    await setFaults(stack, { errorRate: 1 });
    b.send({ type: 'pay', holdId, paymentMethod: 'pm_card_visa' });
    const dl = await deadLetterOf(holdId);
    expect(dl).toEqual({ id: `${holdId}-a1`, holdId, saleId: sale.id, reason: expect.stringContaining('error'), attempts: 4, failedAt: expect.any(String) });
    expect(Number.isNaN(Date.parse(dl.failedAt))).toBe(false);
    const attempt = await db.query('SELECT status, dead_lettered_at FROM payment_attempts WHERE hold_id = $1', [holdId]);
    expect(attempt.rows).toMatchObject([{ status: 'pending', dead_lettered_at: expect.any(Date) }]);

    // The unit is not given to the next buyer while money may have moved.
    const next = await buyers.queued(sale.id);
    expect(await stats(stack, sale.id)).toMatchObject({ paying: 1, available: 0 });
    expect(stack.standIn.charges()).toEqual([]);

    await setFaults(stack, null);
    expect((await stack.admin('POST', `/v1/admin/dead-letters/${encodeURIComponent(dl.id)}/replay`)).status).toBe(202);
    expect(await b.next('order_confirmed', 20_000)).toMatchObject({ holdId });
    expect(stack.standIn.charges()).toMatchObject([{ idempotencyKey: `fs-${holdId}-a1` }]);
    expect((await db.query('SELECT 1 FROM orders WHERE hold_id = $1', [holdId])).rowCount).toBe(1);
    expect((await stack.admin('GET', '/v1/admin/dead-letters')).body.deadLetters.map((d: any) => d.holdId)).not.toContain(holdId);
    expect((await stack.admin('POST', `/v1/admin/dead-letters/${encodeURIComponent(dl.id)}/replay`)).status).toBe(404);
    expect(await next.b.next('sold_out', 15_000)).toMatchObject({ type: 'sold_out' });
    await expectCleanAudit(stack, sale.id, { sold: 1, orders: 1 });

    const text = await workerMetrics();
    expect(text).toMatch(new RegExp(`^${METRIC.deadLetters} [1-9]`, 'm'));
    expect(text).toMatch(new RegExp(`^${METRIC.paymentRetries} [3-9]`, 'm'));
  }, 60_000);
});

describe('Stripe webhooks', () => {
  const post = (body: string, signature: string) => fetch(stack.url('/v1/stripe/webhook'), { method: 'POST', body, headers: { 'stripe-signature': signature, 'content-type': 'application/json' } });
  const signer = new Stripe('sk_test_signer');

  it('a wrong or missing signature is refused with 400 in the error shape and changes nothing', async () => {
    const body = JSON.stringify({ id: 'evt_forged', type: 'payment_intent.succeeded', data: { object: { id: 'pi_x', metadata: {} } } });
    for (const signature of ['', 't=1,v1=deadbeef', signer.webhooks.generateTestHeaderString({ payload: body, secret: 'whsec_someone_else' })]) {
      const res = await post(body, signature);
      expect(res.status).toBe(400);
      expect(await res.json()).toMatchObject({ error: { code: 'invalid_request', message: expect.any(String) } });
    }
    const ok = await post(body, signer.webhooks.generateTestHeaderString({ payload: body, secret: WEBHOOK_SECRET }));
    expect(ok.status).toBe(200);
  });

  it('the webhook alone finishes a payment whose answers never reach the worker: one order, one charge', async () => {
    const sale = await createSale(stack, { stock: 1, pools: 1 });
    const { b, holdId } = await buyers.holding(sale.id);
    // The events that finished it: the authorisation's (order, buyer told) and the capture's own.
    const finishedByWebhook = async () => {
      const text = await workerMetrics();
      return metricValue(text, METRIC.webhookEvents, 'result="sold"') + metricValue(text, METRIC.webhookEvents, 'result="captured"');
    };
    const before = await finishedByWebhook();
    // Every answer is lost after the work is done: only the stand-in's signed events tell us.
    await setFaults(stack, { dropAfterChargeRate: 1 });
    b.send({ type: 'pay', holdId, paymentMethod: 'pm_card_visa' });
    expect(await b.next('order_confirmed', 20_000)).toMatchObject({ holdId });
    expect(stack.standIn.charges().filter((c) => c.metadata.holdId === holdId)).toHaveLength(1);
    // The capture's answer is lost too: the authorisation event's handler tells the buyer, then its
    // capture failure goes to that event's retry (one retry layer per entry, same key); the capture's
    // own event (payment_intent.succeeded) marks the order captured.
    await expect.poll(async () => (await db.query('SELECT capture_status FROM orders WHERE hold_id = $1', [holdId])).rows, { timeout: 15_000 })
      .toEqual([{ capture_status: 'captured' }]);
    await expect.poll(finishedByWebhook, { timeout: 5000 }).toBeGreaterThan(before);
    await setFaults(stack, null);
    await expectCleanAudit(stack, sale.id, { sold: 1, orders: 1 });
  }, 60_000);

  it('the worker exports every settlement metric of the shared list', async () => {
    const text = await workerMetrics();
    for (const name of [METRIC.paymentAttempts, METRIC.paymentRetries, METRIC.deadLetters, METRIC.reconciliationFixes, METRIC.captures,
      METRIC.outboxPublished, METRIC.outboxPending, METRIC.webhookEvents, METRIC.providerLatency, METRIC.orders]) {
      expect(text, name).toContain(`# TYPE ${name} `);
    }
    expect(text).toMatch(/^fs_payment_provider_latency_seconds_bucket\{le="[^"]+",call="authorise"\}/m);
  });
});
