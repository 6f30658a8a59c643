import { afterAll, describe, expect, it } from 'vitest';
import { createRedis } from '../shared/redis.js';
import { redisUrl, services, silentLog } from '../tests/helpers/env.js';
import { sampleHolds } from '../tests/helpers/hold-sampler.js';
import { Inventory } from '../inventory/inventory-service.js';
import { metrics } from '../shared/metrics.js';
import { Admitter } from './admitter.js';
import { salesIndexKey } from './keys.js';
import { joinAll, makeSale, record } from './lua-test-support.js';

// An admitter that loses its takes between admit-8 and the pools (a crash of that step, lost Redis
// writes) keeps its lease and goes on ticking: the buyers it left 'admitting' are finished by its own
// ticks within a few ticks, with no lease change, and while they are unfinished they count against
// maxActiveHolds, so finishing them late never pushes held + paying over the cap.

const s = services();
const sampler = createRedis(redisUrl(), { name: 'test-sampler' });
afterAll(async () => {
  sampler.disconnect();
  await s.close();
});

const TICK_MS = 50;
const MAX_ACTIVE = 3;

describe('admissions left unfinished by a failed step', () => {
  it('are finished by the lease holder within a few ticks, never above maxActiveHolds, without a lease change', async () => {
    const sale = await makeSale(s, { stock: 20, pools: 2, maxActiveHolds: MAX_ACTIVE, admitPerSecond: 1000, takeLease: false });
    await joinAll(s, sale, Array.from({ length: 10 }, (_, i) => `w${i + 1}`));
    await s.redis.sadd(salesIndexKey(s.prefix), sale.id);

    // The admitter's own inventory fails its first MAX_ACTIVE takes: the step after admit-8 is lost.
    const inventory = new Inventory(s.redis, s.prefix);
    const lost: string[] = [];
    let lostAtTick = 0;
    const ticks = async () => (await metrics.admitterTicks.get()).values[0]?.value ?? 0;
    const take = inventory.take.bind(inventory);
    inventory.take = async (saleId, pool, holdId, buyer, holdSeconds) => {
      if (lost.length < MAX_ACTIVE) {
        lost.push(holdId);
        void ticks().then((n) => (lostAtTick = n));
        throw new Error('connection lost (test)');
      }
      return take(saleId, pool, holdId, buyer, holdSeconds);
    };
    const admitter = new Admitter(s.redis, s.prefix, inventory, { tickMs: TICK_MS, leaseMs: 2000, batch: 1000, log: silentLog });
    const sampling = sampleHolds(sampler, s.inventory, sale.id, sale.pools);
    admitter.start();
    try {
      await expect.poll(() => lost.length, { timeout: 10_000, interval: 5 }).toBe(MAX_ACTIVE);
      const lease = await s.redis.get(sale.k.lease);
      expect(lease!.startsWith(admitter.owner)).toBe(true);
      const stuck = Object.entries(await s.redis.hgetall(sale.k.admitting)).map(([holdId, buyer]) => ({ holdId, buyer }));
      expect(stuck.map((x) => x.holdId).sort()).toEqual([...lost].sort());

      // Finished by the admitter's own ticks: a few of them, not a lease change away.
      await expect.poll(() => s.redis.hlen(sale.k.admitting), { timeout: 5000, interval: 5 }).toBe(0);
      // The grace is three ticks' time; ticks under load only come slower, never faster.
      expect((await ticks()) - lostAtTick).toBeLessThanOrEqual(8);
      expect(await s.redis.get(sale.k.lease)).toBe(lease);
      for (const { holdId, buyer } of stuck) {
        expect(await record(s, sale.k, buyer)).toMatchObject({ state: 'holding', holdId });
        expect(await s.inventory.getHold(sale.id, holdId)).toMatchObject({ state: 'held', buyer });
      }
      // Ticks go on; the unfinished admissions were counted all along, so nobody else got in.
      await new Promise((r) => setTimeout(r, 10 * TICK_MS));
      const seen = await sampling.stop();
      expect(seen.broken).toEqual([]);
      expect(seen.maxActive).toBe(MAX_ACTIVE);
      expect((await s.inventory.stats(sale.id, sale.pools)).held).toBe(MAX_ACTIVE);
      expect(await s.redis.get(sale.k.lease)).toBe(lease);
    } finally {
      await sampling.stop();
      await admitter.stop();
    }
  });
});
