import { afterEach, describe, expect, it } from 'vitest';
import type { Stack } from '../helpers/stack.js';
import { Buyers, useStack, createSale, expectCleanAudit, pay, setFaults, stats, waitAdmitterTicks } from './kit.js';

let stack: Stack;
let buyers: Buyers;
useStack((s, b) => ((stack = s), (buyers = b)));
afterEach(() => setFaults(stack, null));

describe('sold_out', () => {
  it('reaches every waiter once both units are paid', async () => {
    const sale = await createSale(stack, { stock: 2 });
    const holders = [await buyers.holding(sale.id), await buyers.holding(sale.id)];
    const waiters = await Promise.all(Array.from({ length: 30 }, () => buyers.queued(sale.id)));
    expect(new Set(waiters.map((w) => w.position)).size).toBe(30);
    expect(await stats(stack, sale.id)).toMatchObject({ held: 2, available: 0, waiting: 30 });

    const outcomes = await Promise.all(holders.map((h) => pay(h.b, h.holdId, 'pm_card_visa')));
    expect(outcomes.map((o) => o.type)).toEqual(['order_confirmed', 'order_confirmed']);

    const soldOut = await Promise.all(waiters.map((w) => w.b.next('sold_out', 10_000)));
    expect(soldOut).toHaveLength(30);
    for (const w of waiters) expect(w.b.frames.some((f) => f.type === 'admitted')).toBe(false);
    // A status afterwards says the same; a join gets no new place.
    const w0 = waiters[0]!.b;
    expect((await w0.request({ type: 'status' }, (f) => f.type !== 'sale')).type).toBe('sold_out');
    expect((await w0.request({ type: 'join' }, (f) => f.type !== 'sale')).type).toBe('sold_out');
    await expectCleanAudit(stack, sale.id, { state: 'sold_out', sold: 2, orders: 2, available: 0, held: 0 });
  });

  it('is not sent while a hold that could come back exists (held, paying, declined)', async () => {
    const sale = await createSale(stack, { stock: 1 });
    const holder = await buyers.holding(sale.id);
    const waiter = await buyers.queued(sale.id);

    // Nothing is free, but the hold may come back: the admitter runs and must not say sold out.
    await waitAdmitterTicks(stack, 10);
    expect((await stats(stack, sale.id)).state).toBe('open');
    expect((await waiter.b.request({ type: 'status' }, (f) => f.type !== 'sale')).type).toBe('queued');

    // Paying (slowly) and then declined: still a unit that may come back.
    await setFaults(stack, { latencyMs: 600 });
    holder.b.send({ type: 'pay', holdId: holder.holdId, paymentMethod: 'pm_card_chargeDeclined' });
    await holder.b.next('payment_pending');
    expect(await stats(stack, sale.id)).toMatchObject({ state: 'open', paying: 1 });
    expect(await holder.b.next('payment_failed')).toMatchObject({ retryable: true });
    await setFaults(stack, null);
    await waitAdmitterTicks(stack, 10);
    expect((await waiter.b.request({ type: 'status' }, (f) => f.type !== 'sale')).type).toBe('queued');

    // The holder gives up: the waiter gets the unit, and was never told sold out.
    await holder.b.request({ type: 'leave' }, 'left');
    const admitted = await waiter.b.next('admitted');
    expect(waiter.b.frames.filter((f) => f.type === 'sold_out' || (f.type === 'sale' && f.state === 'sold_out'))).toEqual([]);
    await pay(waiter.b, admitted.holdId, 'pm_card_visa');
    await waiter.b.next((f) => f.type === 'sale' && f.state === 'sold_out');
    await expectCleanAudit(stack, sale.id, { state: 'sold_out', sold: 1, orders: 1 });
  });
});
