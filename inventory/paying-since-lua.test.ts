import { describe, expect, it } from 'vitest';
import { checkedServices, saleWithHolds } from './lua-test-support.js';

// paying-since-1 (reconciliation's worklist) against the real Redis: holds are aged by Redis' clock.
// The scripts run on a test clock (tests/helpers/test-clock.ts): deadlines pass when a test moves it.
const s = checkedServices({ clockMs: Date.now() });
const clock = s.clock!;
/** Moves the scripts' clock strictly past `ms` (never back). */
const passed = (ms: number) => clock.set(Math.max(clock.now(), ms + 1));
const inv = s.inventory;

describe('paying-since-1.lua', () => {
  it('lists the holds paying for at least the given age by Redis\' clock, longest paying first, at most `limit`', async () => {
    const { saleId, k, ids } = await saleWithHolds(inv, 4, ['b1', 'b2', 'b3', 'b4']);
    await inv.beginPay(saleId, ids.b1!, 'b1');
    await inv.beginPay(saleId, ids.b2!, 'b2');
    const began = clock.now();
    // b3 only held, b4 paying but too young to be listed.
    passed(began + 300);
    await inv.beginPay(saleId, ids.b4!, 'b4');
    expect(await inv.scripts.payingSince(k, 250, 100)).toEqual([ids.b1, ids.b2]);
    expect(await inv.scripts.payingSince(k, 250, 1)).toEqual([ids.b1]);
    expect(await inv.scripts.payingSince(k, 0, 100)).toEqual([ids.b1, ids.b2, ids.b4]);
    expect(await inv.scripts.payingSince(k, 60_000, 100)).toEqual([]);
    expect(await inv.payingLongerThan(saleId, 1, 250)).toEqual([ids.b1, ids.b2]);
  });
});
