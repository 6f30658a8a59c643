import { describe, expect, it } from 'vitest';
import type { Stack } from '../helpers/stack.js';
import type { BuyerSocket } from '../helpers/buyer.js';
import { Buyers, useStack, createSale, expectCleanAudit, pay } from './kit.js';

let stack: Stack;
let buyers: Buyers;
useStack((s, b) => ((stack = s), (buyers = b)));

/** A buyer's state only moves forward: nothing of the waiting room comes after a hold or an order. */
function expectForwardOnly(b: BuyerSocket) {
  const types = b.frames.map((f) => f.type);
  const admittedAt = types.indexOf('admitted');
  if (admittedAt < 0) return;
  const later = types.slice(admittedAt + 1);
  expect(later.filter((t) => t === 'queued' || t === 'sold_out'), `${b.buyer}: ${JSON.stringify(b.frames)}`).toEqual([]);
}

describe('frames a buyer gets never go back in time', () => {
  it('many buyers joining at once (answers racing admissions) never get queued after admitted', async () => {
    const sale = await createSale(stack, { stock: 40 });
    const all = await Promise.all(Array.from({ length: 40 }, () => buyers.connect(sale.id)));
    // Join and ask again at once: the answers are read while admissions are being pushed.
    for (const b of all) {
      b.send({ type: 'join' });
      b.send({ type: 'status' });
      b.send({ type: 'join' });
    }
    await Promise.all(all.map((b) => b.next('admitted')));
    // One more status each, answered after every admission: a fence for frames still in flight.
    await Promise.all(all.map((b) => b.request({ type: 'status' }, 'admitted')));
    for (const b of all) expectForwardOnly(b);
    await expectCleanAudit(stack, sale.id, { held: 40, available: 0 });
  });

  it('a holder never gets sold_out when the last other unit sells', async () => {
    const sale = await createSale(stack, { stock: 2 });
    const a = await buyers.holding(sale.id);
    const b = await buyers.holding(sale.id);
    const waiter = await buyers.queued(sale.id);
    await pay(a.b, a.holdId, 'pm_card_visa');
    await pay(b.b, b.holdId, 'pm_card_visa');
    await waiter.b.next('sold_out');
    await a.b.next((f) => f.type === 'sale' && f.state === 'sold_out');
    for (const h of [a.b, b.b]) expect(h.frames.filter((f) => f.type === 'sold_out')).toEqual([]);
    await expectCleanAudit(stack, sale.id, { sold: 2, orders: 2 });
  });
});
