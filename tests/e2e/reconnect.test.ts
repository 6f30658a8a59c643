import { describe, expect, it } from 'vitest';
import type { Stack } from '../helpers/stack.js';
import { Buyers, useStack, createSale, expectCleanAudit, pay, stats } from './kit.js';

let stack: Stack;
let buyers: Buyers;
useStack((s, b) => ((stack = s), (buyers = b)));

/** The first frame after the `sale` frame of a fresh socket: the buyer's state, sent without asking. */
const stateFrame = (f: { type: string }) => f.type !== 'sale';

describe('a buyer who reconnects gets their state back without joining again', () => {
  it('while queued: the same place', async () => {
    const sale = await createSale(stack, { stock: 1 });
    await buyers.holding(sale.id);
    await buyers.queued(sale.id);
    const me = await buyers.queued(sale.id);
    expect(me.position).toBe(2);
    const waitingBefore = (await stats(stack, sale.id)).waiting;

    await me.b.close();
    const back = await buyers.connect(sale.id, me.b.buyer);
    const restored = await back.next(stateFrame);
    expect(restored).toMatchObject({ type: 'queued', position: 2 });
    expect(back.frames.some((f) => f.type === 'error')).toBe(false);
    // A join again is the same place, not a second one.
    expect(await back.request({ type: 'join' }, stateFrame)).toMatchObject({ type: 'queued', position: 2 });
    expect((await stats(stack, sale.id)).waiting).toBe(waitingBefore);
    await expectCleanAudit(stack, sale.id, { held: 1, waiting: 2 });
  });

  it('while admitted: the same hold, still payable', async () => {
    const sale = await createSale(stack, { stock: 2 });
    const me = await buyers.holding(sale.id);
    await me.b.close();

    const back = await buyers.connect(sale.id, me.b.buyer);
    const restored = await back.next(stateFrame);
    expect(restored).toMatchObject({ type: 'admitted', holdId: me.holdId, expiresAt: me.expiresAt });
    expect(await back.request({ type: 'join' }, stateFrame)).toMatchObject({ type: 'admitted', holdId: me.holdId });
    expect(await stats(stack, sale.id)).toMatchObject({ held: 1, available: 1 });

    expect(await pay(back, me.holdId, 'pm_card_visa')).toMatchObject({ type: 'order_confirmed', holdId: me.holdId });
    await expectCleanAudit(stack, sale.id, { sold: 1, orders: 1, held: 0 });
  });

  it('after the order: the same order', async () => {
    const sale = await createSale(stack, { stock: 2 });
    const me = await buyers.holding(sale.id);
    const order = await pay(me.b, me.holdId, 'pm_card_visa');
    expect(order.type).toBe('order_confirmed');
    await me.b.close();

    const back = await buyers.connect(sale.id, me.b.buyer);
    expect(await back.next(stateFrame)).toMatchObject({ type: 'order_confirmed', holdId: me.holdId, orderId: order.orderId });
    expect(await back.request({ type: 'join' }, stateFrame)).toMatchObject({ type: 'order_confirmed', orderId: order.orderId });
    expect(await stats(stack, sale.id)).toMatchObject({ sold: 1, held: 0, available: 1, waiting: 0 });
    expect(stack.standIn.charges().filter((c) => c.metadata.holdId === me.holdId)).toHaveLength(1);
    await expectCleanAudit(stack, sale.id, { sold: 1, orders: 1 });
  });

  it('a buyer who never joined gets only the sale frame, and a status answers it again', async () => {
    const sale = await createSale(stack, { stock: 1 });
    const b = await buyers.connect(sale.id);
    const sales = await b.request({ type: 'status' }, 'sale');
    expect(sales).toMatchObject({ type: 'sale', state: 'open', startsAt: expect.any(String), endsAt: expect.any(String) });
    // Only sale frames (one on connect, one per status; the sale's creation may be announced once
    // more to a socket opened within milliseconds of it): no place, hold or order was invented.
    expect(b.frames.length).toBeGreaterThanOrEqual(2);
    for (const f of b.frames) expect(f).toMatchObject({ type: 'sale', state: 'open' });
    await expectCleanAudit(stack, sale.id, { waiting: 0, held: 0 });
  });
});
