import { afterAll, describe, expect, it } from 'vitest';
import { createRedis, isCluster, keySlot } from '../shared/redis.js';
import { redisUrl, silentLog } from '../tests/helpers/env.js';
import { saleKeys } from '../admission/keys.js';
import { poolKeys } from './keys.js';

// Every Lua script touches one slot only when all its keys share a hash tag; a sale's pools only spread
// its takes over a Cluster when each pool has a slot of its own. Checked on the key names (any Redis),
// and on a Redis Cluster against the masters that own those slots now (CLUSTER SHARDS).
const redis = createRedis(redisUrl(), { name: 'pool-slots-test', log: silentLog });
afterAll(() => redis.disconnect());

const SALE = 'sneaker-drop-42';
const POOLS = 6;
const prefix = 'tslots:';

const poolSlot = (p: number) => keySlot(poolKeys(prefix, SALE, p).pool);

describe('hash slots of a sale', () => {
  it("every key of one pool is in the pool's one slot; every waiting-room key in the sale's", () => {
    for (let p = 0; p < POOLS; p++) {
      const k = poolKeys(prefix, SALE, p);
      expect(new Set([k.pool, k.deadlines, k.paying, k.holds, k.hold('hold_1_x')].map(keySlot))).toEqual(new Set([poolSlot(p)]));
    }
    const s = saleKeys(prefix, SALE);
    const saleSlots = new Set([s.sale, s.buyers, s.pre, s.line, s.requeued, s.bucket, s.admitting, s.admittingSince, s.lease, s.leaseToken, s.channel, s.orders('b1')].map(keySlot));
    expect(saleSlots.size).toBe(1);
  });

  it('the pools of one sale have slots of their own, spread over the slot ranges of a 3-master Cluster', () => {
    const slots = Array.from({ length: POOLS }, (_, p) => poolSlot(p));
    expect(new Set(slots).size).toBe(POOLS);
    // redis-cli --cluster create gives 3 masters these ranges.
    const third = (slot: number) => (slot <= 5460 ? 0 : slot <= 10922 ? 1 : 2);
    expect(new Set(slots.map(third)).size).toBeGreaterThan(1);
  });

  it('on a Redis Cluster: Redis agrees on every slot, and the pools land on more than one master', async () => {
    if (!isCluster(redis)) {
      // A single server has no slots to ask about: the name checks above are all there is.
      expect(await redis.ping()).toBe('PONG');
      return;
    }
    const c = redis;
    for (let p = 0; p < POOLS; p++) expect(await c.cluster('KEYSLOT', poolKeys(prefix, SALE, p).pool)).toBe(poolSlot(p));
    const owners = masterOfSlot(await c.cluster('SHARDS') as unknown[]);
    const masters = new Set(Array.from({ length: POOLS }, (_, p) => owners(poolSlot(p))));
    expect(masters.has(undefined)).toBe(false);
    expect(masters.size).toBeGreaterThan(1);
  });
});

/** CLUSTER SHARDS (Redis 7): slot -> the id of the master that serves it. */
function masterOfSlot(shards: unknown[]): (slot: number) => string | undefined {
  const ranges: { from: number; to: number; master: string }[] = [];
  for (const shard of shards as unknown[][]) {
    const f = fields(shard);
    const slots = f.slots as number[];
    const master = (f.nodes as unknown[][]).map(fields).find((n) => n.role === 'master');
    if (!master) continue;
    for (let i = 0; i + 1 < slots.length; i += 2) ranges.push({ from: slots[i]!, to: slots[i + 1]!, master: String(master.id) });
  }
  return (slot) => ranges.find((r) => slot >= r.from && slot <= r.to)?.master;
}

function fields(flat: unknown[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) out[String(flat[i])] = flat[i + 1];
  return out;
}
