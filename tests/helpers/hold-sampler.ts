import { Cluster } from 'ioredis';
import type { RedisClient } from '../../shared/redis.js';
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
 * On a Redis Cluster the pools are in other slots by design and no MULTI spans them: a sample there is
 * two reads of every pool in a row that agree (a double collect: the counters held those values
 * together at some moment between the two); samples whose reads differ are dropped.
 */
export function sampleHolds(redis: RedisClient, inventory: Inventory, saleId: string, pools: number, gapMs = 2): { seen: HoldSamples; stop(): Promise<HoldSamples> } {
  const seen: HoldSamples = { samples: 0, maxActive: 0, minAvailable: Number.POSITIVE_INFINITY, broken: [] };
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      const rows = redis instanceof Cluster ? await doubleCollect(redis, inventory, saleId, pools) : await oneMulti(redis, inventory, saleId, pools);
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

type Rows = [Error | null, unknown][] | null;
const FIELDS = ['stock', 'available', 'held', 'paying', 'sold'] as const;

function oneMulti(redis: RedisClient, inventory: Inventory, saleId: string, pools: number): Promise<Rows> {
  const m = redis.multi();
  for (let p = 0; p < pools; p++) m.hmget(inventory.keys(saleId, p).pool, ...FIELDS);
  return m.exec();
}

async function doubleCollect(redis: Cluster, inventory: Inventory, saleId: string, pools: number): Promise<Rows> {
  const collect = () => Promise.all(Array.from({ length: pools }, (_, p) => redis.hmget(inventory.keys(saleId, p).pool, ...FIELDS)));
  const a = await collect();
  const b = await collect();
  if (JSON.stringify(a) !== JSON.stringify(b)) return null;
  return b.map((r) => [null, r]);
}
