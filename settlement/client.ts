import type Stripe from 'stripe';
import type { Logger } from '../shared/logger.js';
import type { RedisClient } from '../shared/redis.js';
import { metrics } from '../shared/metrics.js';
import { errorListener } from '../shared/connection-errors.js';
import { createPaymentQueue, type PaymentQueue } from './payment-job.js';
import { createStripeEventQueue, enqueueStripeEvent, toEventJob } from './stripe-events.js';
import { listDeadLetters, replayDeadLetter, type DeadLetter } from './dead-letters.js';

/**
 * What a process above settlement (the gateway) holds of it: functions, not BullMQ. The queues, their
 * job ids, options and key prefix are settlement's; the gateway never imports `bullmq`
 * (.dependency-cruiser.cjs, docs/architecture.md).
 */
export interface SettlementClient {
  /**
   * The payment queue settlement owns, for settlement's own functions that take it (payment-job.ts
   * enqueuePayment, paymentJobId): callers hand it on, they do not use it as a queue.
   */
  readonly paymentQueue: PaymentQueue;
  readonly stripeEvents: {
    /**
     * A verified Stripe event handed to the settlement workers: 'queued' once it is stored (Stripe
     * may be answered 200), 'ignored' for a type that moves no payment. Throws when it cannot be
     * stored: the caller answers 503 and Stripe delivers it again.
     */
    accept(event: Stripe.Event): Promise<'queued' | 'ignored'>;
  };
  readonly deadLetters: {
    list(): Promise<DeadLetter[]>;
    /** False when no failed payment job has this id. */
    replay(id: string): Promise<boolean>;
  };
  /** Resolves once the queues' connection is up and their scripts can run. */
  waitUntilReady(): Promise<void>;
  close(): Promise<void>;
}

/**
 * `connection`: a client of the queues' own (shared/redis createQueueRedis), so BullMQ's scripts stay
 * off the process's autopipelined request client.
 */
export function createSettlementClient(connection: RedisClient, prefix: string, log: Logger): SettlementClient {
  const payments = createPaymentQueue(connection, prefix);
  const events = createStripeEventQueue(connection, prefix);
  // A Queue re-emits its connection's errors; without a listener each one is printed as a stack trace.
  payments.on('error', errorListener(log, 'payment queue error'));
  events.on('error', errorListener(log, 'stripe event queue error'));
  return {
    paymentQueue: payments,
    stripeEvents: {
      async accept(event) {
        const job = toEventJob(event);
        if (!job) {
          metrics.webhookEvents.inc({ type: event.type, result: 'ignored' });
          return 'ignored';
        }
        await enqueueStripeEvent(events, job);
        return 'queued';
      },
    },
    deadLetters: {
      list: () => listDeadLetters(payments),
      replay: (id) => replayDeadLetter(payments, id),
    },
    async waitUntilReady() {
      await Promise.all([payments.waitUntilReady(), events.waitUntilReady()]);
    },
    async close() {
      await payments.close().catch(() => {});
      await events.close().catch(() => {});
    },
  };
}
