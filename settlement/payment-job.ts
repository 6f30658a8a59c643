import { Queue, type JobsOptions } from 'bullmq';
import type { RedisClient } from '../shared/redis.js';

export const PAYMENTS_QUEUE = 'payments';

/**
 * What the job remembers of its failures, in the job itself, so any worker running the next try knows
 * it (payment-retry.ts decides with it; defined here, with the job, so the two files do not import each other).
 */
export interface RetryHistory {
  /** Failures not caused by the ledger being away (the provider, Redis, our own). */
  otherFailures: number;
  /** Ledger-unavailable failures in a row, and when the first of them happened (worker clock, epoch ms). */
  ledgerFailures: number;
  ledgerDownSince?: number;
}

export interface PaymentJob {
  saleId: string;
  holdId: string;
  buyer: string;
  attemptNo: number;
  paymentMethod: string;
  amount: number;
  currency: string;
  perBuyerLimit: number;
  /** The failures of this job so far (payment-retry.ts), kept in the job so every worker sees them. */
  retry?: RetryHistory;
}

/** The idempotency key of one payment attempt: derived, never random, so every retry is the same request. */
export function idempotencyKey(holdId: string, attemptNo: number): string {
  return `fs-${holdId}-a${attemptNo}`;
}

/** Keys of the saga's later provider calls, derived from the attempt's key so they too repeat exactly. */
export const confirmKey = (attemptKey: string): string => `${attemptKey}-confirm`;
export const captureKey = (attemptKey: string): string => `${attemptKey}-capture`;
export const cancelKey = (attemptKey: string): string => `${attemptKey}-cancel`;

/**
 * BullMQ job id = hold id + attempt number: a duplicate enqueue of the same attempt collapses into one
 * job, while a new attempt after a declined card is a new job even if the old one is still finishing.
 */
export function paymentJobId(holdId: string, attemptNo: number): string {
  return `${holdId}-a${attemptNo}`;
}

export const BACKOFF = { type: 'capped-exponential', baseMs: 1000, capMs: 60_000, jitter: 0.5 } as const;

/**
 * BullMQ custom backoff (registered on the worker): 1 s, 2 s, 4 s … capped at 60 s, then up to half of
 * it taken off at random, so a crowd of jobs failing together (the provider had a bad second) does not
 * come back together. `random` is injectable for tests.
 */
export function paymentBackoff(attemptsMade: number, random: () => number = Math.random): number {
  const ceiling = Math.min(BACKOFF.capMs, BACKOFF.baseMs * 2 ** Math.max(0, attemptsMade - 1));
  return Math.round(ceiling * (1 - BACKOFF.jitter * random()));
}

/**
 * Tries of one payment job failing for any reason but the ledger being away: the first and 3 retries;
 * after that the job is a dead letter. A ledger outage has a budget in time instead (payment-retry.ts).
 */
export const PAYMENT_TRIES = 4;

/**
 * BullMQ's own count, only a backstop: `nextTry` (payment-retry.ts) decides when a job is out of tries
 * and fails it for good itself. A 2-minute ledger outage at ≥ 0.25 s apart stays well below this.
 */
export const PAYMENT_TRY_CEILING = 100;

export const PAYMENT_JOB_OPTIONS: JobsOptions = {
  attempts: PAYMENT_TRY_CEILING,
  backoff: { type: BACKOFF.type },
  removeOnComplete: { age: 3600, count: 10_000 },
  // Failed jobs are the dead-letter queue: kept until replayed or resolved by reconciliation.
  removeOnFail: false,
};

/**
 * BullMQ's key prefix under our own (tests run side by side under their own prefixes). The `{fsq}` hash
 * tag puts every key of every queue in one slot, as BullMQ's scripts need on a Redis Cluster (each
 * touches several keys of a queue, and moving jobs between queues touches two queues).
 */
export function queuePrefix(prefix: string): string {
  return `${prefix}{fsq}`;
}

/** The payment queue, named so that modules above settlement can hold one without importing BullMQ. */
export type PaymentQueue = Queue<PaymentJob>;

export function createPaymentQueue(connection: RedisClient, prefix: string): Queue<PaymentJob> {
  return new Queue<PaymentJob>(PAYMENTS_QUEUE, { connection, prefix: queuePrefix(prefix) });
}

export async function enqueuePayment(queue: Queue<PaymentJob>, job: PaymentJob): Promise<void> {
  await queue.add('pay', job, { ...PAYMENT_JOB_OPTIONS, jobId: paymentJobId(job.holdId, job.attemptNo) });
}

/** Job states in which a worker will still run the job: reconciliation leaves those payments alone. */
export const LIVE_JOB_STATES: readonly string[] = ['waiting', 'delayed', 'active', 'prioritized', 'waiting-children'];
