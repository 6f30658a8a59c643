import { describe, expect, it } from 'vitest';
import type { Stack } from '../helpers/stack.js';
import { Buyers, useStack, createSale, expectCleanAudit, pay, type Frame } from './kit.js';

let stack: Stack;
let buyers: Buyers;
useStack((s, b) => ((stack = s), (buyers = b)));

/** A queued frame's estimate fields are there and sane (contract: `chance` 0..1, `etaRange` seconds). */
function expectSaneEstimate(q: Frame): void {
  expect(typeof q.chance, JSON.stringify(q)).toBe('number');
  expect(q.chance).toBeGreaterThanOrEqual(0);
  expect(q.chance).toBeLessThanOrEqual(1);
  expect(Array.isArray(q.etaRange) && q.etaRange.length === 2, JSON.stringify(q)).toBe(true);
  const [low, high] = q.etaRange as [number, number];
  expect(Number.isInteger(low) && Number.isInteger(high) && low >= 0 && low <= high, JSON.stringify(q)).toBe(true);
  // Before the sale's own calibration has enough samples the interval is built around the point.
  expect(low <= q.etaSeconds && q.etaSeconds <= high, JSON.stringify(q)).toBe(true);
}

describe('queued frames carry chance and etaRange', () => {
  it('chance falls along the line, far places are told they are unlikely, pushes carry them too, and the operator sees the record', async () => {
    // Three units, all held: every waiter's unit must come back from a holder who does not pay.
    const sale = await createSale(stack, { stock: 3, maxActiveHolds: 3, holdSeconds: 120 });
    const holders = [await buyers.holding(sale.id), await buyers.holding(sale.id), await buyers.holding(sale.id)];
    const waiters: { b: Awaited<ReturnType<Buyers['queued']>>['b']; position: number }[] = [];
    for (let i = 0; i < 12; i++) waiters.push(await buyers.queued(sale.id));
    const first = waiters.map((w) => w.b.frames.find((f) => f.type === 'queued')!);
    for (const q of first) expectSaneEstimate(q);
    expect(first.map((q) => q.position)).toEqual(Array.from({ length: 12 }, (_, i) => i + 1));
    for (let i = 1; i < first.length; i++) expect(first[i]!.chance).toBeLessThanOrEqual(first[i - 1]!.chance);
    // Place 1 may well get a unit (a holder may not pay); place 12 behind 3 units almost surely not.
    expect(first[0]!.chance).toBeGreaterThan(0.2);
    expect(first[11]!.chance).toBeLessThan(0.05);

    // A holder leaves: the first waiter is admitted, and the others' new places come pushed, with estimates.
    const from = waiters[2]!.b.frames.length;
    await holders[0]!.b.request({ type: 'leave' }, 'left');
    const admitted = await waiters[0]!.b.next('admitted');
    const pushed = await waiters[2]!.b.next((f) => f.type === 'queued' && f.position === 2, 10_000, from);
    expectSaneEstimate(pushed);
    expect(pushed.ticket).toBe(first[2]!.ticket);

    // The operator's view: first predictions are kept per buyer (holders who were shown a place from a
    // tick's model too), and the admitted ones have their outcome: the first waiter's among them.
    let est: any;
    const until = Date.now() + 10_000;
    do {
      const r = await stack.admin('GET', `/v1/admin/sales/${sale.id}`);
      expect(r.status).toBe(200);
      est = r.body.estimates;
      if (est?.recent?.some((r: any) => r.chance === first[0]!.chance)) break;
      await new Promise((res) => setTimeout(res, 100));
    } while (Date.now() < until);
    expect(est.recent.some((r: any) => r.chance === first[0]!.chance), JSON.stringify(est)).toBe(true);
    expect(est).toMatchObject({ missed: 0, left: 0 });
    expect(est.predictions).toBeGreaterThanOrEqual(12);
    expect(est.admitted).toBe(est.resolved);
    expect(est.coverage).toBeGreaterThanOrEqual(0);
    expect(est.coverage).toBeLessThanOrEqual(1);
    expect(est.brier).toBeGreaterThanOrEqual(0);
    expect(est.brier).toBeLessThanOrEqual(1);

    await pay(waiters[0]!.b, admitted.holdId, 'pm_card_visa');
    await expectCleanAudit(stack, sale.id, { sold: 1, orders: 1, held: 2 });
  });
});
