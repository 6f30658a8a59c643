import { UnrecoverableError, Worker, type Job } from 'bullmq';
import type { RedisClient } from '../shared/redis.js';
import { metrics } from '../shared/metrics.js';
import { errorListener } from '../shared/connection-errors.js';
import { BACKOFF, PAYMENT_TRY_CEILING, PAYMENTS_QUEUE, paymentBackoff, queuePrefix, type PaymentJob } from './payment-job.js';
import { NO_FAILURES, nextTry } from './payment-retry.js';
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
  const worker = new Worker<PaymentJob>(PAYMENTS_QUEUE, async (job) => {
    if (job.attemptsMade > 0) metrics.paymentRetries.inc();
    try {
      return await settlePayment(deps, job.data);
    } catch (err) {
      throw await afterFailure(deps, job, err);
    }
  }, {
    connection,
    prefix: queuePrefix(deps.prefix),
    concurrency: o.concurrency,
    lockDuration,
    stalledInterval: Math.max(1000, Math.floor(lockDuration / 2)),
    maxStalledCount: 3,
    settings: {
      backoffStrategy: (attemptsMade: number, type?: string, err?: Error) => {
        if (type !== BACKOFF.type) throw new Error(`unknown backoff ${type}`);
        // The delay nextTry chose for this failure (a failure BullMQ made itself, e.g. a stall, has none).
        return (err && retryDelays.get(err)) ?? paymentBackoff(attemptsMade);
      },
    },
  });
  worker.on('failed', (job, err) => {
    if (!job) return;
    const final = err.name === 'UnrecoverableError' || job.attemptsMade >= (job.opts.attempts ?? PAYMENT_TRY_CEILING);
    deps.log.warn({ holdId: job.data.holdId, attempt: job.data.attemptNo, tries: job.attemptsMade, final, err: err.message }, final ? 'payment job dead-lettered' : 'payment job failed, will retry');
    if (!final) return;
    void deadLetter(deps, job, err);
  });
  worker.on('error', errorListener(deps.log, 'payment worker error'));
  return worker;
}

const retryDelays = new WeakMap<Error, number>();

/**
 * What a failed try throws to BullMQ: the same error with the delay `nextTry` chose (read back by the
 * backoff strategy), or an UnrecoverableError — BullMQ fails the job for good, into the dead-letter queue.
 * The job's failure history is saved in the job first, so whichever worker runs the next try knows it.
 */
async function afterFailure(deps: SettleDeps, job: Job<PaymentJob>, thrown: unknown): Promise<Error> {
  const err = thrown instanceof Error ? thrown : new Error(String(thrown));
  const next = nextTry(err, job.data.retry ?? NO_FAILURES);
  try {
    await job.updateData({ ...job.data, retry: next.history });
  } catch (e) {
    // Redis away too: the next try starts from the history it finds (a longer budget, not a shorter one).
    deps.log.warn({ err: e, holdId: job.data.holdId }, 'could not save the payment job\'s failure history');
  }
  if ('deadLetter' in next) return new UnrecoverableError(err.message);
  retryDelays.set(err, next.retryInMs);
  return err;
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
