import { describe, expect, it } from 'vitest';
import type { Stack } from '../helpers/stack.js';
import type { BuyerSocket } from '../helpers/buyer.js';
import { Buyers, useStack, createSale, expectCleanAudit, pay, stats } from './kit.js';

let stack: Stack;
let buyers: Buyers;
useStack((s, b) => ((stack = s), (buyers = b)));

/** Sends raw data and returns the error frame it earns; the contract's shape is checked here. */
async function refused(b: BuyerSocket, data: string | Buffer, code: string) {
  const from = b.frames.length;
  b.ws.send(data);
  const f = await b.next((x) => x.type === 'error', 10_000, from);
  expect(Object.keys(f).sort()).toEqual(['code', 'message', 'type']);
  expect(f.code).toBe(code);
  expect(typeof f.message).toBe('string');
  expect(f.message.length).toBeGreaterThan(0);
  return f;
}

describe('bad frames get an error frame and change nothing', () => {
  it('garbage, binary, oversized, unknown, someone else\'s hold, malformed paymentMethod', async () => {
    const sale = await createSale(stack, { stock: 3 });
    const me = await buyers.holding(sale.id);
    const other = await buyers.holding(sale.id);
    const before = await stats(stack, sale.id);
    expect(before).toMatchObject({ held: 2, available: 1 });

    await refused(me.b, 'this is not json{', 'invalid_json');
    await refused(me.b, Buffer.from([0x7b, 0x7d, 0x00, 0xff]), 'binary_not_supported');
    await refused(me.b, JSON.stringify({ type: 'status', pad: 'x'.repeat(5000) }), 'payload_too_large');
    await refused(me.b, JSON.stringify({ type: 'join', pad: 'x'.repeat(4090) }), 'payload_too_large');
    await refused(me.b, JSON.stringify({ type: 'buy-everything' }), 'invalid_frame');
    await refused(me.b, JSON.stringify({ type: 'join', extra: 1 }), 'invalid_frame');
    await refused(me.b, JSON.stringify([{ type: 'join' }]), 'invalid_frame');
    await refused(me.b, 'null', 'invalid_frame');
    await refused(me.b, '"join"', 'invalid_frame');
    // Pay frames from a second tab of the same buyer (each socket has its own frame budget of 20/s).
    const tab = await buyers.connect(sale.id, me.b.buyer);
    await tab.next('admitted');
    // Someone else's hold: reported as not found, so hold ids tell nothing about other buyers.
    await refused(tab, JSON.stringify({ type: 'pay', holdId: other.holdId, paymentMethod: 'pm_card_visa' }), 'hold_not_found');
    await refused(tab, JSON.stringify({ type: 'pay', holdId: 'hold_9_9_nothere', paymentMethod: 'pm_card_visa' }), 'hold_not_found');
    for (const paymentMethod of ['visa', 'pm_', 'pm_card visa', 'pm_card_visa"; DROP TABLE orders;--', 42, null]) {
      await refused(tab, JSON.stringify({ type: 'pay', holdId: me.holdId, paymentMethod }), 'invalid_frame');
    }
    await refused(tab, JSON.stringify({ type: 'pay', holdId: '../../etc', paymentMethod: 'pm_card_visa' }), 'invalid_frame');
    await refused(tab, JSON.stringify({ type: 'pay', holdId: me.holdId }), 'invalid_frame');

    // Nothing changed: no charge, no stock moved, both holds are their buyers' still.
    expect(stack.standIn.charges().filter((c) => c.metadata.saleId === sale.id)).toEqual([]);
    expect(await stats(stack, sale.id)).toEqual(before);
    expect(me.b.ws.readyState).toBe(me.b.ws.OPEN);
    expect(tab.ws.readyState).toBe(tab.ws.OPEN);
    expect(await tab.request({ type: 'status' }, 'admitted')).toMatchObject({ holdId: me.holdId });
    expect(await other.b.request({ type: 'status' }, 'admitted')).toMatchObject({ holdId: other.holdId });
    expect(other.b.frames.filter((f) => f.type === 'error')).toEqual([]);

    // And both can still pay.
    expect(await pay(other.b, other.holdId, 'pm_card_visa')).toMatchObject({ type: 'order_confirmed' });
    expect(await pay(me.b, me.holdId, 'pm_card_visa')).toMatchObject({ type: 'order_confirmed' });
    expect(me.b.frames.filter((f) => f.type === 'error' && f.code === 'rate_limited')).toEqual([]);
    await expectCleanAudit(stack, sale.id, { sold: 2, orders: 2, available: 1 });
  });

  it('a flood of frames is rate limited on that socket only, and the socket stays open', async () => {
    const sale = await createSale(stack, { stock: 2 });
    // Settled state first (a hold, not an admission in flight), so the stats can be compared.
    const flooder = await buyers.holding(sale.id);
    const calm = await buyers.connect(sale.id);
    const before = await stats(stack, sale.id);
    const from = flooder.b.frames.length;
    for (let i = 0; i < 60; i++) flooder.b.send({ type: 'status' });
    await flooder.b.next((f) => f.type === 'error' && f.code === 'rate_limited', 10_000, from);
    expect(flooder.b.ws.readyState).toBe(flooder.b.ws.OPEN);
    expect(await calm.request({ type: 'status' }, 'sale')).toMatchObject({ state: 'open' });
    expect(calm.frames.filter((f) => f.type === 'error')).toEqual([]);
    expect(await stats(stack, sale.id)).toEqual(before);
    // Every flood frame got its answer: a status answered (sale frame) or refused (rate_limited).
    const limited = (f: { type: string; code?: string }) => f.type === 'error' && f.code === 'rate_limited';
    const settled = () => flooder.b.frames.slice(from).filter((f) => limited(f) || f.type === 'sale').length === 60;
    await flooder.b.next(() => settled(), 10_000, from);
    expect(flooder.b.frames.slice(from).filter(limited).length).toBeGreaterThanOrEqual(20);
    // The budget refills (a frame every 50 ms): the same socket is answered again within a second. Each
    // try waits for its own answer; the tries are bounded by time, not by count (a hundred round trips
    // can take less than 50 ms on a fast machine).
    let answered = false;
    for (const until = Date.now() + 1000; !answered && Date.now() < until;) {
      answered = (await flooder.b.request({ type: 'status' }, (f) => f.type === 'sale' || limited(f))).type === 'sale';
    }
    expect(answered).toBe(true);
    await expectCleanAudit(stack, sale.id, { held: 1 });
  });

  it('a frame of more than 64 KiB closes only that socket', async () => {
    const sale = await createSale(stack, { stock: 2 });
    const big = await buyers.holding(sale.id);
    const bystander = await buyers.holding(sale.id);
    const before = await stats(stack, sale.id);
    big.b.ws.send('x'.repeat(70 * 1024));
    expect(await big.b.closed).toBeGreaterThan(1000);
    expect(await bystander.b.request({ type: 'status' }, 'admitted')).toMatchObject({ holdId: bystander.holdId });
    expect(await stats(stack, sale.id)).toEqual(before);
    // The closed buyer's hold is theirs still: a reconnect gets it back.
    const back = await buyers.connect(sale.id, big.b.buyer);
    expect((await back.next('admitted')).holdId).toBe(big.holdId);
    await expectCleanAudit(stack, sale.id, { held: 2 });
  });
});
