import type { Queue } from 'bullmq';
import type { Logger } from '../shared/logger.js';
import type { Inventory } from '../inventory/inventory-service.js';
import { enqueuePayment, paymentJobId, type PaymentJob } from './payment-job.js';

/** A hold that begin-pay just moved to paying (its attempt number is begin-pay's answer), to be paid for. */
export type HoldToPay = Omit<PaymentJob, 'retry'>;

/**
 * Where a payment stands after `start`:
 * - `queued`: a worker will take it (the job is in the queue, even if adding it reported an error);
 * - `absent`: certainly not queued, so nothing can be charged: the hold was given back to its buyer
 *   (begin-pay undone), who may pay again;
 * - `unknown`: whether it was queued cannot be told now; the hold stays paying (money may move) until
 *   settlement or reconciliation decides. The buyer must not pay again.
 */
export type PaymentStart = 'queued' | 'absent' | 'unknown';

/**
 * Settlement's doorway for starting a payment: the only place that knows payments are BullMQ jobs,
 * how their ids are made and how to undo a begin-pay whose job never landed. The gateway hands it a
 * hold and tells the buyer what the answer means.
 */
export class Payments {
  constructor(
    private readonly queue: Queue<PaymentJob>,
    private readonly inventory: Pick<Inventory, 'payFailed'>,
    private readonly log: Logger,
  ) {}

  async start(hold: HoldToPay): Promise<PaymentStart> {
    try {
      await enqueuePayment(this.queue, hold);
      return 'queued';
    } catch (err) {
      this.log.error({ err, sale: hold.saleId, holdId: hold.holdId }, 'could not enqueue payment');
    }
    // The add may have landed before the error: only when the job is certainly absent (read back on
    // a working connection) can nothing be charged, and the hold go back to the buyer.
    const job = await this.queue.getJob(paymentJobId(hold.holdId, hold.attemptNo)).then((j) => (j ? 'queued' : 'absent'), () => 'unknown' as const);
    if (job === 'absent') await this.inventory.payFailed(hold.saleId, hold.holdId, hold.attemptNo).catch(() => {});
    return job;
  }
}
