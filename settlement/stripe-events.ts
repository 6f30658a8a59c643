import { Queue, Worker } from 'bullmq';
import type Stripe from 'stripe';
import type { RedisClient } from '../shared/redis.js';
import { metrics } from '../shared/metrics.js';
import { errorListener } from '../shared/connection-errors.js';
import { queuePrefix } from './payment-job.js';
import { PAID } from './payment-provider.js';
import { finishAuthorised, finishRefused, type SagaDeps } from './saga.js';

export const STRIPE_EVENTS_QUEUE = 'stripe-events';

/** What settlement needs of a verified Stripe event; the rest of the payload is not kept. */
export interface StripeEventJob {
  id: string;
  type: string;
  paymentIntent: { id: string; status: string; idempotencyKey: string | null; declineCode: string | null };
}

/** The event types that move a payment; others are acknowledged and ignored. */
export const HANDLED_EVENTS: readonly string[] = [
  'payment_intent.amount_capturable_updated', 'payment_intent.succeeded', 'payment_intent.payment_failed',
];

export function toEventJob(event: Stripe.Event): StripeEventJob | null {
  if (!HANDLED_EVENTS.includes(event.type)) return null;
  const pi = event.data.object as Stripe.PaymentIntent;
  const err = pi.last_payment_error as { decline_code?: string; code?: string } | null;
  return {
    id: event.id,
    type: event.type,
    paymentIntent: { id: pi.id, status: pi.status, idempotencyKey: pi.metadata?.idempotencyKey ?? null, declineCode: err?.decline_code ?? err?.code ?? null },
  };
}

export function createStripeEventQueue(connection: RedisClient, prefix: string): Queue<StripeEventJob> {
  return new Queue<StripeEventJob>(STRIPE_EVENTS_QUEUE, { connection, prefix: queuePrefix(prefix) });
}

/** Job id = Stripe's event id: Stripe delivers at least once, a redelivery collapses into the same job. */
export async function enqueueStripeEvent(queue: Queue<StripeEventJob>, job: StripeEventJob): Promise<void> {
  await queue.add(job.type, job, {
    jobId: job.id, attempts: 8, backoff: { type: 'exponential', delay: 500, jitter: 0.5 },
    removeOnComplete: { age: 24 * 3600, count: 50_000 }, removeOnFail: false,
  });
}

/**
 * Feeds a webhook into the same saga as the payment job: whichever of the two (or reconciliation)
 * reaches a step first takes it, the others find it taken.
 */
export async function handleStripeEvent(d: SagaDeps, e: StripeEventJob): Promise<string> {
  const key = e.paymentIntent.idempotencyKey;
  const attempt = key ? await d.store.attemptByKey(key) : null;
  // Not one of ours (another integration on the same account) or a stale test event.
  if (!attempt) return 'unknown';
  if (e.type === 'payment_intent.payment_failed') {
    if (attempt.status !== 'pending') return 'already_decided';
    await finishRefused(d, attempt, e.paymentIntent.declineCode ?? 'payment_failed', e.paymentIntent.id);
    return 'refused';
  }
  if (!PAID.includes(e.paymentIntent.status) && e.type !== 'payment_intent.succeeded') return 'ignored';
  if (attempt.status === 'succeeded') {
    const order = await d.store.orderOfHold(attempt.hold_id);
    if (order?.payment_intent_id === e.paymentIntent.id) {
      // The capture's own confirmation: the order may still say capture pending/failed.
      if (e.type === 'payment_intent.succeeded') {
        if (order.capture_status !== 'captured') await d.store.markCaptured(order.id);
        return 'captured';
      }
      // The job (or reconciliation) got there first; it captures and tells the buyer itself.
      if (order.capture_status === 'captured') return 'already_decided';
    }
  }
  return finishAuthorised(d, attempt, e.paymentIntent.id);
}

export function createStripeEventWorker(connection: RedisClient, deps: SagaDeps): Worker<StripeEventJob> {
  const worker = new Worker<StripeEventJob>(STRIPE_EVENTS_QUEUE, async (job) => {
    const result = await handleStripeEvent(deps, job.data);
    metrics.webhookEvents.inc({ type: job.data.type, result });
    return result;
  }, { connection, prefix: queuePrefix(deps.prefix), concurrency: 20 });
  worker.on('error', errorListener(deps.log, 'stripe event worker error'));
  return worker;
}
