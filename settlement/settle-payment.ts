import { metrics } from '../shared/metrics.js';
import type { PaymentJob } from './payment-job.js';
import { abandon, cancelOpenIntent, completeStoredOrder, finishAuthorised, finishNeedsAction, finishRefused, finishSoldOut, type SagaDeps } from './saga.js';
import { PAID, type Intent } from './payment-provider.js';
import { SOLD_OUT, type AttemptRow } from './payment-store.js';

export type SettleDeps = SagaDeps;

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

/** A transient condition of our own (not the provider's): the job retries like after a 5xx. */
export class NotYet extends Error {
  override name = 'NotYet';
}

/**
 * One payment job, safe to run any number of times: the attempt row (and its idempotency key) is
 * stored first, the provider call reuses that key, and the saga's later steps are compare-and-set in
 * Postgres and idempotent in Redis. Transient failures throw so BullMQ retries with backoff.
 */
export async function settlePayment(d: SettleDeps, j: PaymentJob): Promise<'sold' | 'declined' | 'compensated' | 'sold_out'> {
  const { row: a, created, buyerOrders } = await d.store.ensureAttempt(j);

  // Refused by the ledger's stock fence on an earlier run, which may have died before cancelling the
  // authorisation or closing the hold: repeat those steps, never the hold's way back to retryable.
  if (a.status === 'failed' && a.failure_reason === SOLD_OUT) return finishSoldOut(d, a, a.payment_intent_id, false);
  if (a.status === 'failed') {
    // A rerun after a requires_action confirmation whose cancel failed: cancel before the hold goes back.
    await cancelOpenIntent(d, a);
    await finishRefused(d, a, a.failure_reason ?? 'payment_failed', null);
    return 'declined';
  }
  if (a.status === 'succeeded') return afterOrder(d, a);

  // Only the attempt the hold is paying for now may charge: a job of an attempt that was given up
  // (its hold is back to held, or paying for a newer attempt) must not take money a second time.
  const hold = await d.inventory.getHold(j.saleId, j.holdId);
  // No hold at all: Redis lost the pool and the gateway has not rebuilt it from the ledger yet.
  if (!hold) throw new NotYet(`hold ${j.holdId} not in Redis (yet)`);
  if (hold.state !== 'paying' || hold.attempts !== j.attemptNo) {
    // A webhook or reconciliation may have finished this very attempt since it was read.
    const now = await d.store.attemptByKey(a.idempotency_key);
    if (now?.status === 'succeeded') return afterOrder(d, now);
    d.log.warn({ sale: j.saleId, holdId: j.holdId, attempt: j.attemptNo, hold: hold.state, holdAttempt: hold.attempts }, 'payment job no longer current: not charged');
    await abandon(d, a, 'superseded', !created);
    return 'declined';
  }
  // Defence in depth behind the waiting room: never charge past the per-buyer limit (the buyer's
  // other orders were read with the attempt row, in the same round trip).
  if (buyerOrders >= j.perBuyerLimit) {
    await abandon(d, a, 'limit_reached', !created, false);
    return 'declined';
  }

  let pi: Intent;
  let paymentIntentId = a.payment_intent_id;
  try {
    // Step 1: create the intent (unconfirmed: nothing authorised) unless an earlier run stored it, store
    // its id on the attempt, then confirm it. Every run sends the same two keys, so a retry after any
    // crash or lost answer is the same request.
    if (paymentIntentId === null) {
      const created = await d.provider.create(j, a.idempotency_key);
      // Returned, not awaited: its failures are not the provider's refusal, so they must not reach the catch.
      if (!(await d.store.recordIntent(a.id, created.id))) return decidedMeanwhile(d, a);
      paymentIntentId = created.id;
    }
    pi = await d.provider.confirm(paymentIntentId, a.idempotency_key);
  } catch (err) {
    const reason = permanentRefusal(err);
    if (reason === null) {
      metrics.paymentAttempts.inc({ result: 'error' });
      throw err;
    }
    const piId = (err as { raw?: { payment_intent?: { id?: string } } }).raw?.payment_intent?.id ?? paymentIntentId;
    await finishRefused(d, a, reason, piId);
    return 'declined';
  }
  // The issuer asks for the buyer's 3D Secure challenge, which this flow cannot show: refused, intent cancelled.
  if (pi.status === 'requires_action') {
    await finishNeedsAction(d, a, pi.id);
    return 'declined';
  }
  if (!PAID.includes(pi.status)) throw new Error(`payment intent ${pi.id} is ${pi.status} after confirmation`);
  return finishAuthorised(d, a, pi.id);
}

/**
 * The attempt was decided while its intent was being created (reconciliation gave it up, or a webhook
 * finished it): that decision stands. The new intent was never confirmed, so it holds no money.
 */
async function decidedMeanwhile(d: SettleDeps, a: AttemptRow): Promise<'sold' | 'declined' | 'sold_out'> {
  const now = await d.store.attemptByKey(a.idempotency_key);
  if (now?.status === 'succeeded') return afterOrder(d, now);
  // Refused by the stock fence (a webhook or reconciliation met its authorisation first): its steps,
  // never the hold's way back to retryable.
  if (now?.status === 'failed' && now.failure_reason === SOLD_OUT) return finishSoldOut(d, now, now.payment_intent_id, false);
  if (now?.status === 'failed') {
    await finishRefused(d, now, now.failure_reason ?? 'payment_failed', null);
    return 'declined';
  }
  throw new Error(`attempt ${a.id} is pending with another PaymentIntent (${now?.payment_intent_id ?? 'none'})`);
}

/** A rerun after the order was stored: repeat the steps after it (each is idempotent). */
async function afterOrder(d: SettleDeps, a: AttemptRow): Promise<'sold'> {
  if (!(await completeStoredOrder(d, a))) throw new Error(`attempt ${a.id} succeeded but hold ${a.hold_id} has no order`);
  return 'sold';
}
