import { describe, expect, it } from 'vitest';
import type { Stack } from '../helpers/stack.js';
import { Buyers, useStack, createSale, expectCleanAudit, pay, stats } from './kit.js';

let stack: Stack;
let buyers: Buyers;
useStack((s, b) => ((stack = s), (buyers = b)));

/*
 * A well-formed PaymentMethod id that does not exist (`pm_doesnotexist`) is answered by Stripe (and the
 * stand-in) with 400 `resource_missing`: a permanent refusal. This test failed while settlement still
 * retried it as transient (4 tries, dead letter, the hold pinned `paying` past its deadline, no frame
 * for the buyer); fixed in settlement (f5da52c). Kept end to end: gateway, queue, worker, provider.
 */
describe('pay with a PaymentMethod the provider does not know', () => {
  it('ends in payment_failed and the hold is the buyer\'s again (not stuck paying)', async () => {
    const sale = await createSale(stack, { stock: 1, holdSeconds: 60 });
    const { b, holdId } = await buyers.holding(sale.id);
    // A permanent refusal needs no retries: the answer should come as fast as a declined card's.
    const failed = await pay(b, holdId, 'pm_doesnotexist', 10_000);
    expect(failed).toMatchObject({ type: 'payment_failed', holdId });
    expect(await stats(stack, sale.id)).toMatchObject({ paying: 0, sold: 0 });
    if (failed.retryable) {
      expect(await pay(b, holdId, 'pm_card_visa')).toMatchObject({ type: 'order_confirmed', holdId });
    }
    expect(stack.standIn.charges().filter((c) => c.metadata.holdId === holdId).length).toBeLessThanOrEqual(1);
    await expectCleanAudit(stack, sale.id, { paying: 0 });
  });
});
