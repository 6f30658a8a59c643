import { describe, expect, it } from 'vitest';
import type { Stack } from '../helpers/stack.js';
import { Buyers, useStack, createSale, expectCleanAudit, pay } from './kit.js';

let stack: Stack;
let buyers: Buyers;
useStack((s, b) => ((stack = s), (buyers = b)));

describe('queued positions', () => {
  it('are pushed as the queue moves, without the buyer asking', async () => {
    // One hold at a time: each sale lets the next waiter in.
    const sale = await createSale(stack, { stock: 5, maxActiveHolds: 1 });
    const first = await buyers.holding(sale.id);
    const second = await buyers.queued(sale.id);
    const third = await buyers.queued(sale.id);
    expect([second.position, third.position]).toEqual([1, 2]);
    for (const w of [second, third]) {
      const q = w.b.frames.find((f) => f.type === 'queued')!;
      expect(Number.isInteger(q.etaSeconds) && q.etaSeconds >= 0).toBe(true);
    }

    const from = third.b.frames.length;
    await pay(first.b, first.holdId, 'pm_card_visa');
    const admitted = await second.b.next('admitted');
    // The third buyer is told of their new place by the gateway, not by asking.
    const moved = await third.b.next((f) => f.type === 'queued' && f.position === 1, 10_000, from);
    expect(Number.isInteger(moved.etaSeconds)).toBe(true);

    await pay(second.b, admitted.holdId, 'pm_card_visa');
    await third.b.next('admitted');
    await expectCleanAudit(stack, sale.id, { sold: 2, orders: 2, held: 1, waiting: 0 });
  });
});
