import { describe, expect, it } from 'vitest';
import { checkedServices, redisNow, saleWithHolds, waitPast } from './lua-test-support.js';

// paying-since-1 (reconciliation's worklist) against the real Redis: holds are aged by Redis' clock.
const s = checkedServices();
const inv = s.inventory;

describe('paying-since-1.lua', () => {
  it('lists the holds paying for at least the given age by Redis\' clock, longest paying first, at most `limit`', async () => {
    const { saleId, k, ids } = await saleWithHolds(inv, 4, ['b1', 'b2', 'b3', 'b4']);
    await inv.beginPay(saleId, ids.b1!, 'b1');
    await inv.beginPay(saleId, ids.b2!, 'b2');
    const began = await redisNow(inv.redis);
    // b3 only held, b4 paying but too young to be listed.
    await waitPast(inv.redis, began + 300);
    await inv.beginPay(saleId, ids.b4!, 'b4');
    expect(await inv.scripts.payingSince(k, 250, 100)).toEqual([ids.b1, ids.b2]);
    expect(await inv.scripts.payingSince(k, 250, 1)).toEqual([ids.b1]);
    expect(await inv.scripts.payingSince(k, 0, 100)).toEqual([ids.b1, ids.b2, ids.b4]);
    expect(await inv.scripts.payingSince(k, 60_000, 100)).toEqual([]);
    expect(await inv.payingLongerThan(saleId, 1, 250)).toEqual([ids.b1, ids.b2]);
  });
});
