import { describe, expect, it } from 'vitest';
import type { Queue } from 'bullmq';
import { createLogger } from '../shared/logger.js';
import { Payments, type HoldToPay } from './payments.js';
import { paymentJobId, type PaymentJob } from './payment-job.js';

/*
 * What `start` answers when adding the job fails: the add may have landed before the error, so the
 * job is read back. Only a job certainly absent gives the hold back; an unreadable queue leaves it
 * paying. The queue is a stand-in: the point is the decision, not BullMQ.
 */
const HOLD: HoldToPay = { saleId: 's1', holdId: 'hold_0_1_abc', buyer: 'b1', attemptNo: 2, paymentMethod: 'pm_card_visa', amount: 100, currency: 'eur', perBuyerLimit: 1 };

function harness(queue: { add?: () => Promise<unknown>; getJob?: (id: string) => Promise<unknown> }) {
  const payFailed: unknown[][] = [];
  const asked: string[] = [];
  const q = {
    add: queue.add ?? (async () => ({})),
    getJob: async (id: string) => (asked.push(id), queue.getJob ? queue.getJob(id) : undefined),
  } as unknown as Queue<PaymentJob>;
  const inventory = { payFailed: async (...a: unknown[]) => (payFailed.push(a), { state: 'held' as const, changed: true }) };
  return { payments: new Payments(q, inventory, createLogger('test', 'silent')), payFailed, asked };
}

const refused = async () => {
  throw new Error('connection lost');
};

describe('Payments.start', () => {
  it('queued when the add succeeds; nothing read back, nothing undone', async () => {
    const h = harness({});
    expect(await h.payments.start(HOLD)).toBe('queued');
    expect(h.asked).toEqual([]);
    expect(h.payFailed).toEqual([]);
  });

  it('queued when the add failed but its job is there (it landed before the error)', async () => {
    const h = harness({ add: refused, getJob: async () => ({ id: 'x' }) });
    expect(await h.payments.start(HOLD)).toBe('queued');
    expect(h.asked).toEqual([paymentJobId(HOLD.holdId, HOLD.attemptNo)]);
    expect(h.payFailed).toEqual([]);
  });

  it('absent when the add failed and the job is certainly not there: the hold goes back (pay-failed of this attempt)', async () => {
    const h = harness({ add: refused, getJob: async () => undefined });
    expect(await h.payments.start(HOLD)).toBe('absent');
    expect(h.payFailed).toEqual([[HOLD.saleId, HOLD.holdId, HOLD.attemptNo]]);
  });

  it('unknown when the job cannot be read back: the hold stays paying', async () => {
    const h = harness({ add: refused, getJob: refused });
    expect(await h.payments.start(HOLD)).toBe('unknown');
    expect(h.payFailed).toEqual([]);
  });
});
