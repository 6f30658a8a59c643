import { Queue, type JobsOptions } from 'bullmq';
import type { RedisClient } from '../shared/redis.js';

export const PAYMENTS_QUEUE = 'payments';

export interface PaymentJob {
  saleId: string;
  holdId: string;
  buyer: string;
  attemptNo: number;
  paymentMethod: string;
  amount: number;
  currency: string;
  perBuyerLimit: number;
}

/** The idempotency key of one payment attempt: derived, never random, so every retry is the same request. */
export function idempotencyKey(holdId: string, attemptNo: number): string {
  return `fs-${holdId}-a${attemptNo}`;
}

/**
 * BullMQ job id = hold id + attempt number: a duplicate enqueue of the same attempt collapses into one
 * job, while a new attempt after a declined card is a new job even if the old one is still finishing.
 */
export function paymentJobId(holdId: string, attemptNo: number): string {
  return `${holdId}-a${attemptNo}`;
}

export const PAYMENT_JOB_OPTIONS: JobsOptions = {
  // 1 try + 3 retries, 1 s, 2 s, 4 s ... with jitter (BullMQ's own backoff).
  attempts: 4,
  backoff: { type: 'exponential', delay: 1000, jitter: 0.5 },
  removeOnComplete: { age: 3600, count: 10_000 },
  removeOnFail: false,
};

/** BullMQ's key prefix under our own (tests run side by side under their own prefixes). */
export function queuePrefix(prefix: string): string {
  return `${prefix}fsq`;
}

export function createPaymentQueue(connection: RedisClient, prefix: string): Queue<PaymentJob> {
  return new Queue<PaymentJob>(PAYMENTS_QUEUE, { connection, prefix: queuePrefix(prefix) });
}

export async function enqueuePayment(queue: Queue<PaymentJob>, job: PaymentJob): Promise<void> {
  await queue.add('pay', job, { ...PAYMENT_JOB_OPTIONS, jobId: paymentJobId(job.holdId, job.attemptNo) });
}
