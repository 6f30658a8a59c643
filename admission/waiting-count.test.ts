import { afterAll, describe, expect, it } from 'vitest';
import { services } from '../tests/helpers/env.js';
import { joinAll, makeSale } from './lua-test-support.js';

// `waiting` (operator stats, console, the fs_waiting_buyers gauge: all read waitingCount) counts the
// buyers still waiting for a unit. The contract: those told `sold_out` are not waiting.
const s = services();
afterAll(() => s.close());
const scripts = s.room.scripts;

/** What the admitter's tick writes when nothing is free, held or paying (admitter.ts owns the flag). */
const markSoldOut = (key: string, on: boolean) => s.redis.hset(key, 'soldOut', on ? '1' : '0');

describe('waiting, for the operator', () => {
  it('leaves out every waiter told sold_out, and counts them again when a restock clears the flag', async () => {
    const sale = await makeSale(s, { takeLease: false });
    await joinAll(s, sale, ['w1', 'w2', 'w3']);
    expect(await scripts.waitingCount(sale.k)).toBe(3);

    await markSoldOut(sale.k.sale, true);
    // Each of them is told sold_out by the script that answers their status...
    for (const b of ['w1', 'w2', 'w3']) expect(await scripts.join(sale.k, b, 'status')).toEqual(['sold_out']);
    // ...so none of them is waiting.
    expect(await scripts.waitingCount(sale.k)).toBe(0);

    // A restock clears the flag: the same places are waiting again (they were kept, in order).
    await markSoldOut(sale.k.sale, false);
    expect(await scripts.join(sale.k, 'w2', 'status')).toEqual(['waiting', 2, 0]);
    expect(await scripts.waitingCount(sale.k)).toBe(3);
  });

  it('leaves out the pre-queue too once the sale is sold out', async () => {
    const sale = await makeSale(s, { takeLease: false, startsAt: Date.now() + 3600_000, endsAt: Date.now() + 7200_000 });
    await joinAll(s, sale, ['p1', 'p2']);
    expect(await scripts.waitingCount(sale.k)).toBe(2);
    await markSoldOut(sale.k.sale, true);
    expect(await scripts.join(sale.k, 'p1', 'status')).toEqual(['sold_out']);
    expect(await scripts.waitingCount(sale.k)).toBe(0);
  });
});
