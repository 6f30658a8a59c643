import { Worker, type Job } from 'bullmq';
import type { RedisClient } from '../shared/redis.js';
import { metrics } from '../shared/metrics.js';
import { errorListener } from '../shared/connection-errors.js';
import { BACKOFF, PAYMENT_TRIES, PAYMENTS_QUEUE, paymentBackoff, queuePrefix, type PaymentJob } from './payment-job.js';
import { settlePayment, type SettleDeps } from './settle-payment.js';

export interface PaymentWorkerOptions {
  concurrency: number;
  /**
   * How long a job stays locked to its worker without a renewal. A worker killed mid-payment leaves an
   * active job behind; BullMQ's stalled check hands it to another worker once the lock lapses, and the
   * rerun is safe (same idempotency key, compare-and-set steps).
   */
  lockMs?: number;
}

/** The BullMQ worker taking payment jobs; `connection` must allow blocking commands (its own client). */
export function createPaymentWorker(connection: RedisClient, deps: SettleDeps, o: PaymentWorkerOptions): Worker<PaymentJob> {
  const lockDuration = o.lockMs ?? 10_000;
  const worker = new Worker<PaymentJob>(PAYMENTS_QUEUE, (job) => {
    if (job.attemptsMade > 0) metrics.paymentRetries.inc();
    return settlePayment(deps, job.data);
  }, {
    connection,
    prefix: queuePrefix(deps.prefix),
    concurrency: o.concurrency,
    lockDuration,
    stalledInterval: Math.max(1000, Math.floor(lockDuration / 2)),
    maxStalledCount: 3,
    settings: {
      backoffStrategy: (attemptsMade: number, type?: string) => {
        if (type !== BACKOFF.type) throw new Error(`unknown backoff ${type}`);
        return paymentBackoff(attemptsMade);
      },
    },
  });
  worker.on('failed', (job, err) => {
    if (!job) return;
    const final = job.attemptsMade >= (job.opts.attempts ?? PAYMENT_TRIES);
    deps.log.warn({ holdId: job.data.holdId, attempt: job.data.attemptNo, tries: job.attemptsMade, final, err: err.message }, final ? 'payment job dead-lettered' : 'payment job failed, will retry');
    if (!final) return;
    void deadLetter(deps, job, err);
  });
  worker.on('error', errorListener(deps.log, 'payment worker error'));
  return worker;
}

/**
 * A job out of tries. If a webhook or reconciliation already decided its attempt, nothing is left for
 * people to do and the job is dropped; otherwise it stays in the failed set — the dead-letter queue —
 * and its hold stays paying (money may have moved) until reconciliation or an operator's replay.
 */
async function deadLetter(deps: SettleDeps, job: Job<PaymentJob>, err: Error): Promise<void> {
  try {
    const attempt = await deps.store.attemptOf(job.data.holdId, job.data.attemptNo);
    if (attempt && attempt.status !== 'pending') {
      await job.remove();
      return;
    }
    metrics.deadLetters.inc();
    await deps.store.markDeadLettered(job.data.holdId, job.data.attemptNo, err.message);
  } catch (e) {
    deps.log.error({ err: e, holdId: job.data.holdId }, 'could not record the dead letter');
  }
}
