import type { RedisClient } from '../shared/redis.js';
import { checkReply, InventoryError } from './errors.js';
import { makeHoldId, poolKeys, poolOfHold } from './keys.js';
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

/** Splits `units` over `pools` as evenly as possible (the first pools get the remainder). */
export function splitUnits(units: number, pools: number): number[] {
  const base = Math.floor(units / pools);
  return Array.from({ length: pools }, (_, i) => base + (i < units % pools ? 1 : 0));
}

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

  /** Creates the pools of a new sale with its stock split evenly (idempotent: existing pools stay). */
  initPools(saleId: string, stock: number, pools: number): Promise<void> {
    return this.rebuildPools(saleId, pools, [stock], []);
  }

  /**
   * Recreates lost pools from the ledger: each pool's stock is its share of the initial stock plus its
   * share of every restock (the same split as when they happened), and every sold or paying unit gets
   * its hold record back in the pool its hold id names.
   */
  async rebuildPools(saleId: string, pools: number, stockSteps: number[], ledger: LedgerHold[]): Promise<void> {
    const stock = new Array<number>(pools).fill(0);
    for (const step of stockSteps) splitUnits(step, pools).forEach((u, i) => (stock[i]! += u));
    const byPool = Array.from({ length: pools }, () => [] as LedgerHold[]);
    for (const h of ledger) byPool[poolOfHold(h.holdId) ?? 0]?.push(h);
    await Promise.all(byPool.map(async (holds, i) => {
      if ((await this.scripts.rebuildPool(this.keys(saleId, i), stock[i]!, holds)) === -1) {
        throw new Error(`ledger of sale ${saleId} has more units in pool ${i} than its stock ${stock[i]}`);
      }
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
   * step, only by the call that changed it, so the buyer is told once and never before the sale.
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
    await Promise.all(split.map((units, i) => (units > 0 ? this.scripts.restock(this.keys(saleId, i), units).then(checkReply) : 0)));
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
