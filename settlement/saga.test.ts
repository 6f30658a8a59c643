import { describe, expect, it } from 'vitest';
import { settlePayment } from './settle-payment.js';
import { abandon, finishAuthorised } from './saga.js';
import { handleStripeEvent } from './stripe-events.js';
import { idempotencyKey, paymentBackoff } from './payment-job.js';
import { settlementFixture } from '../tests/helpers/settlement-fixture.js';
import { metrics } from '../shared/metrics.js';

// The saga's steps and compensations against real Redis, Postgres and the stand-in (through the SDK).
const f = settlementFixture();
const intentOf = (id: string) => f.deps.provider.stripe.paymentIntents.retrieve(id);

describe('saga: authorise → order + outbox → capture → hold sold', () => {
  it('a confirmed order is captured money: the charge exists before the buyer is told', async () => {
    const { saleId, job } = await f.payingHold();
    expect(await settlePayment(f.deps, job)).toBe('sold');
    const [order] = await f.ordersOf(job.holdId);
    expect(order).toMatchObject({ capture_status: 'captured' });
    const [charge] = f.chargesOf(job.holdId);
    expect(charge).toMatchObject({ idempotencyKey: idempotencyKey(job.holdId, 1) });
    expect((await intentOf(charge!.paymentIntent)).capture_method).toBe('manual');
    await f.frame(saleId, job.buyer, 'order_confirmed');
    expect(f.framesTo(saleId, job.buyer)).toEqual([{ type: 'order_confirmed', holdId: job.holdId, orderId: order!.id }]);
  });

  it('compensation: an authorisation for an attempt already given up is cancelled, no order, no charge', async () => {
    const { saleId, job } = await f.payingHold();
    const { row } = await f.deps.store.ensureAttempt(job);
    // The provider authorises, but before the answer is used the attempt is given up (reconciliation).
    const pi = await f.deps.provider.authorise(job, row.idempotency_key);
    expect(pi.status).toBe('requires_capture');
    await abandon(f.deps, row, 'payment_not_completed', false);
    expect(await finishAuthorised(f.deps, row, pi.id)).toBe('compensated');
    expect((await intentOf(pi.id)).status).toBe('canceled');
    expect(await f.ordersOf(job.holdId)).toEqual([]);
    expect(f.chargesOf(job.holdId)).toEqual([]);
    expect(await f.s.inventory.getHold(saleId, job.holdId)).toMatchObject({ state: 'held' });
    expect(f.framesTo(saleId, job.buyer)).toEqual([{ type: 'payment_failed', holdId: job.holdId, reason: 'payment_not_completed', retryable: true }]);
  });

  it('giving up an attempt another path already ordered cancels nothing: the order and its authorisation stand', async () => {
    const { saleId, job } = await f.payingHold();
    const { row } = await f.deps.store.ensureAttempt(job);
    const pi = await f.deps.provider.authorise(job, row.idempotency_key);
    // A webhook stored the order (not yet captured) while the job was deciding to give the attempt up.
    expect(await f.deps.store.commitOrder(row, pi.id)).toMatchObject({ kind: 'ordered' });
    await abandon(f.deps, row, 'limit_reached', true, false);
    expect((await intentOf(pi.id)).status).toBe('requires_capture');
    expect((await f.deps.store.attemptByKey(row.idempotency_key))?.status).toBe('succeeded');
    expect(await f.ordersOf(job.holdId)).toHaveLength(1);
    expect(await f.s.inventory.getHold(saleId, job.holdId)).toMatchObject({ state: 'paying' });
  });

  it('an authorisation for a hold already ordered through another payment is cancelled; that order stands', async () => {
    const { job } = await f.payingHold();
    const { row: first } = await f.deps.store.ensureAttempt(job);
    const paid = await f.deps.provider.authorise(job, first.idempotency_key);
    expect(await f.deps.store.commitOrder(first, paid.id)).toMatchObject({ kind: 'ordered', created: true });
    // A second attempt row for the same hold (only a bug could make one) authorised as well.
    const { row: second } = await f.deps.store.ensureAttempt({ ...job, attemptNo: 2 });
    const stray = await f.deps.provider.authorise({ ...job, attemptNo: 2 }, second.idempotency_key);
    expect(await finishAuthorised(f.deps, second, stray.id)).toBe('compensated');
    expect((await intentOf(stray.id)).status).toBe('canceled');
    expect((await f.s.db.query('SELECT payment_intent_id FROM orders WHERE hold_id = $1', [job.holdId])).rows).toEqual([{ payment_intent_id: paid.id }]);
  });

  it('a failed capture keeps the order (marked), the buyer is told, the failure goes up to the retry layer, and its next try takes the money once', async () => {
    const { saleId, job } = await f.payingHold();
    const { row } = await f.deps.store.ensureAttempt(job);
    const pi = await f.deps.provider.authorise(job, row.idempotency_key);
    await f.setFaults({ errorRate: 1 });
    try {
      // One capture request, no loop of its own: the 500 reaches the caller (the job retries it).
      await expect(finishAuthorised(f.deps, row, pi.id)).rejects.toMatchObject({ type: 'StripeAPIError', statusCode: 500 });
    } finally {
      await f.setFaults({});
    }
    expect(await f.ordersOf(job.holdId)).toMatchObject([{ capture_status: 'failed' }]);
    expect(f.chargesOf(job.holdId)).toEqual([]);
    expect(await f.s.inventory.getHold(saleId, job.holdId)).toMatchObject({ state: 'sold' });
    await f.frame(saleId, job.buyer, 'order_confirmed');
    // The job runs again (or reconciliation): the capture goes through with the same key.
    expect(await settlePayment(f.deps, job)).toBe('sold');
    expect(await f.ordersOf(job.holdId)).toMatchObject([{ capture_status: 'captured' }]);
    expect(f.chargesOf(job.holdId)).toHaveLength(1);
    expect(f.framesTo(saleId, job.buyer).filter((x) => x.type === 'order_confirmed')).toHaveLength(1);
  });

  it('a job that died after the provider answered reruns into the same PaymentIntent: one authorisation, one charge', async () => {
    const { job } = await f.payingHold();
    const { row } = await f.deps.store.ensureAttempt(job);
    const first = await f.deps.provider.authorise(job, row.idempotency_key);
    expect(await settlePayment(f.deps, job)).toBe('sold');
    expect(await f.ordersOf(job.holdId)).toHaveLength(1);
    expect(f.chargesOf(job.holdId)).toMatchObject([{ paymentIntent: first.id }]);
  });

  it('job, webhook and reconciliation finishing one attempt at once: one order, one charge, one confirmation', async () => {
    const { saleId, job } = await f.payingHold();
    const { row } = await f.deps.store.ensureAttempt(job);
    const pi = await f.deps.provider.authorise(job, row.idempotency_key);
    const webhook = { id: `evt_${job.holdId}`, type: 'payment_intent.amount_capturable_updated', paymentIntent: { id: pi.id, status: pi.status, idempotencyKey: row.idempotency_key, declineCode: null } };
    const results = await Promise.all([
      settlePayment(f.deps, job), handleStripeEvent(f.deps, webhook), finishAuthorised(f.deps, row, pi.id), handleStripeEvent(f.deps, webhook),
    ]);
    expect([results[0], results[2]]).toEqual(['sold', 'sold']);
    // A webhook arriving after the order was captured has nothing left to do.
    for (const r of [results[1], results[3]]) expect(['sold', 'already_decided']).toContain(r);
    expect(await f.ordersOf(job.holdId)).toMatchObject([{ capture_status: 'captured' }]);
    expect(f.chargesOf(job.holdId)).toHaveLength(1);
    const outbox = await f.s.db.query("SELECT 1 FROM outbox WHERE payload->>'holdId' = $1", [job.holdId]);
    expect(outbox.rowCount).toBe(1);
    await f.frame(saleId, job.buyer, 'order_confirmed');
    expect(f.framesTo(saleId, job.buyer).filter((x) => x.type === 'order_confirmed')).toHaveLength(1);
  });

  it('a payment_failed webhook declines the attempt once; a late one about an older attempt leaves the newer paying', async () => {
    const { saleId, job } = await f.payingHold({ paymentMethod: 'pm_card_chargeDeclined' });
    const { row } = await f.deps.store.ensureAttempt(job);
    const failed = { id: 'evt_f1', type: 'payment_intent.payment_failed', paymentIntent: { id: 'pi_x', status: 'requires_payment_method', idempotencyKey: row.idempotency_key, declineCode: 'generic_decline' } };
    expect(await handleStripeEvent(f.deps, failed)).toBe('refused');
    expect(await f.s.inventory.getHold(saleId, job.holdId)).toMatchObject({ state: 'held' });
    const attempt2 = await f.s.inventory.beginPay(saleId, job.holdId, job.buyer);
    expect(await handleStripeEvent(f.deps, { ...failed, id: 'evt_f1_again' })).toBe('already_decided');
    expect(await f.s.inventory.getHold(saleId, job.holdId)).toMatchObject({ state: 'paying', attempts: attempt2 });
    expect(f.framesTo(saleId, job.buyer).filter((x) => x.type === 'payment_failed')).toHaveLength(1);
  });

  it('an event for a payment that is not ours changes nothing', async () => {
    expect(await handleStripeEvent(f.deps, { id: 'evt_other', type: 'payment_intent.succeeded', paymentIntent: { id: 'pi_other', status: 'succeeded', idempotencyKey: null, declineCode: null } })).toBe('unknown');
  });
});

const soldOutCount = async () => (await metrics.paymentAttempts.get()).values.find((v) => v.labels.result === 'sold_out')?.value ?? 0;

describe('the ledger\'s stock fence: Redis gives out a unit the ledger has already sold', () => {
  it('no order; the authorisation is cancelled, never captured; attempt failed sold_out; buyer told payment_failed sold_out, not retryable; hold released', async () => {
    const counted = await soldOutCount();
    const { saleId, job } = await f.resoldHold();
    expect(await settlePayment(f.deps, job)).toBe('sold_out');
    expect(await f.ordersOf(job.holdId)).toEqual([]);
    expect((await f.s.db.query('SELECT 1 FROM orders WHERE sale_id = $1', [saleId])).rowCount).toBe(1);
    const attempt = await f.deps.store.attemptOf(job.holdId, job.attemptNo);
    expect(attempt).toMatchObject({ status: 'failed', failure_reason: 'sold_out' });
    const pi = await intentOf(attempt!.payment_intent_id!);
    expect(pi).toMatchObject({ status: 'canceled', capture_method: 'manual', amount_received: 0 });
    expect(f.chargesOf(job.holdId)).toEqual([]);
    expect(await f.s.inventory.getHold(saleId, job.holdId)).toMatchObject({ state: 'released' });
    await f.frame(saleId, job.buyer, 'payment_failed');
    expect(f.framesTo(saleId, job.buyer)).toEqual([{ type: 'payment_failed', holdId: job.holdId, reason: 'sold_out', retryable: false }]);
    expect(await soldOutCount()).toBe(counted + 1);
  });

  it('the job, a webhook and a rerun meeting one sold-out payment: one refusal, counted once, the buyer told once', async () => {
    const counted = await soldOutCount();
    const { saleId, job } = await f.resoldHold();
    const { row } = await f.deps.store.ensureAttempt(job);
    const pi = await f.deps.provider.authorise(job, row.idempotency_key);
    const webhook = { id: `evt_${job.holdId}`, type: 'payment_intent.amount_capturable_updated', paymentIntent: { id: pi.id, status: pi.status, idempotencyKey: row.idempotency_key, declineCode: null } };
    expect(await Promise.all([settlePayment(f.deps, job), handleStripeEvent(f.deps, webhook), finishAuthorised(f.deps, row, pi.id)])).toEqual(['sold_out', 'sold_out', 'sold_out']);
    // The job again afterwards (a retry after a crash): it repeats the compensation, never a charge.
    expect(await settlePayment(f.deps, job)).toBe('sold_out');
    expect(await f.ordersOf(job.holdId)).toEqual([]);
    expect((await intentOf(pi.id)).status).toBe('canceled');
    expect(f.chargesOf(job.holdId)).toEqual([]);
    expect(await f.s.inventory.getHold(saleId, job.holdId)).toMatchObject({ state: 'released' });
    await f.frame(saleId, job.buyer, 'payment_failed');
    expect(f.framesTo(saleId, job.buyer)).toEqual([{ type: 'payment_failed', holdId: job.holdId, reason: 'sold_out', retryable: false }]);
    expect(await soldOutCount()).toBe(counted + 1);
  });
});

describe('paymentBackoff', () => {
  it('1 s, 2 s, 4 s … capped at 60 s, with up to half taken off at random', () => {
    expect([1, 2, 3, 4, 5, 6, 7, 8, 20].map((n) => paymentBackoff(n, () => 0))).toEqual([1000, 2000, 4000, 8000, 16000, 32000, 60000, 60000, 60000]);
    expect([1, 2, 3, 7].map((n) => paymentBackoff(n, () => 1))).toEqual([500, 1000, 2000, 30000]);
    const spread = new Set(Array.from({ length: 50 }, () => paymentBackoff(3)));
    expect(spread.size).toBeGreaterThan(10);
    for (const d of spread) {
      expect(d).toBeGreaterThanOrEqual(2000);
      expect(d).toBeLessThanOrEqual(4000);
    }
  });
});
