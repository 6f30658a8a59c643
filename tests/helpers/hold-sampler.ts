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

type Row = [stock: number, available: number, held: number, paying: number, sold: number];

/** Every pool's counters in one MULTI: one moment of the whole sale (a single Redis server). */
async function readAtOnce(redis: RedisClient, keys: string[]): Promise<Row[] | null> {
  const m = redis.multi();
  for (const k of keys) m.hmget(k, 'stock', 'available', 'held', 'paying', 'sold');
  const rows = await m.exec();
  if (!rows) return null;
  return rows.map(([err, r]) => {
    if (err) throw err;
    return (r as (string | null)[]).map(Number) as Row;
  });
}

/**
 * On a Cluster the pools live on different nodes and no MULTI spans them: each pool's HMGET is atomic
 * on its own, all are sent at once, and a sample counts only when two reads in a row agree: a sum of
 * one pool read before an admission or release and another after it would need that change undone
 * before the second read. Each pool's own equation is exact either way.
 */
async function readSettled(redis: RedisClient, keys: string[]): Promise<Row[] | null> {
  const once = () => Promise.all(keys.map(async (k) => (await redis.hmget(k, 'stock', 'available', 'held', 'paying', 'sold')).map(Number) as Row));
  let last = await once();
  for (let i = 0; i < 5; i++) {
    const next = await once();
    if (JSON.stringify(next) === JSON.stringify(last)) return next;
    last = next;
  }
  return null;
}

/**
 * Samples a sale's pools continuously on its own Redis client until stopped, each sample one moment of
 * the whole sale (readAtOnce on one server, readSettled on a Cluster). Sampling on another client than
 * the processes under test means their pauses do not pause it.
 * `gapMs` between samples keeps it from hogging a small shared machine; an admission's unit stays
 * held far longer than that, so an excess cannot slip between two samples.
 */
export function sampleHolds(redis: RedisClient, inventory: Inventory, saleId: string, pools: number, gapMs = 2): { seen: HoldSamples; stop(): Promise<HoldSamples> } {
  const seen: HoldSamples = { samples: 0, maxActive: 0, minAvailable: Number.POSITIVE_INFINITY, broken: [] };
  const keys = Array.from({ length: pools }, (_, p) => inventory.keys(saleId, p).pool);
  const read = 'isCluster' in redis && redis.isCluster ? readSettled : readAtOnce;
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      const rows = await read(redis, keys);
      if (!rows) {
        await new Promise((r) => setTimeout(r, gapMs));
        continue;
      }
      let stock = 0, available = 0, held = 0, paying = 0, sold = 0;
      for (const [st, av, he, pa, so] of rows) {
        stock += st; available += av; held += he; paying += pa; sold += so;
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
