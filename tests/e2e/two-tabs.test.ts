import { describe, expect, it } from 'vitest';
import type { Stack } from '../helpers/stack.js';
import { uniqueId } from '../helpers/env.js';
import { Buyers, useStack, createSale, expectCleanAudit, pay, stats, waitAdmitterTicks } from './kit.js';

let stack: Stack;
let buyers: Buyers;
useStack((s, b) => ((stack = s), (buyers = b)));

const answer = (f: { type: string }) => f.type !== 'sale';

describe('one buyer in two tabs', () => {
  it('joining from both tabs at once gives one place and one hold; both tabs see every frame', async () => {
    const sale = await createSale(stack, { stock: 5 });
    const buyer = uniqueId('buyer');
    const [t1, t2] = await Promise.all([buyers.connect(sale.id, buyer), buyers.connect(sale.id, buyer)]);
    t1.send({ type: 'join' });
    t2.send({ type: 'join' });
    const [a1, a2] = await Promise.all([t1.next('admitted'), t2.next('admitted')]);
    expect(a1.holdId).toBe(a2.holdId);
    const s = await stats(stack, sale.id);
    expect(s).toMatchObject({ held: 1, available: 4, admitted: 1, waiting: 0 });
    // Every admitted frame either tab ever got is for the one hold.
    for (const t of [t1, t2]) expect(new Set(t.frames.filter((f) => f.type === 'admitted').map((f) => f.holdId))).toEqual(new Set([a1.holdId]));

    expect(await pay(t1, a1.holdId, 'pm_card_visa')).toMatchObject({ type: 'order_confirmed' });
    const other = await t2.next('order_confirmed');
    expect(other.holdId).toBe(a1.holdId);
    expect(t2.frames.some((f) => f.type === 'payment_pending')).toBe(true);

    // Paying the sold hold again (from the other tab) is refused: one charge per hold.
    expect(await t2.request({ type: 'pay', holdId: a1.holdId, paymentMethod: 'pm_card_visa' }, 'error')).toMatchObject({ code: 'already_sold' });
    expect(stack.standIn.charges().filter((c) => c.metadata.holdId === a1.holdId)).toHaveLength(1);
    // After the order a join (from either tab) returns the order, not a new place.
    expect(await t2.request({ type: 'join' }, answer)).toMatchObject({ type: 'order_confirmed', orderId: other.orderId });
    expect(await t1.request({ type: 'join' }, answer)).toMatchObject({ type: 'order_confirmed', orderId: other.orderId });
    await waitAdmitterTicks(stack, 5);
    expect(await stats(stack, sale.id)).toMatchObject({ sold: 1, held: 0, waiting: 0, available: 4 });
    await expectCleanAudit(stack, sale.id, { sold: 1, orders: 1 });
  });

  it('paying the one hold from both tabs at once charges it once', async () => {
    const sale = await createSale(stack, { stock: 2 });
    const buyer = uniqueId('buyer');
    const t1 = await buyers.connect(sale.id, buyer);
    const t2 = await buyers.connect(sale.id, buyer);
    t1.send({ type: 'join' });
    const { holdId } = await t2.next('admitted');
    const [r1, r2] = await Promise.all([pay(t1, holdId, 'pm_card_visa'), pay(t2, holdId, 'pm_card_visa')]);
    // One tab's pay is taken; the other's is refused (payment_in_progress or already_sold) or sees the same order.
    const outcomes = [r1, r2].map((r) => (r.type === 'error' ? r.code : r.type));
    expect(outcomes.filter((o) => o === 'order_confirmed').length).toBeGreaterThanOrEqual(1);
    for (const o of outcomes) expect(['order_confirmed', 'payment_in_progress', 'already_sold']).toContain(o);
    await t1.next('order_confirmed');
    await t2.next('order_confirmed');
    expect(stack.standIn.charges().filter((c) => c.metadata.holdId === holdId)).toHaveLength(1);
    await expectCleanAudit(stack, sale.id, { sold: 1, orders: 1 });
  });

  it('perBuyerLimit 2: a second order is possible after the first, a third is not', async () => {
    const sale = await createSale(stack, { stock: 5, perBuyerLimit: 2 });
    const buyer = uniqueId('buyer');
    const t1 = await buyers.connect(sale.id, buyer);
    const t2 = await buyers.connect(sale.id, buyer);

    const h1 = (await t1.request({ type: 'join' }, 'admitted')).holdId;
    const o1 = await pay(t1, h1, 'pm_card_visa');
    expect(o1.type).toBe('order_confirmed');

    // A join after the first order takes a new place, from the other tab.
    const from = t2.frames.length;
    t2.send({ type: 'join' });
    const h2 = (await t2.next((f) => f.type === 'admitted' && f.holdId !== h1, 15_000, from)).holdId;
    const o2 = await pay(t2, h2, 'pm_card_visa');
    expect(o2).toMatchObject({ type: 'order_confirmed', holdId: h2 });
    expect(o2.orderId).not.toBe(o1.orderId);

    // The limit is reached: a third join gives no new place (it answers with the order).
    const third = await t1.request({ type: 'join' }, answer);
    expect(third).toMatchObject({ type: 'order_confirmed', holdId: h2, orderId: o2.orderId });
    await waitAdmitterTicks(stack, 5);
    expect(await stats(stack, sale.id)).toMatchObject({ sold: 2, held: 0, waiting: 0, available: 3 });
    expect(t1.frames.filter((f) => f.type === 'admitted' && f.holdId !== h1 && f.holdId !== h2)).toEqual([]);
    await expectCleanAudit(stack, sale.id, { sold: 2, orders: 2 });
  });
});
