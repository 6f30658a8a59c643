import type { Queue } from 'bullmq';
import type { PaymentJob } from './payment-job.js';

export interface DeadLetter {
  id: string;
  holdId: string;
  saleId: string;
  reason: string;
  attempts: number;
  failedAt: string;
}

/**
 * Payment jobs that used up their retries. Their holds stay `paying` (money may have moved), so an
 * operator replays them with the same idempotency key rather than handing the unit to someone else.
 */
export async function listDeadLetters(queue: Queue<PaymentJob>, limit = 500): Promise<DeadLetter[]> {
  const jobs = await queue.getFailed(0, limit - 1);
  return jobs
    .filter((j) => j && j.id)
    .map((j) => ({
      id: j.id!,
      holdId: j.data.holdId,
      saleId: j.data.saleId,
      reason: j.failedReason ?? 'unknown',
      attempts: j.attemptsMade,
      failedAt: new Date(j.finishedOn ?? j.timestamp).toISOString(),
    }));
}

export async function replayDeadLetter(queue: Queue<PaymentJob>, id: string): Promise<boolean> {
  const job = await queue.getJob(id);
  if (!job || !(await job.isFailed())) return false;
  // A replay starts with a fresh retry budget (payment-retry.ts): the outage or fault that used the old one is over.
  await job.updateData({ ...job.data, retry: undefined });
  await job.retry('failed');
  return true;
}
