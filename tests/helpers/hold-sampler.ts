import { isCluster, type RedisClient } from '../../shared/redis.js';
import type { Inventory } from '../../inventory/inventory-service.js';

/** What a sampler saw over its run, sample by sample. */
export interface HoldSamples {
  samples: number;
  /** Highest held + paying of the sale seen in one sample. */
  maxActive: number;
  /** Lowest available units seen (negative would be an oversell). */
  minAvailable: number;
  /** Samples in which stock != available + held + paying + sold, or a term was negative. */
  broken: string[];
}

/**
 * Samples a sale's pools continuously on its own Redis client until stopped: every pool's counters in
 * one MULTI, so each sample is one moment of the whole sale (a single Redis server, as the tests run).
 * Sampling on another client than the processes under test means their pauses do not pause it.
 * `gapMs` between samples keeps it from hogging a small shared machine; an admission's unit stays
 * held far longer than that, so an excess cannot slip between two samples.
 *
 * On a Redis Cluster the pools live on several masters and no MULTI spans them: each pool is read
 * atomically, the pools one after the other. The pool equation is still exact (it holds per pool);
 * held + paying summed over reads at different moments is exact while units are only taken during
 * the sampling (the admitter tests: holds outlast the test), which is when it is relied on.
 */
export function sampleHolds(redis: RedisClient, inventory: Inventory, saleId: string, pools: number, gapMs = 2): { seen: HoldSamples; stop(): Promise<HoldSamples> } {
  const seen: HoldSamples = { samples: 0, maxActive: 0, minAvailable: Number.POSITIVE_INFINITY, broken: [] };
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      const rows = await readPools(redis, inventory, saleId, pools);
      if (!rows) continue;
      let stock = 0, available = 0, held = 0, paying = 0, sold = 0;
      for (const [err, r] of rows) {
        if (err) throw err;
        const [st, av, he, pa, so] = (r as (string | null)[]).map(Number);
        stock += st!; available += av!; held += he!; paying += pa!; sold += so!;
      }
      seen.samples++;
      seen.maxActive = Math.max(seen.maxActive, held + paying);
      seen.minAvailable = Math.min(seen.minAvailable, available);
      if (stock !== available + held + paying + sold || Math.min(available, held, paying, sold) < 0) {
        seen.broken.push(`stock ${stock} available ${available} held ${held} paying ${paying} sold ${sold}`);
      }
      await new Promise((r) => setTimeout(r, gapMs));
    }
  })();
  return {
    seen,
    stop: async () => {
      stopped = true;
      await loop;
      return seen;
    },
  };
}

const FIELDS = ['stock', 'available', 'held', 'paying', 'sold'] as const;

async function readPools(redis: RedisClient, inventory: Inventory, saleId: string, pools: number): Promise<[Error | null, unknown][] | null> {
  if (isCluster(redis)) {
    const rows: [Error | null, unknown][] = [];
    for (let p = 0; p < pools; p++) rows.push([null, await redis.hmget(inventory.keys(saleId, p).pool, ...FIELDS)]);
    return rows;
  }
  const m = redis.multi();
  for (let p = 0; p < pools; p++) m.hmget(inventory.keys(saleId, p).pool, ...FIELDS);
  return m.exec();
}
