/**
 * The arithmetic of the cluster bench, apart from any Redis: which master each of a sale's pools lands
 * on, whether that spread is even, and what a measured CPU cost per take allows on a machine of N
 * cores. Kept pure so it is tested without a Cluster.
 */

/** `CLUSTER SLOTS` as ioredis returns it: [from, to, [host, port, id], ...replicas]. */
export type SlotRanges = [number, number, [string, number, ...unknown[]], ...unknown[]][];

/** The port of the master serving `slot`; throws when no range covers it (a Cluster not fully formed). */
export function masterOfSlot(ranges: SlotRanges, slot: number): number {
  for (const [from, to, master] of ranges) if (slot >= from && slot <= to) return master[1];
  throw new Error(`no master serves slot ${slot}`);
}

/** Pool indexes per master port, every master listed (an empty list for one that got no pool). */
export function poolsPerMaster(poolMasters: readonly number[], masters: readonly number[]): Map<number, number[]> {
  const out = new Map<number, number[]>(masters.map((m) => [m, []]));
  poolMasters.forEach((m, pool) => {
    const list = out.get(m);
    if (!list) throw new Error(`pool ${pool} is on ${m}, which is not one of the masters ${masters.join(', ')}`);
    list.push(pool);
  });
  return out;
}

/** Even: no master has more than one pool more than another (so every master carries its share). */
export function isEvenSpread(spread: Map<number, number[]>): boolean {
  const sizes = [...spread.values()].map((l) => l.length);
  return sizes.length > 0 && Math.max(...sizes) - Math.min(...sizes) <= 1;
}

/** "7001: pools 0,3 · 7002: pools 1,4 · 7003: pools 2,5" */
export function describeSpread(spread: Map<number, number[]>): string {
  return [...spread].map(([port, pools]) => `${port}: ${pools.length ? `pools ${pools.join(',')}` : 'no pool'}`).join(' · ');
}

/** CPU per reservation, measured from /proc over a timed window (µs). */
export interface TakeCost {
  /** The Redis client process (a gateway's admitter, here the bench): builds, sends, reads each call. */
  clientUs: number;
  /** Every Redis server process together: each take runs on exactly one of them. */
  redisUs: number;
}

/**
 * Reservations per second that `cores` cores can give with `shards` Redis processes, one core each, and
 * the client processes on the cores left: each shard is one thread, so a shard saturates at 1e6 ÷ redisUs
 * of its own takes (the takes spread evenly over shards, as even pools make them), and the clients at
 * 1e6 ÷ clientUs per core. The least of the two is the ceiling. A single Redis is `shards = 1`.
 * Ignores the network and assumes clients scale out (they do: admitters are one per sale, gateways many).
 */
export function takeCeiling(cost: TakeCost, shards: number, cores: number): number {
  if (shards < 1 || cores <= shards || cost.clientUs <= 0 || cost.redisUs <= 0) return 0;
  return Math.min((shards * 1e6) / cost.redisUs, ((cores - shards) * 1e6) / cost.clientUs);
}

/** The shard count that gives `cores` cores their highest ceiling, and that ceiling. */
export function bestSplit(cost: TakeCost, cores: number): { shards: number; perSecond: number } {
  let best = { shards: 0, perSecond: 0 };
  for (let shards = 1; shards < cores; shards++) {
    const perSecond = takeCeiling(cost, shards, cores);
    if (perSecond > best.perSecond) best = { shards, perSecond };
  }
  return best;
}
