import { afterAll, describe, expect, it } from 'vitest';
import { services, silentLog } from '../tests/helpers/env.js';
import { Inventory } from '../inventory/inventory-service.js';
import { Admitter } from './admitter.js';
import { salesIndexKey } from './keys.js';
import { joinAll, makeSale, record } from './lua-test-support.js';

// When the take of an admission finds its pool empty after all (its units went between the admitter's
// read and the take), the admitter voids the hold id before it puts the buyer back at the front: no
// late retry of that take, by an admitter paused with the id in hand, can then hold a unit that no
// buyer points at and no admission counts.

const s = services();
afterAll(() => s.close());

describe('an admission whose pool is empty at its take', () => {
  it('voids its hold id and re-queues the buyer at the front; a unit coming back goes to them under a new hold id', async () => {
    const sale = await makeSale(s, { stock: 2, pools: 1, maxActiveHolds: 10, admitPerSecond: 1000, takeLease: false });
    await joinAll(s, sale, ['w1', 'w2', 'w3']);
    await s.redis.sadd(salesIndexKey(s.prefix), sale.id);

    // The first time the admitter takes, strangers have just taken every unit of the pool.
    const inventory = new Inventory(s.redis, s.prefix);
    const tried: string[] = [];
    const strangers: string[] = [];
    const take = inventory.take.bind(inventory);
    let stolen: Promise<void> | undefined;
    inventory.take = async (saleId, pool, holdId, buyer, holdSeconds) => {
      // Once, before any of the tick's takes (they run side by side).
      stolen ??= (async () => {
        for (let i = 0; i < sale.stock; i++) {
          strangers.push(s.inventory.holdId(0, `stranger${i}`));
          if (!(await take(saleId, 0, strangers[i]!, `stranger-${i}`, 60))?.created) throw new Error('a stranger found no unit');
        }
      })();
      await stolen;
      if (tried.length < sale.stock) tried.push(holdId);
      return take(saleId, pool, holdId, buyer, holdSeconds);
    };
    const admitter = new Admitter(s.redis, s.prefix, inventory, { tickMs: 50, leaseMs: 2000, batch: 1000, log: silentLog });
    admitter.start();
    try {
      await expect.poll(() => tried.length, { timeout: 10_000, interval: 5 }).toBe(sale.stock);
      await expect.poll(() => s.redis.hlen(sale.k.admitting), { timeout: 5000, interval: 5 }).toBe(0);
      expect(await record(s, sale.k, 'w1')).toEqual({ state: 'waiting', ticket: '1' });
      expect(await record(s, sale.k, 'w2')).toEqual({ state: 'waiting', ticket: '2' });
      for (const id of tried) expect(await s.redis.hgetall(s.inventory.keys(sale.id, 0).hold(id))).toEqual({ state: 'void' });

      // Units come back: the re-queued are admitted first, under new hold ids; the void ones stay void.
      for (const id of strangers) expect(await s.inventory.release(sale.id, id, '')).toBe('released');
      await expect.poll(() => record(s, sale.k, 'w2'), { timeout: 5000, interval: 5 }).toMatchObject({ state: 'holding' });
      for (const b of ['w1', 'w2']) {
        const r = await record(s, sale.k, b);
        expect(r.state).toBe('holding');
        expect(tried).not.toContain(r.holdId);
        expect(await s.inventory.getHold(sale.id, r.holdId!)).toMatchObject({ state: 'held', buyer: b });
      }
      expect(await record(s, sale.k, 'w3')).toEqual({ state: 'waiting', ticket: '3' });
      expect(await s.inventory.stats(sale.id, 1)).toMatchObject({ available: 0, held: 2 });
    } finally {
      await admitter.stop();
    }
  });
});
