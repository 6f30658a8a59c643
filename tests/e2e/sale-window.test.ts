import { describe, expect, it } from 'vitest';
import type { Stack } from '../helpers/stack.js';
import { Buyers, useStack, createSale, expectCleanAudit, stats } from './kit.js';

let stack: Stack;
let buyers: Buyers;
useStack((s, b) => ((stack = s), (buyers = b)));

const isoIn = (ms: number) => new Date(Date.now() + ms).toISOString();

describe('the sale window, as buyers see it', () => {
  it('before the start buyers wait in the pre-queue; at the start they are told the sale is open and admitted', async () => {
    const sale = await createSale(stack, { stock: 5, startsAt: isoIn(2000) });
    const early = await Promise.all([0, 1, 2].map(() => buyers.connect(sale.id)));
    for (const b of early) expect(b.frames[0]).toMatchObject({ type: 'sale', state: 'scheduled', startsAt: sale.startsAt });
    await Promise.all(early.map((b) => b.request({ type: 'join' }, 'queued')));
    // Once all have joined, pre-queue places are a shuffle of 1..3 (a place is a rank among those
    // joined so far), and the ETA counts the time left to the start.
    const places = await Promise.all(early.map((b) => b.request({ type: 'status' }, 'queued')));
    expect(places.map((p) => p.position).sort()).toEqual([1, 2, 3]);
    for (const p of places) {
      expect(Number.isInteger(p.etaSeconds), JSON.stringify(p)).toBe(true);
      expect(p.etaSeconds).toBeGreaterThanOrEqual(1);
    }
    // A join again keeps the pre-queue place.
    expect((await early[0]!.request({ type: 'join' }, 'queued')).position).toBe(places[0]!.position);

    const admitted = await Promise.all(early.map((b) => b.next('admitted', 15_000)));
    expect(new Set(admitted.map((a) => a.holdId)).size).toBe(3);
    // The state change scheduled -> open reaches every socket as a sale frame.
    for (const b of early) await b.next((f) => f.type === 'sale' && f.state === 'open', 5000);
    await expectCleanAudit(stack, sale.id, { state: 'open', held: 3, available: 2 });
  });

  it('when endsAt passes, waiters are told the sale ended and joins are refused', async () => {
    const sale = await createSale(stack, { stock: 1, endsAt: isoIn(2500) });
    const holder = await buyers.holding(sale.id);
    const waiter = await buyers.queued(sale.id);
    await waiter.b.next((f) => f.type === 'sale' && f.state === 'ended', 10_000);
    expect((await stats(stack, sale.id)).state).toBe('ended');
    const refused = await buyers.connect(sale.id);
    expect(refused.frames[0]).toMatchObject({ type: 'sale', state: 'ended' });
    expect(await refused.request({ type: 'join' }, (f) => f.type !== 'sale')).toMatchObject({ type: 'error', code: 'sale_ended' });
    expect(holder.b.frames.some((f) => f.type === 'sale' && f.state === 'ended')).toBe(true);
    await expectCleanAudit(stack, sale.id, { state: 'ended' });
  });
});
