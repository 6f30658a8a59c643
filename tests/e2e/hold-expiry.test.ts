import { describe, expect, it } from 'vitest';
import type { Stack } from '../helpers/stack.js';
import { Buyers, useStack, createSale, expectCleanAudit, stats } from './kit.js';

let stack: Stack;
let buyers: Buyers;
useStack((s, b) => ((stack = s), (buyers = b)));

describe('a hold not paid in time expires and the next waiter gets the unit', () => {
  it('first buyer gets hold_expired, the second is then admitted', async () => {
    const sale = await createSale(stack, { stock: 1, holdSeconds: 1 });
    const first = await buyers.holding(sale.id);
    expect(Date.parse(first.expiresAt) - Date.now()).toBeLessThanOrEqual(1000);
    const second = await buyers.queued(sale.id);
    expect(second.position).toBe(1);

    const expired = await first.b.next('hold_expired', 10_000);
    expect(expired.holdId).toBe(first.holdId);
    const admitted = await second.b.next('admitted', 10_000);
    expect(admitted.holdId).not.toBe(first.holdId);
    // While the first hold lasted, the waiter was never told the sale was sold out.
    expect(second.b.frames.filter((f) => f.type === 'sold_out')).toEqual([]);

    // Paying for the expired hold is refused and changes nothing.
    const refused = await first.b.request({ type: 'pay', holdId: first.holdId, paymentMethod: 'pm_card_visa' }, 'error');
    expect(refused).toMatchObject({ type: 'error', code: 'hold_ended' });
    expect(typeof refused.message).toBe('string');
    expect(stack.standIn.charges().filter((c) => c.metadata.holdId === first.holdId)).toHaveLength(0);

    // A reconnect of the first buyer tells them the hold expired.
    await first.b.close();
    const again = await buyers.connect(sale.id, first.b.buyer);
    expect((await again.next('hold_expired')).holdId).toBe(first.holdId);

    expect(await stats(stack, sale.id)).toMatchObject({ held: 1, available: 0, expired: 1, sold: 0 });
    await expectCleanAudit(stack, sale.id, { held: 1, expired: 1, sold: 0, orders: 0 });
  });
});
