import type { RedisClient } from '../shared/redis.js';
import { checkReply, InventoryError } from './errors.js';
import { makeHoldId, poolKeys, poolOfHold } from './keys.js';
import { splitUnits } from './pool-split.js';
import { InventoryScripts, type LedgerHold, type Notice } from './scripts.js';

export interface PoolStats {
  stock: number;
  available: number;
  held: number;
  paying: number;
  sold: number;
  expired: number;
  released: number;
}

/** A pool's marks that a heal writes and the Redis guard checks against the ledger. */
export interface PoolMark {
  generation: number;
  stock: number;
  sold: number;
  paying: number;
  /** The run id of the Redis server the pool was written on (Cluster: its master's); '' when not marked. */
  runId: string;
}

export type HoldState = 'held' | 'paying' | 'sold' | 'expired' | 'released';

export interface Hold {
  holdId: string;
  pool: number;
  buyer: string;
  state: HoldState;
  deadline: number;
  attempts: number;
  orderId?: string;
}

const STAT_FIELDS = ['stock', 'available', 'held', 'paying', 'sold', 'expired', 'released'] as const;

export function sumStats(list: PoolStats[]): PoolStats {
  const total: PoolStats = { stock: 0, available: 0, held: 0, paying: 0, sold: 0, expired: 0, released: 0 };
  for (const s of list) for (const f of STAT_FIELDS) total[f] += s[f];
  return total;
}

/** Re-exported: the split lives in pool-split.ts, which the ledger's fence shares without Redis. */
export { splitUnits };

/**
 * Stock pools and holds. The pool hash is the truth for one slice of a sale's stock; every change to
 * its counters happens inside one Lua script, so `stock == available + held + paying + sold` holds
 * in each pool at every moment, and therefore for the sale.
 */
export class Inventory {
  readonly scripts: InventoryScripts;
  constructor(readonly redis: RedisClient, readonly prefix: string) {
    this.scripts = new InventoryScripts(redis);
  }

  keys(saleId: string, pool: number) {
    return poolKeys(this.prefix, saleId, pool);
  }

  private holdKeys(saleId: string, holdId: string) {
    const pool = poolOfHold(holdId);
    if (pool === null) throw new InventoryError('hold_not_found', 'no such hold in this sale');
    return { pool, k: this.keys(saleId, pool) };
  }

  /** Creates the pools of a sale with its stock split evenly (idempotent: existing pools stay; tests and benches). */
  async initPools(saleId: string, stock: number, pools: number): Promise<void> {
    await Promise.all(splitUnits(stock, pools).map((units, i) => this.scripts.rebuildPool(this.keys(saleId, i), units, [])));
  }

  /**
   * Heals the sale's pools from the ledger (heal-pool-4.lua, one atomic step per pool): each pool gets
   * the ledger's stock, its sold and paying units as the ledger says, and keeps the holds only Redis
   * knows while units remain for them. `stock` is each pool's stock in the ledger; every ledger hold
   * goes to the pool its hold id names. Returns the holds that had to expire (their buyers are told by
   * the caller), or the pools the ledger cannot fit (more sold and paying units than stock: nothing
   * was written to those).
   */
  async healPools(saleId: string, stock: number[], ledger: LedgerHold[], generation: number): Promise<{ expired: { holdId: string; buyer: string }[]; overfull: number[] }> {
    const byPool = stock.map(() => [] as LedgerHold[]);
    for (const h of ledger) byPool[poolOfHold(h.holdId) ?? 0]?.push(h);
    const replies = await Promise.all(byPool.map((holds, i) => this.scripts.healPool(this.keys(saleId, i), stock[i]!, generation, holds)));
    const expired: { holdId: string; buyer: string }[] = [];
    const overfull: number[] = [];
    replies.forEach((r, i) => {
      if (typeof r === 'number') return void overfull.push(i);
      for (let j = 1; j + 1 < r.length; j += 2) expired.push({ holdId: String(r[j]), buyer: String(r[j + 1]) });
    });
    return { expired, overfull };
  }

  /** What the Redis guard compares with the ledger, per pool: null for a pool Redis does not have. */
  async poolMarks(saleId: string, pools: number): Promise<(PoolMark | null)[]> {
    const rows = await Promise.all(Array.from({ length: pools }, (_, i) => this.redis.hmget(this.keys(saleId, i).pool, 'gen', 'stock', 'sold', 'paying', 'runId')));
    return rows.map(([gen, stock, sold, paying, runId]) => (stock === null
      ? null
      : { generation: Number(gen ?? 0), stock: Number(stock), sold: Number(sold ?? 0), paying: Number(paying ?? 0), runId: runId ?? '' }));
  }

  /**
   * Marks each existing pool with the run id of the server that holds it (a Redis Cluster: a pool's
   * master may restart or fail over apart from the sale's). One HSET per pool, in its slot.
   */
  async markServers(saleId: string, runIdOf: (key: string) => string | null, pools: number): Promise<void> {
    await Promise.all(Array.from({ length: pools }, (_, i) => this.keys(saleId, i).pool).flatMap((key) => {
      const runId = runIdOf(key);
      return runId ? [this.redis.hset(key, 'runId', runId)] : [];
    }));
  }

  async poolStats(saleId: string, pools: number): Promise<PoolStats[]> {
    const rows = await Promise.all(
      Array.from({ length: pools }, (_, i) => this.redis.hmget(this.keys(saleId, i).pool, ...STAT_FIELDS)),
    );
    return rows.map((r) => Object.fromEntries(STAT_FIELDS.map((f, j) => [f, Number(r[j] ?? 0)])) as unknown as PoolStats);
  }

  async stats(saleId: string, pools: number): Promise<PoolStats> {
    return sumStats(await this.poolStats(saleId, pools));
  }

  /** Takes a unit for `buyer` from `pool` under `holdId`; null when the pool is empty. Idempotent per holdId. */
  async take(saleId: string, pool: number, holdId: string, buyer: string, holdSeconds: number): Promise<{ deadline: number; created: boolean } | null> {
    const r = await this.scripts.take(this.keys(saleId, pool), holdId, buyer, holdSeconds);
    if (r === -2) return null;
    const [deadline, created] = checkReply(r);
    return { deadline: Number(deadline), created: created === 1 };
  }

  /**
   * After `take` found the pool empty: makes sure no unit is ever taken under `holdId` (a late retry
   * of the take answers null too), unless one was taken meanwhile, which is then returned as `take`
   * would. The admitter calls it before putting the buyer back in the queue.
   */
  async voidHold(saleId: string, pool: number, holdId: string): Promise<{ deadline: number; created: false } | null> {
    const r = await this.scripts.voidHold(this.keys(saleId, pool), holdId);
    return r === 0 ? null : { deadline: Number(r[0]), created: false };
  }

  holdId(pool: number, unique: string): string {
    return makeHoldId(pool, unique);
  }

  async getHold(saleId: string, holdId: string): Promise<Hold | null> {
    const pool = poolOfHold(holdId);
    if (pool === null) return null;
    const h = await this.redis.hgetall(this.keys(saleId, pool).hold(holdId));
    if (!h.state || !h.buyer) return null;
    return {
      holdId,
      pool,
      buyer: h.buyer,
      state: h.state as HoldState,
      deadline: Number(h.deadline),
      attempts: Number(h.attempts ?? 0),
      ...(h.orderId ? { orderId: h.orderId } : {}),
    };
  }

  /** held -> paying for the hold's own buyer; returns the attempt number. */
  async beginPay(saleId: string, holdId: string, buyer: string): Promise<number> {
    const { k } = this.holdKeys(saleId, holdId);
    return checkReply(await this.scripts.beginPay(k, holdId, buyer));
  }

  /**
   * paying -> sold; `changed` is false when it was sold already. `notify` is published in the same
   * step, only by the call that changed it, so the buyer is told once and never before the sale (PUBLISH
   * names no key, so a pool's script publishes on the sale's channel on a Cluster too).
   */
  async settle(saleId: string, holdId: string, orderId: string, notify?: Notice): Promise<{ orderId: string; changed: boolean }> {
    const { k } = this.holdKeys(saleId, holdId);
    const [id, changed] = checkReply(await this.scripts.settle(k, holdId, orderId, notify));
    return { orderId: String(id), changed: changed === 1 };
  }

  /**
   * Payment attempt `attemptNo` ended without money taken: paying -> held (or expired past the
   * deadline). A no-op (`changed` false) unless the hold is paying for exactly that attempt.
   */
  async payFailed(saleId: string, holdId: string, attemptNo: number): Promise<{ state: HoldState; changed: boolean }> {
    const { k } = this.holdKeys(saleId, holdId);
    const [state, changed] = checkReply(await this.scripts.payFailed(k, holdId, attemptNo));
    return { state: state as HoldState, changed: changed === 1 };
  }

  /** Gives a held unit back at once; `buyer` '' lets the admitter undo an admission. */
  async release(saleId: string, holdId: string, buyer: string): Promise<HoldState> {
    const { k } = this.holdKeys(saleId, holdId);
    return checkReply(await this.scripts.release(k, holdId, buyer)) as HoldState;
  }

  async expireDue(saleId: string, pools: number, limit = 500): Promise<{ holdId: string; buyer: string }[]> {
    const replies = await Promise.all(Array.from({ length: pools }, (_, i) => this.scripts.expireDue(this.keys(saleId, i), limit)));
    const out: { holdId: string; buyer: string }[] = [];
    for (const flat of replies) for (let i = 0; i + 1 < flat.length; i += 2) out.push({ holdId: flat[i]!, buyer: flat[i + 1]! });
    return out;
  }

  async restock(saleId: string, pools: number, quantity: number): Promise<void> {
    const split = splitUnits(quantity, pools);
    await Promise.all(split.flatMap((units, i) => (units > 0 ? [this.scripts.restock(this.keys(saleId, i), units).then(checkReply)] : [])));
  }

  /** Every hold of the sale with its full record (tests and tools; O(holds), never on a hot path). */
  async listHolds(saleId: string, pools: number): Promise<Hold[]> {
    const out: Hold[] = [];
    for (let p = 0; p < pools; p++) {
      const ids = await this.redis.smembers(this.keys(saleId, p).holds);
      const holds = await Promise.all(ids.map((id) => this.getHold(saleId, id)));
      for (const h of holds) if (h) out.push(h);
    }
    return out;
  }

  /**
   * Each pool's counters with the state of every one of its holds, each pool read in one atomic step
   * (audit; O(holds), never on a hot path).
   */
  async snapshot(saleId: string, pools: number): Promise<{ stats: PoolStats; holds: { holdId: string; state: string }[] }[]> {
    const replies = await Promise.all(Array.from({ length: pools }, (_, i) => this.scripts.snapshotPool(this.keys(saleId, i))));
    return replies.map((r) => {
      const stats = Object.fromEntries(STAT_FIELDS.map((f, j) => [f, Number(r[j])])) as unknown as PoolStats;
      const holds: { holdId: string; state: string }[] = [];
      for (let i = STAT_FIELDS.length; i + 1 < r.length; i += 2) holds.push({ holdId: String(r[i]), state: String(r[i + 1]) });
      return { stats, holds };
    });
  }

  /**
   * Holds of the sale paying for at least `minAgeMs` by Redis' clock (the one that scored them), oldest
   * first: reconciliation's worklist. The caller's own clock plays no part.
   */
  async payingLongerThan(saleId: string, pools: number, minAgeMs: number, limit = 100): Promise<string[]> {
    const lists = await Promise.all(Array.from({ length: pools }, (_, i) => this.scripts.payingSince(this.keys(saleId, i), minAgeMs, limit)));
    return lists.flat();
  }
}
