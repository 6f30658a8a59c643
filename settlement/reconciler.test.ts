import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { Worker, type Queue } from 'bullmq';
import { createPaymentQueue, enqueuePayment, PAYMENT_JOB_OPTIONS, PAYMENTS_QUEUE, paymentJobId, queuePrefix, type PaymentJob } from './payment-job.js';
import { createRedis } from '../shared/redis.js';
import { redisUrl } from '../tests/helpers/env.js';
import { Reconciler, type ReconcilerOptions } from './reconciler.js';
import { settlementFixture } from '../tests/helpers/settlement-fixture.js';
import { redisNow, waitPast } from '../inventory/lua-test-support.js';

// Reconciliation against real Redis, Postgres (a database of this file's own) and the stand-in.
// Each case builds the half-finished state a crash or a lost job leaves behind, then runs one pass.
const f = settlementFixture();
let payments: Queue<PaymentJob>;
beforeAll(() => {
  payments = createPaymentQueue(f.s.redis, f.s.prefix);
});
afterAll(() => payments.close());

function reconciler(o: Partial<ReconcilerOptions> = {}): Reconciler {
  return new Reconciler(f.deps, f.s.db, payments, {
    afterMs: 0, deadLetterReleaseMs: 0,
    listSales: async () => (await f.s.sales.list()).map((s) => ({ id: s.id, pools: s.pools })),
    ...o,
  });
}

/** Puts a job for `job` straight into the failed set, as after its last retry. */
async function deadLetter(job: PaymentJob): Promise<void> {
  const id = paymentJobId(job.holdId, job.attemptNo);
  const connection = createRedis(redisUrl(), { subscriber: true });
  const worker = new Worker<PaymentJob>(PAYMENTS_QUEUE, async () => {
    throw new Error('provider down');
  }, { connection, prefix: queuePrefix(f.s.prefix) });
  const failed = new Promise<void>((resolve) => worker.on('failed', (j) => j?.id === id && resolve()));
  await payments.add('pay', job, { ...PAYMENT_JOB_OPTIONS, attempts: 1, jobId: id });
  await failed;
  await worker.close();
  connection.disconnect();
  expect(await (await payments.getJob(id))!.getState()).toBe('failed');
}

/** A payment whose job is gone after storing its attempt (and, if `authorised`, after the provider said yes). */
async function lostPayment(authorised: boolean, paymentMethod = 'pm_card_visa') {
  const { saleId, job } = await f.payingHold({ paymentMethod });
  const { row } = await f.deps.store.ensureAttempt(job);
  if (authorised) await f.deps.provider.authorise(job, row.idempotency_key);
  return { saleId, job, row };
}

describe('reconciliation', () => {
  it('a sold-out refusal whose run died before Redis: authorisation cancelled, hold released, buyer told not retryable', async () => {
    const { saleId, job } = await f.resoldHold();
    const { row } = await f.deps.store.ensureAttempt(job);
    const pi = await f.deps.provider.authorise(job, row.idempotency_key);
    // The statement refused the unit and committed; the process died before anything else.
    expect(await f.deps.store.commitOrder(row, pi.id)).toEqual({ kind: 'sold_out', decided: true });
    expect(await f.s.inventory.getHold(saleId, job.holdId)).toMatchObject({ state: 'paying' });
    expect((await reconciler().pass()).sold_out).toBeGreaterThanOrEqual(1);
    expect((await f.deps.provider.stripe.paymentIntents.retrieve(pi.id)).status).toBe('canceled');
    expect(await f.s.inventory.getHold(saleId, job.holdId)).toMatchObject({ state: 'released' });
    expect(await f.frame(saleId, job.buyer, 'payment_failed')).toEqual({ type: 'payment_failed', holdId: job.holdId, reason: 'sold_out', retryable: false });
    expect(f.chargesOf(job.holdId)).toEqual([]);
  });

  it('a pending attempt authorised at the provider, no job left, and no unit left in the ledger: sold out, not ordered', async () => {
    const { saleId, job } = await f.resoldHold();
    const { row } = await f.deps.store.ensureAttempt(job);
    const pi = await f.deps.provider.authorise(job, row.idempotency_key);
    expect((await reconciler().pass()).sold_out).toBeGreaterThanOrEqual(1);
    expect(await f.ordersOf(job.holdId)).toEqual([]);
    expect(await f.deps.store.attemptOf(job.holdId, 1)).toMatchObject({ status: 'failed', failure_reason: 'sold_out' });
    expect((await f.deps.provider.stripe.paymentIntents.retrieve(pi.id)).status).toBe('canceled');
    expect(await f.frame(saleId, job.buyer, 'payment_failed')).toMatchObject({ reason: 'sold_out', retryable: false });
  });

  it('a pending attempt authorised at the provider with no job left: order written, captured, hold sold, buyer told', async () => {
    const { saleId, job } = await lostPayment(true);
    const fixes = await reconciler().pass();
    expect(fixes.ordered).toBeGreaterThanOrEqual(1);
    expect(await f.ordersOf(job.holdId)).toMatchObject([{ capture_status: 'captured' }]);
    expect(f.chargesOf(job.holdId)).toHaveLength(1);
    expect(await f.s.inventory.getHold(saleId, job.holdId)).toMatchObject({ state: 'sold' });
    await f.frame(saleId, job.buyer, 'order_confirmed');
    // A second pass finds nothing left to do for it.
    await reconciler().pass();
    expect(f.chargesOf(job.holdId)).toHaveLength(1);
    expect(f.framesTo(saleId, job.buyer).filter((x) => x.type === 'order_confirmed')).toHaveLength(1);
  });

  it('a pending attempt the provider never saw: failed, the hold back to its buyer (retryable), nothing charged', async () => {
    const { saleId, job } = await lostPayment(false);
    expect((await reconciler().pass()).released).toBeGreaterThanOrEqual(1);
    expect((await f.deps.store.attemptOf(job.holdId, 1))).toMatchObject({ status: 'failed', failure_reason: 'payment_not_completed' });
    expect(await f.s.inventory.getHold(saleId, job.holdId)).toMatchObject({ state: 'held' });
    expect(await f.frame(saleId, job.buyer, 'payment_failed')).toMatchObject({ retryable: true });
    expect(f.chargesOf(job.holdId)).toEqual([]);
  });

  it('a declined attempt whose job died before recording it: refused with the decline code', async () => {
    const { saleId, job, row } = await lostPayment(false, 'pm_card_chargeDeclined');
    await f.deps.provider.authorise(job, row.idempotency_key).catch(() => {});
    expect((await reconciler().pass()).refused).toBeGreaterThanOrEqual(1);
    expect((await f.deps.store.attemptOf(job.holdId, 1))).toMatchObject({ status: 'failed', failure_reason: 'generic_decline' });
    expect(await f.s.inventory.getHold(saleId, job.holdId)).toMatchObject({ state: 'held' });
  });

  it('finds the intent by the id stored on the attempt, without a search', async () => {
    const { saleId, job, row } = await lostPayment(false);
    const pi = await f.deps.provider.create(job, row.idempotency_key);
    expect(await f.deps.store.recordIntent(row.id, pi.id)).toBe(true);
    await f.deps.provider.confirm(pi.id, row.idempotency_key);
    const search = vi.spyOn(f.deps.provider.stripe.paymentIntents, 'search');
    try {
      expect((await reconciler().pass()).ordered).toBeGreaterThanOrEqual(1);
      expect(search).not.toHaveBeenCalled();
    } finally {
      search.mockRestore();
    }
    expect(await f.ordersOf(job.holdId)).toMatchObject([{ capture_status: 'captured' }]);
    expect(await f.s.inventory.getHold(saleId, job.holdId)).toMatchObject({ state: 'sold' });
  });

  it('an intent created and stored but never confirmed (the job died in between): given up, the intent cancelled, the hold back', async () => {
    const { saleId, job, row } = await lostPayment(false);
    const pi = await f.deps.provider.create(job, row.idempotency_key);
    await f.deps.store.recordIntent(row.id, pi.id);
    expect((await reconciler().pass()).released).toBeGreaterThanOrEqual(1);
    expect(await f.deps.store.attemptOf(job.holdId, 1)).toMatchObject({ status: 'failed', failure_reason: 'payment_not_completed' });
    expect((await f.deps.provider.stripe.paymentIntents.retrieve(pi.id)).status).toBe('canceled');
    expect(await f.s.inventory.getHold(saleId, job.holdId)).toMatchObject({ state: 'held' });
    // A late rerun of the job charges nothing: its attempt is decided.
    expect(f.chargesOf(job.holdId)).toEqual([]);
  });

  it('a pending attempt whose confirmation stopped in requires_action and whose job died: failed, intent cancelled, hold back', async () => {
    const { saleId, job, row } = await lostPayment(false, 'pm_card_threeDSecure2Required');
    const pi = await f.deps.provider.create(job, row.idempotency_key);
    await f.deps.store.recordIntent(row.id, pi.id);
    expect((await f.deps.provider.confirm(pi.id, row.idempotency_key)).status).toBe('requires_action');
    expect((await reconciler().pass()).needs_action).toBe(1);
    expect(await f.deps.store.attemptOf(job.holdId, 1)).toMatchObject({ status: 'failed', failure_reason: 'requires_action', open_intent_id: null });
    expect((await f.deps.provider.stripe.paymentIntents.retrieve(pi.id)).status).toBe('canceled');
    expect(await f.s.inventory.getHold(saleId, job.holdId)).toMatchObject({ state: 'held' });
    expect(await f.frame(saleId, job.buyer, 'payment_failed')).toMatchObject({ reason: 'requires_action' });
  });

  /** An attempt failed for requires_action whose cancel never happened (the worker died just after the compare-and-set). */
  async function uncancelled3ds(holdSeconds = 60) {
    const { saleId, job } = await f.payingHold({ paymentMethod: 'pm_card_threeDSecure2Required', holdSeconds });
    const { row } = await f.deps.store.ensureAttempt(job);
    const pi = await f.deps.provider.authorise(job, row.idempotency_key);
    expect(await f.deps.store.markNeedsAction(row.id, pi.id)).toBe(true);
    return { saleId, job, row, pi };
  }

  it('a requires_action intent left open while its hold is still paying: cancelled before the hold is given back', async () => {
    const { saleId, job, pi } = await uncancelled3ds();
    expect((await reconciler().pass()).given_back).toBeGreaterThanOrEqual(1);
    expect((await f.deps.provider.stripe.paymentIntents.retrieve(pi.id)).status).toBe('canceled');
    expect(await f.s.inventory.getHold(saleId, job.holdId)).toMatchObject({ state: 'held' });
  });

  it('a requires_action intent left open after its hold ended (expired): reconciliation cancels it — the challenge can no longer complete it', async () => {
    const { saleId, job, pi } = await uncancelled3ds(1);
    // The hold ended without the cancel: its deadline passed and it went back.
    await waitPast(f.s.redis, (await f.s.inventory.getHold(saleId, job.holdId))!.deadline);
    expect((await f.s.inventory.payFailed(saleId, job.holdId, 1)).state).toBe('expired');
    expect((await reconciler().pass()).intent_canceled).toBe(1);
    expect((await f.deps.provider.stripe.paymentIntents.retrieve(pi.id)).status).toBe('canceled');
    expect(await f.deps.store.attemptOf(job.holdId, 1)).toMatchObject({ open_intent_id: null });
    const completed = await fetch(`${f.standIn.url}/_stand-in/payment_intents/${pi.id}/authenticate`, { method: 'POST', body: '{}' });
    expect(completed.status).toBe(409);
    expect((await reconciler().pass()).intent_canceled).toBeUndefined();
    expect(f.chargesOf(job.holdId)).toEqual([]);
  });

  it('leaves alone a payment whose job a worker will still run, and one younger than the threshold', async () => {
    const { saleId, job } = await lostPayment(true);
    await enqueuePayment(payments, job);
    await reconciler().pass();
    await reconciler({ afterMs: 3_600_000 }).pass();
    expect((await f.deps.store.attemptOf(job.holdId, 1))?.status).toBe('pending');
    expect(await f.s.inventory.getHold(saleId, job.holdId)).toMatchObject({ state: 'paying' });
    await (await payments.getJob(paymentJobId(job.holdId, 1)))?.remove();
  });

  it('a dead letter that never reached the provider waits for an operator, then its hold is given back', async () => {
    const { saleId, job } = await lostPayment(false);
    await deadLetter(job);
    await reconciler({ deadLetterReleaseMs: 3_600_000 }).pass();
    expect(await f.s.inventory.getHold(saleId, job.holdId)).toMatchObject({ state: 'paying' });
    await reconciler({ deadLetterReleaseMs: 0 }).pass();
    expect(await f.s.inventory.getHold(saleId, job.holdId)).toMatchObject({ state: 'held' });
    expect(await payments.getJob(paymentJobId(job.holdId, 1))).toBeUndefined();
  });

  it('a dead letter whose money was authorised is finished as an order at once', async () => {
    const { saleId, job } = await lostPayment(true);
    await deadLetter(job);
    await reconciler({ deadLetterReleaseMs: 3_600_000 }).pass();
    expect(await f.ordersOf(job.holdId)).toHaveLength(1);
    expect(await f.s.inventory.getHold(saleId, job.holdId)).toMatchObject({ state: 'sold' });
  });

  it('a hold left paying after the order was stored (crash before Redis): sold, buyer told once', async () => {
    const { saleId, job, row } = await lostPayment(true);
    const pi = await f.deps.provider.authorise(job, row.idempotency_key);
    await f.deps.store.commitOrder(row, pi.id);
    expect((await reconciler().pass()).sold_in_redis).toBeGreaterThanOrEqual(1);
    expect(await f.s.inventory.getHold(saleId, job.holdId)).toMatchObject({ state: 'sold' });
    await f.frame(saleId, job.buyer, 'order_confirmed');
  });

  it('a hold left paying after its attempt failed (crash before Redis): given back', async () => {
    const { saleId, job, row } = await lostPayment(false);
    await f.deps.store.markFailed(row.id, 'generic_decline', null);
    expect((await reconciler().pass()).given_back).toBeGreaterThanOrEqual(1);
    expect(await f.s.inventory.getHold(saleId, job.holdId)).toMatchObject({ state: 'held' });
  });

  it('a hold paying with no attempt stored and no job (the enqueue was lost): the payment never started, hold back', async () => {
    const { saleId, job } = await f.payingHold();
    expect((await reconciler().pass()).never_started).toBeGreaterThanOrEqual(1);
    expect(await f.s.inventory.getHold(saleId, job.holdId)).toMatchObject({ state: 'held' });
    expect(await f.frame(saleId, job.buyer, 'payment_failed')).toMatchObject({ reason: 'payment_not_started', retryable: true });
  });

  it('one reconciler at a time: a second pass while the first holds the lock does nothing', async () => {
    await Promise.all(Array.from({ length: 5 }, () => lostPayment(true)));
    const [a, b] = await Promise.all([reconciler().pass(), reconciler().pass()]);
    const total = (x: Record<string, number>) => Object.values(x).reduce((s, n) => s + n, 0);
    expect(Math.min(total(a), total(b))).toBe(0);
    expect(Math.max(a.ordered ?? 0, b.ordered ?? 0)).toBeGreaterThanOrEqual(5);
  });
});

describe('reconciliation on a worker whose clock is wrong', () => {
  // Only Date is faked: this process's clock is off by an hour, Redis' is not.
  afterEach(() => vi.useRealTimers());
  const skew = (ms: number) => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(Date.now() + ms);
  };
  const onlySale = (saleId: string) => ({ listSales: async () => [{ id: saleId, pools: 1 }] });

  it('an hour ahead: a payment that has only just begun (its job not queued yet) is not given back', async () => {
    const { saleId, job } = await f.payingHold();
    skew(3_600_000);
    const fixes = await reconciler({ afterMs: 10_000, ...onlySale(saleId) }).pass();
    expect(fixes.never_started).toBeUndefined();
    expect(await f.s.inventory.getHold(saleId, job.holdId)).toMatchObject({ state: 'paying' });
    expect(f.framesTo(saleId, job.buyer)).toEqual([]);
  });

  it('an hour behind: a payment stuck for longer than the threshold is still found and finished', async () => {
    const { saleId, job } = await f.payingHold();
    await waitPast(f.s.redis, (await redisNow(f.s.redis)) + 300);
    skew(-3_600_000);
    const fixes = await reconciler({ afterMs: 250, ...onlySale(saleId) }).pass();
    expect(fixes.never_started).toBe(1);
    expect(await f.s.inventory.getHold(saleId, job.holdId)).toMatchObject({ state: 'held' });
  });
});
