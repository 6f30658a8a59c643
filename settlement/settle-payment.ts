import type Stripe from 'stripe';
import type { Logger } from '../shared/logger.js';
import type { RedisClient } from '../shared/redis.js';
import { metrics } from '../shared/metrics.js';
import type { Inventory } from '../inventory/inventory-service.js';
import { SaleEvents } from '../admission/sale-events.js';
import { recordOrder } from '../admission/waiting-room.js';
import { idempotencyKey, type PaymentJob } from './payment-job.js';
import { PaymentStore } from './payment-store.js';

export interface SettleDeps {
  redis: RedisClient;
  prefix: string;
  inventory: Inventory;
  store: PaymentStore;
  stripe: Stripe;
  log: Logger;
}

/**
 * Why the provider refused for good, or null when the failure is transient and the job retries with
 * the same idempotency key. One place decides; each branch says why.
 */
export function permanentRefusal(err: unknown): string | null {
  const e = err as { type?: string; decline_code?: string; code?: string; statusCode?: number };
  // The card was declined: the same request will be declined again; the buyer may use another card.
  if (e?.type === 'StripeCardError') return e.decline_code ?? e.code ?? 'card_declined';
  // The request itself is wrong for this buyer (unknown or unusable PaymentMethod): retrying cannot
  // help, and waiting would pin the unit past its deadline.
  if (e?.type === 'StripeInvalidRequestError' && (e.statusCode === 400 || e.statusCode === 404)) return e.code ?? 'invalid_payment_method';
  // Everything else — timeouts, connection errors, 409 key in use, 429, 5xx, and our own bugs
  // (authentication, idempotency mismatch) — retries, then lands in the dead-letter queue for people.
  return null;
}

/**
 * One payment attempt, safe to run any number of times for the same job: the attempt row (and its
 * idempotency key) is stored first, the provider call reuses that key, the order is written under
 * UNIQUE(hold_id), and every Redis step is idempotent. Transient failures throw so BullMQ retries.
 */
export async function settlePayment(d: SettleDeps, j: PaymentJob): Promise<'sold' | 'declined'> {
  const events = new SaleEvents(d.redis, d.prefix);
  const attempt = await d.store.ensureAttempt(j);

  if (attempt.status === 'failed') {
    await declined(d, events, j, 'card_declined');
    return 'declined';
  }
  let paymentIntentId = attempt.status === 'succeeded' ? attempt.payment_intent_id : null;
  if (!paymentIntentId) {
    // Only the attempt the hold is paying for now may charge: a job of an attempt that was given up
    // (its hold is back to held, or paying for a newer attempt) must not take money a second time.
    const hold = await d.inventory.getHold(j.saleId, j.holdId);
    if (!hold || hold.state !== 'paying' || hold.attempts !== j.attemptNo) {
      await d.store.markFailed(attempt.id, 'superseded', null);
      metrics.paymentAttempts.inc({ result: 'superseded' });
      d.log.warn({ sale: j.saleId, holdId: j.holdId, attempt: j.attemptNo, hold: hold?.state, holdAttempt: hold?.attempts }, 'payment job no longer current: not charged');
      return 'declined';
    }
    // Defence in depth behind the waiting room: never charge past the per-buyer limit.
    if ((await d.store.orderOfHold(j.holdId)) === null && (await d.store.buyerOrders(j.saleId, j.buyer)) >= j.perBuyerLimit) {
      await d.store.markFailed(attempt.id, 'limit_reached', null);
      metrics.paymentAttempts.inc({ result: 'limit_reached' });
      await declined(d, events, j, 'limit_reached', false);
      return 'declined';
    }
    const started = process.hrtime.bigint();
    try {
      const pi = await d.stripe.paymentIntents.create(
        {
          amount: j.amount,
          currency: j.currency,
          payment_method: j.paymentMethod,
          confirm: true,
          automatic_payment_methods: { enabled: true, allow_redirects: 'never' },
          metadata: { holdId: j.holdId, saleId: j.saleId, buyerId: j.buyer, attemptNo: String(j.attemptNo) },
        },
        { idempotencyKey: idempotencyKey(j.holdId, j.attemptNo) },
      );
      if (pi.status !== 'succeeded') throw new Error(`payment intent ${pi.id} is ${pi.status}, expected succeeded`);
      paymentIntentId = pi.id;
      metrics.paymentAttempts.inc({ result: 'succeeded' });
    } catch (err) {
      const reason = permanentRefusal(err);
      if (reason === null) {
        metrics.paymentAttempts.inc({ result: 'error' });
        throw err;
      }
      const piId = (err as { raw?: { payment_intent?: { id?: string } } }).raw?.payment_intent?.id ?? null;
      await d.store.markFailed(attempt.id, reason, piId);
      metrics.paymentAttempts.inc({ result: 'declined' });
      await declined(d, events, j, reason);
      return 'declined';
    } finally {
      metrics.providerLatency.observe({ call: 'authorise' }, Number(process.hrtime.bigint() - started) / 1e9);
    }
  }

  const { orderId, created } = await d.store.writeOrder(j, attempt.id, paymentIntentId);
  if (created) metrics.orders.inc();
  // The buyer's order count first, then the hold: whoever sees the hold sold also sees the count.
  await recordOrder(d.redis, d.prefix, j.saleId, j.buyer, j.holdId);
  await d.inventory.settle(j.saleId, j.holdId, orderId);
  await events.toBuyer(j.saleId, j.buyer, { type: 'order_confirmed', holdId: j.holdId, orderId });
  d.log.info({ sale: j.saleId, holdId: j.holdId, orderId, attempt: j.attemptNo }, 'order confirmed');
  return 'sold';
}

async function declined(d: SettleDeps, events: SaleEvents, j: PaymentJob, reason: string, retryableIfHeld = true): Promise<void> {
  const state = await d.inventory.payFailed(j.saleId, j.holdId);
  const retryable = retryableIfHeld && state === 'held';
  if (!retryableIfHeld && state === 'held') await d.inventory.release(j.saleId, j.holdId, '');
  await events.toBuyer(j.saleId, j.buyer, { type: 'payment_failed', holdId: j.holdId, reason, retryable });
  if (state === 'expired') await events.toBuyer(j.saleId, j.buyer, { type: 'hold_expired', holdId: j.holdId });
}
