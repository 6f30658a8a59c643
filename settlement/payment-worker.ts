import { Worker } from 'bullmq';
import type { RedisClient } from '../shared/redis.js';
import { metrics } from '../shared/metrics.js';
import { PAYMENTS_QUEUE, queuePrefix, type PaymentJob } from './payment-job.js';
import { settlePayment, type SettleDeps } from './settle-payment.js';

/** The BullMQ worker taking payment jobs; `connection` must allow blocking commands (its own client). */
export function createPaymentWorker(connection: RedisClient, deps: SettleDeps, concurrency: number): Worker<PaymentJob> {
  const worker = new Worker<PaymentJob>(PAYMENTS_QUEUE, (job) => {
    if (job.attemptsMade > 0) metrics.paymentRetries.inc();
    return settlePayment(deps, job.data);
  }, { connection, prefix: queuePrefix(deps.prefix), concurrency });
  worker.on('failed', (job, err) => deps.log.warn({ holdId: job?.data.holdId, attemptsMade: job?.attemptsMade, err: err.message }, 'payment job failed'));
  worker.on('error', (err) => deps.log.error({ err }, 'payment worker error'));
  return worker;
}
