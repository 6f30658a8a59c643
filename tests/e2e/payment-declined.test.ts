import { describe, expect, it } from 'vitest';
import type { Stack } from '../helpers/stack.js';
import { Buyers, useStack, createSale, expectCleanAudit, pay, stats } from './kit.js';

let stack: Stack;
let buyers: Buyers;
useStack((s, b) => ((stack = s), (buyers = b)));

describe('a declined card can be retried while the hold lasts', () => {
  it.each([
    ['pm_card_chargeDeclined', 'generic_decline'],
    ['pm_card_chargeDeclinedInsufficientFunds', 'insufficient_funds'],
  ])('%s -> payment_failed (retryable) -> pm_card_visa -> order_confirmed, one charge', async (declining, reason) => {
    const sale = await createSale(stack, { stock: 2 });
    const { b, holdId } = await buyers.holding(sale.id);

    const failed = await pay(b, holdId, declining);
    expect(failed).toMatchObject({ type: 'payment_failed', holdId, retryable: true });
    expect(failed.reason).toContain(reason);
    expect(b.frames.some((f) => f.type === 'payment_pending' && f.holdId === holdId)).toBe(true);
    // The hold is the buyer's again, not lost and not sold.
    expect(await stats(stack, sale.id)).toMatchObject({ held: 1, paying: 0, sold: 0, available: 1 });
    expect(stack.standIn.charges().filter((c) => c.metadata.holdId === holdId)).toHaveLength(0);

    const confirmed = await pay(b, holdId, 'pm_card_visa');
    expect(confirmed).toMatchObject({ type: 'order_confirmed', holdId });
    expect(confirmed.orderId).toMatch(/^ord_/);

    const charges = stack.standIn.charges().filter((c) => c.metadata.holdId === holdId);
    expect(charges).toHaveLength(1);
    expect(charges[0]).toMatchObject({ amount: 1999, currency: 'eur', status: 'succeeded' });
    await expectCleanAudit(stack, sale.id, { sold: 1, orders: 1, held: 0, paying: 0, available: 1 });
  });

  it('a second decline is still retryable, and a status in between shows the hold', async () => {
    const sale = await createSale(stack, { stock: 1 });
    const { b, holdId } = await buyers.holding(sale.id);
    expect(await pay(b, holdId, 'pm_card_chargeDeclined')).toMatchObject({ type: 'payment_failed', retryable: true });
    const status = await b.request({ type: 'status' }, 'admitted');
    expect(status.holdId).toBe(holdId);
    expect(await pay(b, holdId, 'pm_card_chargeDeclinedInsufficientFunds')).toMatchObject({ type: 'payment_failed', retryable: true });
    expect(await pay(b, holdId, 'pm_card_visa')).toMatchObject({ type: 'order_confirmed', holdId });
    expect(stack.standIn.charges().filter((c) => c.metadata.holdId === holdId)).toHaveLength(1);
    // The last unit sold: the sale's state change reaches the buyer's socket.
    await b.next((f) => f.type === 'sale' && f.state === 'sold_out');
    await expectCleanAudit(stack, sale.id, { sold: 1, orders: 1, available: 0, state: 'sold_out' });
  });
});
