import type Stripe from 'stripe';
import { metrics } from '../shared/metrics.js';
import { cancelKey, captureKey, confirmKey, type PaymentJob } from './payment-job.js';

export type Intent = Stripe.PaymentIntent;

/** Statuses in which the buyer's money is authorised or taken: the attempt paid. */
export const PAID: readonly string[] = ['requires_capture', 'succeeded'];
/** Statuses in which no money is held and none will be without a new confirmation. */
export const UNPAID: readonly string[] = ['requires_payment_method', 'canceled'];

/**
 * The saga's provider steps over the stripe SDK, each with its own deterministic idempotency key and
 * a latency observation. Errors are the SDK's: the caller decides what is transient.
 */
export class PaymentProvider {
  constructor(readonly stripe: Stripe) {}

  /**
   * Step 1a: the PaymentIntent, not yet confirmed — nothing is authorised, so its id can be stored on
   * the attempt (step 1b) before any money may move. The attempt's own key: a retry gets the same intent.
   */
  create(j: PaymentJob, key: string): Promise<Intent> {
    return timed('create', () => this.stripe.paymentIntents.create(
      {
        amount: j.amount,
        currency: j.currency,
        payment_method: j.paymentMethod,
        confirm: false,
        capture_method: 'manual',
        automatic_payment_methods: { enabled: true, allow_redirects: 'never' },
        metadata: { holdId: j.holdId, saleId: j.saleId, buyerId: j.buyer, attemptNo: String(j.attemptNo), idempotencyKey: key },
      },
      { idempotencyKey: key },
    ));
  }

  /**
   * Step 1c: authorise only (manual capture), so no money moves until the order is stored. The key is
   * derived from the attempt's, so every retry of the attempt is the same confirmation.
   */
  confirm(paymentIntentId: string, attemptKey: string): Promise<Intent> {
    return timed('authorise', () => this.stripe.paymentIntents.confirm(paymentIntentId, {}, { idempotencyKey: confirmKey(attemptKey) }));
  }

  /** Create and confirm with nothing in between (tests and tools; settlement stores the id between them). */
  async authorise(j: PaymentJob, key: string): Promise<Intent> {
    return this.confirm((await this.create(j, key)).id, key);
  }

  /**
   * Step 3: take the authorised money. Already captured counts as done. One request: a failure (even a
   * 409 while another path captures the same payment) goes up to the caller's retry, with the same key.
   */
  async capture(paymentIntentId: string, attemptKey: string): Promise<Intent> {
    try {
      return await timed('capture', () => this.stripe.paymentIntents.capture(paymentIntentId, {}, { idempotencyKey: captureKey(attemptKey) }));
    } catch (err) {
      const pi = await this.alreadyIn(err, paymentIntentId, 'succeeded');
      if (pi) return pi;
      throw err;
    }
  }

  /** Compensation of step 1: release an authorisation nobody will capture. Already canceled counts as done. */
  async cancel(paymentIntentId: string, attemptKey: string): Promise<Intent> {
    try {
      return await timed('cancel', () => this.stripe.paymentIntents.cancel(paymentIntentId, { cancellation_reason: 'abandoned' }, { idempotencyKey: cancelKey(attemptKey) }));
    } catch (err) {
      const pi = await this.alreadyIn(err, paymentIntentId, 'canceled');
      if (pi) return pi;
      throw err;
    }
  }

  /**
   * The PaymentIntent of an attempt: by its stored id when we have it, else by the idempotency key we
   * put in its metadata (a search, not a replayed create: a replay of a request that never arrived
   * would charge now). Null when the provider never created one.
   */
  async find(paymentIntentId: string | null, attemptKey: string): Promise<Intent | null> {
    if (paymentIntentId) return timed('lookup', () => this.stripe.paymentIntents.retrieve(paymentIntentId));
    const found = await timed('lookup', () => this.stripe.paymentIntents.search({ query: `metadata['idempotencyKey']:'${attemptKey}'`, limit: 10 }));
    // Several would mean the key was reused with other parameters; the paid one is the one that counts.
    return found.data.find((pi) => PAID.includes(pi.status)) ?? found.data[0] ?? null;
  }

  private async alreadyIn(err: unknown, id: string, status: string): Promise<Intent | null> {
    if ((err as { code?: string }).code !== 'payment_intent_unexpected_state') return null;
    const pi = await this.stripe.paymentIntents.retrieve(id);
    return pi.status === status ? pi : null;
  }
}

async function timed<T>(call: string, fn: () => Promise<T>): Promise<T> {
  const end = metrics.providerLatency.startTimer({ call });
  try {
    return await fn();
  } finally {
    end();
  }
}
