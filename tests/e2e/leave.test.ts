import { afterEach, describe, expect, it } from 'vitest';
import type { Stack } from '../helpers/stack.js';
import { Buyers, useStack, createSale, expectCleanAudit, pay, setFaults, stats } from './kit.js';

let stack: Stack;
let buyers: Buyers;
useStack((s, b) => ((stack = s), (buyers = b)));
afterEach(() => setFaults(stack, null));

describe('leave', () => {
  it('while holding: the unit goes back to the pool at once', async () => {
    const sale = await createSale(stack, { stock: 2 });
    const { b, holdId } = await buyers.holding(sale.id);
    expect(await stats(stack, sale.id)).toMatchObject({ available: 1, held: 1 });
    const left = await b.request({ type: 'leave' }, (f) => f.type === 'left' || f.type === 'error');
    expect(left.type).toBe('left');
    expect(await stats(stack, sale.id)).toMatchObject({ available: 2, held: 0, paying: 0, sold: 0 });
    // The hold is gone: paying for it is refused.
    const refused = await b.request({ type: 'pay', holdId, paymentMethod: 'pm_card_visa' }, 'error');
    expect(refused.code).toBe('hold_ended');
    await expectCleanAudit(stack, sale.id, { available: 2, held: 0, orders: 0 });
  });

  it('while holding: the next waiter is admitted to the unit given back', async () => {
    const sale = await createSale(stack, { stock: 1 });
    const holder = await buyers.holding(sale.id);
    const waiter = await buyers.queued(sale.id);
    await holder.b.request({ type: 'leave' }, 'left');
    const admitted = await waiter.b.next('admitted');
    expect(admitted.holdId).not.toBe(holder.holdId);
    expect(await pay(waiter.b, admitted.holdId, 'pm_card_visa')).toMatchObject({ type: 'order_confirmed' });
    await expectCleanAudit(stack, sale.id, { sold: 1, orders: 1, held: 0, available: 0 });
  });

  it('while waiting: the place is given up and the one behind moves on', async () => {
    const sale = await createSale(stack, { stock: 1 });
    const holder = await buyers.holding(sale.id);
    const leaver = await buyers.queued(sale.id);
    const behind = await buyers.queued(sale.id);
    expect(behind.position).toBe(2);
    expect((await stats(stack, sale.id)).waiting).toBe(2);

    const left = await leaver.b.request({ type: 'leave' }, (f) => f.type === 'left' || f.type === 'error');
    expect(left.type).toBe('left');
    expect(await stats(stack, sale.id)).toMatchObject({ waiting: 1, held: 1, available: 0 });
    // A status afterwards does not give the place back.
    expect((await leaver.b.request({ type: 'status' }, (f) => f.type !== 'sale')).type).toBe('left');

    await holder.b.request({ type: 'leave' }, 'left');
    expect((await behind.b.next('admitted')).holdId).toMatch(/^hold_/);
    expect(leaver.b.frames.filter((f) => f.type === 'admitted')).toEqual([]);
    await expectCleanAudit(stack, sale.id, { held: 1, waiting: 0, orders: 0 });
  });

  it('while paying: refused with an error frame, nothing changes, the payment completes', async () => {
    const sale = await createSale(stack, { stock: 1 });
    const { b, holdId } = await buyers.holding(sale.id);
    // The provider answers slowly, so the hold is surely still paying when the leave arrives.
    await setFaults(stack, { latencyMs: 1500 });
    await b.request({ type: 'pay', holdId, paymentMethod: 'pm_card_visa' }, 'payment_pending');
    const before = await stats(stack, sale.id);
    expect(before).toMatchObject({ paying: 1, held: 0, available: 0 });

    const refused = await b.request({ type: 'leave' }, (f) => f.type === 'error' || f.type === 'left');
    expect(refused).toMatchObject({ type: 'error', code: 'payment_in_progress' });
    expect(typeof refused.message).toBe('string');
    expect(await stats(stack, sale.id)).toEqual(before);

    const confirmed = await b.next('order_confirmed', 15_000);
    expect(confirmed.holdId).toBe(holdId);
    expect(stack.standIn.charges().filter((c) => c.metadata.holdId === holdId)).toHaveLength(1);
    await expectCleanAudit(stack, sale.id, { sold: 1, orders: 1, paying: 0 });
  });
});
