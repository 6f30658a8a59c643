import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedis, type RedisClient } from '../../shared/redis.js';
import { Inventory, splitUnits } from '../../inventory/inventory-service.js';
import { poolOfHold } from '../../inventory/keys.js';
import { databaseUrl, redisUrl, services, uniqueId, type Services } from '../helpers/env.js';
import { assertNoOversell } from './oversell-check.js';
import { overlapped, startTakerProcesses, type TakerProcesses } from './taker-processes.js';

const STOCK = 100;
const POOLS = 4;
const TAKERS = 2000;
const PROCESSES = 2;

let svc: Services;
let takers: TakerProcesses;
beforeAll(async () => {
  svc = services();
  takers = await startTakerProcesses(PROCESSES, { REDIS_URL: redisUrl(), REDIS_PREFIX: svc.prefix, DATABASE_URL: databaseUrl() });
});
afterAll(async () => {
  await takers?.close();
  await svc?.close();
});

describe('the pool take primitive under real concurrency', () => {
  it(`${TAKERS} takers in ${PROCESSES} OS processes for ${STOCK} units in ${POOLS} pools: exactly ${STOCK} holds`, async () => {
    const saleId = uniqueId('race-take');
    await svc.inventory.initPools(saleId, STOCK, POOLS);
    const began = performance.now();
    const rounds = await takers.round((i) => ({ kind: 'pool-take', saleId, pools: POOLS, takers: TAKERS / PROCESSES, tag: `p${i}`, holdSeconds: 600 }));
    const elapsedMs = Math.round(performance.now() - began);

    expect(rounds.flatMap((r) => r.errors)).toEqual([]);
    expect(overlapped(rounds), 'both processes had takes in flight at once').toBe(true);
    const wins = rounds.flatMap((r) => r.wins);
    assertNoOversell(wins, STOCK);
    expect(wins).toHaveLength(STOCK);
    expect(rounds.reduce((n, r) => n + r.losses, 0)).toBe(TAKERS - STOCK);

    // The counters: every pool emptied, and the equation holds in each pool and so for the sale.
    const share = splitUnits(STOCK, POOLS);
    const perPool = await svc.inventory.poolStats(saleId, POOLS);
    perPool.forEach((p, i) => {
      expect(p, `pool ${i}`).toMatchObject({ stock: share[i], available: 0, held: share[i], paying: 0, sold: 0 });
      expect(p.available + p.held + p.paying + p.sold, `pool ${i} equation`).toBe(p.stock);
    });
    const taken = share.map(() => 0);
    for (const id of wins) taken[poolOfHold(id)!]!++;
    taken.forEach((n, i) => expect(n, `units taken from pool ${i}`).toBeLessThanOrEqual(share[i]!));

    // The hold records agree with what the takers were told: the same ids, no more, each held.
    const holds = await svc.inventory.listHolds(saleId, POOLS);
    expect(holds.map((h) => h.holdId).sort()).toEqual([...wins].sort());
    expect(holds.every((h) => h.state === 'held')).toBe(true);

    console.log(`race take: takers=${TAKERS} processes=${PROCESSES} units=${STOCK} pools=${POOLS} holds=${wins.length} `
      + `per_process=${rounds.map((r) => r.wins.length).join('+')} per_pool=${taken.join('/')} elapsed_ms=${elapsedMs}`);
  });

  it('two takers on two connections race for the last unit: exactly one wins, every time', async () => {
    const clients: RedisClient[] = [createRedis(redisUrl(), { name: 'race-a' }), createRedis(redisUrl(), { name: 'race-b' })];
    const [a, b] = clients.map((c) => new Inventory(c, svc.prefix)) as [Inventory, Inventory];
    try {
      for (let round = 0; round < 50; round++) {
        const saleId = uniqueId('race-last');
        await svc.inventory.initPools(saleId, 3, 1);
        // Two units go first, so the race is for the last one of a pool that has been used.
        for (const n of [1, 2]) expect(await svc.inventory.take(saleId, 0, svc.inventory.holdId(0, `early_${n}`), `buyer-early-${n}`, 600)).not.toBeNull();
        const racers = [a.holdId(0, `a_${round}`), b.holdId(0, `b_${round}`)];
        const settled = await Promise.allSettled([
          a.take(saleId, 0, racers[0]!, 'buyer-a', 600),
          b.take(saleId, 0, racers[1]!, 'buyer-b', 600),
        ]);
        expect(settled.map((s) => s.status), `round ${round}`).toEqual(['fulfilled', 'fulfilled']);
        const winners = racers.filter((_, i) => (settled[i] as PromiseFulfilledResult<unknown>).value !== null);
        assertNoOversell(winners, 1);
        expect(winners, `round ${round}`).toHaveLength(1);
        const [pool] = await svc.inventory.poolStats(saleId, 1);
        expect(pool).toMatchObject({ stock: 3, available: 0, held: 3 });
      }
    } finally {
      for (const c of clients) c.disconnect();
    }
  });

  it('one taker in each of two OS processes race for the last unit: exactly one wins, every time', async () => {
    for (let round = 0; round < 10; round++) {
      const saleId = uniqueId('race-last-proc');
      await svc.inventory.initPools(saleId, 1, 1);
      const rounds = await takers.round((i) => ({ kind: 'pool-take', saleId, pools: 1, takers: 1, tag: `r${round}_p${i}`, holdSeconds: 600 }));
      expect(rounds.flatMap((r) => r.errors)).toEqual([]);
      const winners = rounds.flatMap((r) => r.wins);
      assertNoOversell(winners, 1);
      expect(winners, `round ${round}`).toHaveLength(1);
      expect(await svc.inventory.stats(saleId, 1)).toMatchObject({ stock: 1, available: 0, held: 1 });
    }
  });
});
