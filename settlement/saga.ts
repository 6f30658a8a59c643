import type { Logger } from '../shared/logger.js';
import type { RedisClient } from '../shared/redis.js';
import { metrics } from '../shared/metrics.js';
import type { Inventory } from '../inventory/inventory-service.js';
import { InventoryError } from '../inventory/errors.js';
import { poolOfHold } from '../inventory/keys.js';
import type { BuyerOutcomes } from './buyer-outcomes.js';
import type { PaymentProvider } from './payment-provider.js';
import { SOLD_OUT, type AttemptRow, type PaymentStore } from './payment-store.js';

/** What giving a hold back needs of an attempt: which hold, whose, and which attempt it was paying for. */
export type HoldRef = Pick<AttemptRow, 'sale_id' | 'hold_id' | 'buyer_id' | 'attempt_no'>;

export interface SagaDeps {
  redis: RedisClient;
  prefix: string;
  inventory: Inventory;
  store: PaymentStore;
  provider: PaymentProvider;
  /** The buyer's side (admission's keys and channel), reached only through this port. */
  buyers: BuyerOutcomes;
  log: Logger;
}

/*
 * The settlement saga, shared by the payment job, Stripe webhooks and reconciliation. Steps and their
 * compensations (docs/settlement.md):
 *   1. authorise (manual capture)        ↔ cancel the authorisation
 *   2. order + outbox, one transaction   ↔ none needed: it only commits if step 1 is ours to keep
 *      (and the ledger's stock fence has a unit in the hold's pool: else sold out, step 1 cancelled)
 *   3. capture                           → on failure the order is marked and reconciliation captures
 *   4. hold sold in Redis, buyer told    (repeatable; reconciliation repeats it after a crash)
 * Every step is idempotent, and every decision about an attempt is a compare-and-set in Postgres, so
 * any number of these paths may run at once for the same attempt.
 */

/** The attempt is paid (authorised): store the order, sell the hold, tell the buyer, capture. */
export async function finishAuthorised(d: SagaDeps, a: AttemptRow, paymentIntentId: string): Promise<'sold' | 'compensated' | 'sold_out'> {
  const r = await d.store.commitOrder(a, paymentIntentId);
  if (r.kind === 'sold_out') return finishSoldOut(d, a, paymentIntentId, r.decided);
  if (r.kind === 'refused') {
    // The attempt was given up (or the hold sold by another payment) before this authorisation came
    // back: nobody will capture it, so release the buyer's money now.
    await d.provider.cancel(paymentIntentId, a.idempotency_key);
    metrics.paymentAttempts.inc({ result: 'compensated' });
    d.log.warn({ holdId: a.hold_id, attempt: a.attempt_no, attemptStatus: r.status }, 'authorisation of a given-up attempt cancelled');
    if (r.status === 'failed') await holdBack(d, a, a.failure_reason ?? 'payment_failed');
    return 'compensated';
  }
  if (r.created) {
    metrics.orders.inc();
    metrics.paymentAttempts.inc({ result: 'succeeded' });
  }
  // Capture before the buyer is told: on the normal path a confirmation means the money is taken. A
  // failed capture does not hold the confirmation back (the order stands): the buyer is told, then the
  // failure goes up so the caller's one retry layer captures again with the same key.
  const failed = await captureOrder(d, r.orderId, paymentIntentId, a.idempotency_key);
  await completeSold(d, a, r.orderId);
  if (failed?.retryable) throw failed.err;
  return 'sold';
}

/**
 * The ledger's stock fence had no unit left in the hold's pool (step 2 failed the attempt `sold_out`):
 * Redis believed a unit was there that Postgres does not have — a Redis restored from an older
 * snapshot, or one that lost writes. The authorisation is cancelled (manual capture: nothing was
 * taken), and the hold is closed for good: the buyer is told `payment_failed` `sold_out`, not
 * retryable, and the hold is released. `decided`: this call's statement made the refusal (counted and
 * logged once); the others (a webhook, a rerun, reconciliation) repeat the idempotent steps.
 */
export async function finishSoldOut(d: SagaDeps, a: AttemptRow, paymentIntentId: string | null, decided: boolean): Promise<'sold_out'> {
  if (decided) {
    // Counted before the provider call: the decision is made whether or not the cancel goes through.
    metrics.paymentAttempts.inc({ result: SOLD_OUT });
    d.log.warn({ sale: a.sale_id, pool: poolOfHold(a.hold_id), holdId: a.hold_id, attempt: a.attempt_no },
      'ledger has no unit left in this pool though Redis had one for the hold: order refused, authorisation cancelled');
  }
  // Throws on a transient failure: the job retries, finds the attempt failed sold out, comes back here.
  if (paymentIntentId) await d.provider.cancel(paymentIntentId, a.idempotency_key);
  await holdBack(d, a, SOLD_OUT, false);
  return 'sold_out';
}

/** The provider refused for good (declined card, unusable method): attempt failed, hold back to the buyer. */
export async function finishRefused(d: SagaDeps, a: AttemptRow, reason: string, paymentIntentId: string | null, retryable = true, result = 'declined'): Promise<void> {
  if (await d.store.markFailed(a.id, reason, paymentIntentId)) {
    metrics.paymentAttempts.inc({ result });
    await holdBack(d, a, reason, retryable);
    return;
  }
  // Someone else decided first: if it was an order, that decision stands and the hold is not touched;
  // if it was a refusal, its Redis step is repeated (it may have crashed before it).
  const now = await d.store.attemptByKey(a.idempotency_key);
  if (now?.status === 'failed') await holdBack(d, now, now.failure_reason ?? reason, retryable);
}

/**
 * Give an attempt up without knowing whether it reached the provider (a superseded job, a limit hit
 * after a crash, a payment reconciliation cannot find): mark it failed first, so any authorisation
 * that still arrives is refused by step 2; then cancel whatever the provider has for its key.
 */
export async function abandon(d: SagaDeps, a: AttemptRow, reason: string, mayHaveReachedProvider: boolean, retryable = true): Promise<void> {
  await finishRefused(d, a, reason, null, retryable, ['superseded', 'limit_reached'].includes(reason) ? reason : 'given_up');
  // Cancel only what this attempt's refusal now owns: if another path stored an order for it first,
  // that order's authorisation must stand.
  if (!mayHaveReachedProvider) return;
  const now = await d.store.attemptByKey(a.idempotency_key);
  if (now?.status !== 'failed') return;
  // By the id stored on the attempt when there is one (the job stores it before confirming).
  const pi = await d.provider.find(now.payment_intent_id, a.idempotency_key);
  if (pi && OPEN.includes(pi.status)) await d.provider.cancel(pi.id, a.idempotency_key);
}

/** Intent statuses from which money may still move (confirmed, authorised or completed later): cancelled when the attempt is given up. */
const OPEN: readonly string[] = ['requires_confirmation', 'requires_action', 'requires_capture'];

/** Step 4: the buyer's order count, then the hold sold, then the buyer told — once, by whoever sells it. */
export async function completeSold(d: SagaDeps, a: AttemptRow, orderId: string): Promise<void> {
  // The count first: whoever sees the hold sold also sees the count (per-buyer limit).
  await d.buyers.orderRecorded(a.sale_id, a.buyer_id, a.hold_id);
  let changed: boolean;
  // The confirmation is published by the settle script itself, only when it sold the hold: told
  // once, by whoever sold it, and in the same step (no round trip of its own).
  const confirmation = d.buyers.notice(a.sale_id, a.buyer_id, { type: 'order_confirmed', holdId: a.hold_id, orderId });
  try {
    ({ changed } = await d.inventory.settle(a.sale_id, a.hold_id, orderId, confirmation));
  } catch (err) {
    // The pool is gone (Redis lost it): the gateway rebuilds it from the ledger, with this hold sold.
    if (err instanceof InventoryError && err.code === 'hold_not_found') {
      d.log.warn({ holdId: a.hold_id, orderId }, 'hold not in Redis; the ledger rebuild restores it as sold');
      return;
    }
    throw err;
  }
  if (!changed) return;
  d.log.info({ sale: a.sale_id, holdId: a.hold_id, orderId, attempt: a.attempt_no }, 'order confirmed');
}

/**
 * Steps 3–4 again for an attempt whose order is already stored (a rerun, a crash between Postgres and
 * Redis): capture if it is not yet, then sell the hold and tell the buyer. False when there is no order.
 */
export async function completeStoredOrder(d: SagaDeps, a: AttemptRow): Promise<boolean> {
  const order = await d.store.orderOfHold(a.hold_id);
  if (!order) return false;
  // As on the first run: the money is taken before the buyer is told.
  const failed = order.capture_status === 'captured' ? null : await captureOrder(d, order.id, order.payment_intent_id, a.idempotency_key);
  await completeSold(d, a, order.id);
  if (failed?.retryable) throw failed.err;
  return true;
}

/** A capture that did not go through; `retryable` when the same request may succeed later. */
export interface CaptureFailure {
  err: Error;
  retryable: boolean;
}

/**
 * Step 3, one provider call: retries belong to the caller's layer (the job's next try, the webhook
 * event's, reconciliation's next pass — docs/settlement.md "Retries"), never to a loop here. A failure
 * does not undo the order (the money is authorised): the order is marked, so reconciliation captures it
 * with the same key should every retry of the caller fail too. Null when captured.
 */
export async function captureOrder(d: SagaDeps, orderId: string, paymentIntentId: string, attemptKey: string): Promise<CaptureFailure | null> {
  try {
    await d.provider.capture(paymentIntentId, attemptKey);
  } catch (thrown) {
    const err = thrown instanceof Error ? thrown : new Error(String(thrown));
    metrics.captures.inc({ result: 'failed' });
    await d.store.markCaptureFailed(orderId, err.message);
    const permanent = permanentCaptureError(err);
    d.log.warn({ orderId, err: err.message, permanent }, permanent ? 'capture refused for good; the order stays marked for people' : 'capture failed; retried with the same key');
    return { err, retryable: permanent === null };
  }
  await d.store.markCaptured(orderId);
  metrics.captures.inc({ result: 'captured' });
  return null;
}

/** A capture error no retry can fix (the authorisation is gone), or null when a retry may succeed. */
function permanentCaptureError(err: unknown): string | null {
  const e = err as { type?: string; statusCode?: number; code?: string };
  return e?.type === 'StripeInvalidRequestError' && e.statusCode !== 409 ? (e.code ?? 'invalid_request') : null;
}

/**
 * The hold of a failed attempt goes back to its buyer (held while the deadline lasts, else expired) and
 * the buyer is told — only by the caller that moved it, and never for an older attempt than the one the
 * hold is paying for.
 */
export async function holdBack(d: SagaDeps, a: HoldRef, reason: string, retryable = true): Promise<void> {
  let r: { state: string; changed: boolean };
  try {
    r = await d.inventory.payFailed(a.sale_id, a.hold_id, a.attempt_no);
  } catch (err) {
    if (err instanceof InventoryError && err.code === 'hold_not_found') return;
    throw err;
  }
  if (!r.changed) return;
  if (!retryable && r.state === 'held') await d.inventory.release(a.sale_id, a.hold_id, '');
  await d.buyers.tell(a.sale_id, a.buyer_id, { type: 'payment_failed', holdId: a.hold_id, reason, retryable: retryable && r.state === 'held' });
  if (r.state === 'expired') await d.buyers.tell(a.sale_id, a.buyer_id, { type: 'hold_expired', holdId: a.hold_id });
}

/**
 * The confirmation stopped in requires_action: the issuer wants the buyer's 3D Secure challenge, which
 * this flow cannot show them. The attempt fails like a decline (`requires_action`, retryable with
 * another card) — and its intent is cancelled before the hold leaves paying, so nobody can complete it
 * later and move money for a unit the buyer may no longer hold. The attempt names the intent to cancel
 * in the compare-and-set that fails it: if the cancel fails here, the rerun of the job or reconciliation
 * does it, and the hold stays paying until then.
 */
export async function finishNeedsAction(d: SagaDeps, a: AttemptRow, paymentIntentId: string): Promise<void> {
  if (await d.store.markNeedsAction(a.id, paymentIntentId)) metrics.paymentAttempts.inc({ result: 'requires_action' });
  const now = await d.store.attemptByKey(a.idempotency_key);
  // Another path decided first (the buyer completed the challenge and a webhook stored the order): it stands.
  if (now?.status !== 'failed') return;
  await cancelOpenIntent(d, now);
  await holdBack(d, now, now.failure_reason ?? 'requires_action');
}

/** Cancels the intent a failed attempt still names as open (already canceled counts as done), then clears the name. */
export async function cancelOpenIntent(d: SagaDeps, a: AttemptRow): Promise<boolean> {
  if (!a.open_intent_id) return false;
  await d.provider.cancel(a.open_intent_id, a.idempotency_key);
  await d.store.markIntentCanceled(a.id, a.open_intent_id);
  d.log.info({ holdId: a.hold_id, attempt: a.attempt_no, paymentIntent: a.open_intent_id }, 'intent awaiting the buyer\'s action cancelled');
  return true;
}
