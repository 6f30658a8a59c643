import type pg from 'pg';
import type { Db } from '../shared/db.js';
import { splitUnits } from '../inventory/pool-split.js';
import { fenceOf, fences, growFence, openFence } from '../settlement/ledger.js';
import type { Sale, SaleStatus } from './sale-schema.js';

const COLUMNS = `id, name, sku, price_amount, currency, stock, pools, starts_at, ends_at, admit_per_second,
  max_active_holds, hold_seconds, per_buyer_limit, status, prequeue_key, quarantine_reason, quarantined_at, lottery_window_seconds, join_challenge_bits`;

const INSERT_COLUMNS = `id, name, sku, price_amount, currency, stock, pools, starts_at, ends_at, admit_per_second,
  max_active_holds, hold_seconds, per_buyer_limit, status, prequeue_key, lottery_window_seconds, join_challenge_bits`;

interface Row {
  id: string; name: string; sku: string; price_amount: number; currency: string; stock: number; pools: number;
  starts_at: Date; ends_at: Date; admit_per_second: number; max_active_holds: number; hold_seconds: number;
  per_buyer_limit: number; status: SaleStatus; prequeue_key: string; quarantine_reason: string | null; quarantined_at: Date | null;
  lottery_window_seconds: number;
  join_challenge_bits: number;
}

function toSale(r: Row): Sale {
  return {
    id: r.id, name: r.name, sku: r.sku, price: { amount: r.price_amount, currency: r.currency }, stock: r.stock,
    pools: r.pools, startsAt: r.starts_at.toISOString(), endsAt: r.ends_at.toISOString(),
    admitPerSecond: r.admit_per_second, maxActiveHolds: r.max_active_holds, holdSeconds: r.hold_seconds,
    perBuyerLimit: r.per_buyer_limit, joinChallengeBits: r.join_challenge_bits, status: r.status, lotteryWindowSeconds: r.lottery_window_seconds, prequeueKey: r.prequeue_key,
    ...(r.quarantine_reason ? { quarantine: { reason: r.quarantine_reason, since: r.quarantined_at!.toISOString() } } : {}),
  };
}

/** A restock that would leave a pool with more orders than stock (only a sale oversold before the fence). */
export class SaleOversoldError extends Error {
  override name = 'SaleOversoldError';
}

/**
 * Postgres rows of sales: the durable copy of every sale's settings and stock. Admission owns `sales`
 * and `restocks`; the stock fence (`sale_pools`) is settlement's ledger, moved only through its
 * functions (settlement/ledger.ts), inside this store's transactions.
 */
export class SaleStore {
  constructor(readonly db: Db) {}

  /**
   * Inserts the sale and its pools' fence rows (settlement's sale_pools, through openFence: each pool's
   * share of the stock, nothing sold) in one transaction, so no sale exists without its fence; returns
   * null when the id exists (the caller answers 409).
   */
  async insert(s: Sale): Promise<Sale | null> {
    return this.inTransaction(async (c) => {
      const r = await c.query<Row>(
        `INSERT INTO sales (${INSERT_COLUMNS}) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15,$16,$17)
         ON CONFLICT (id) DO NOTHING RETURNING ${COLUMNS}`,
        [s.id, s.name, s.sku, s.price.amount, s.price.currency, s.stock, s.pools, s.startsAt, s.endsAt,
          s.admitPerSecond, s.maxActiveHolds, s.holdSeconds, s.perBuyerLimit, s.status, s.prequeueKey, s.lotteryWindowSeconds, s.joinChallengeBits],
      );
      if (!r.rows[0]) return null;
      await openFence(c, s.id, splitUnits(s.stock, s.pools));
      return toSale(r.rows[0]);
    });
  }

  /** Runs `work` in one transaction on one connection: committed when it returns, rolled back when it throws. */
  private async inTransaction<T>(work: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    const c = await this.db.connect();
    let broken = false;
    try {
      await c.query('BEGIN');
      const out = await work(c);
      await c.query('COMMIT');
      return out;
    } catch (err) {
      broken = await c.query('ROLLBACK').then(() => false, () => true);
      throw err;
    } finally {
      // A connection that cannot even roll back is dead: destroy it rather than pool it.
      c.release(broken);
    }
  }

  async get(id: string): Promise<Sale | null> {
    const r = await this.db.query<Row>(`SELECT ${COLUMNS} FROM sales WHERE id = $1`, [id]);
    return r.rows[0] ? toSale(r.rows[0]) : null;
  }

  async list(): Promise<Sale[]> {
    const r = await this.db.query<Row>(`SELECT ${COLUMNS} FROM sales ORDER BY created_at, id`);
    return r.rows.map(toSale);
  }

  async update(id: string, fields: Partial<Pick<Sale, 'admitPerSecond' | 'maxActiveHolds' | 'holdSeconds' | 'endsAt' | 'status' | 'lotteryWindowSeconds' | 'joinChallengeBits'>>): Promise<Sale | null> {
    const map: Record<string, string> = {
      admitPerSecond: 'admit_per_second', maxActiveHolds: 'max_active_holds', holdSeconds: 'hold_seconds', endsAt: 'ends_at', status: 'status',
      lotteryWindowSeconds: 'lottery_window_seconds', joinChallengeBits: 'join_challenge_bits',
    };
    const sets: string[] = [];
    const values: unknown[] = [id];
    for (const [k, v] of Object.entries(fields)) {
      if (v === undefined) continue;
      values.push(v);
      sets.push(`${map[k]} = $${values.length}`);
    }
    const r = await this.db.query<Row>(
      `UPDATE sales SET ${sets.join(', ')}, updated_at = now() WHERE id = $1 RETURNING ${COLUMNS}`,
      values,
    );
    return r.rows[0] ? toSale(r.rows[0]) : null;
  }

  /** The sale's published pre-queue order, null if none was published yet. */
  async prequeueOrder(id: string): Promise<string[] | null> {
    const r = await this.db.query<{ prequeue_order: string[] | null }>('SELECT prequeue_order FROM sales WHERE id = $1', [id]);
    return r.rows[0]?.prequeue_order ?? null;
  }

  /** Keeps the first order published for the sale: a second writer gets the first one back. */
  async publishPrequeueOrder(id: string, order: string[]): Promise<string[] | null> {
    const r = await this.db.query<{ prequeue_order: string[] | null }>(
      `WITH w AS (UPDATE sales SET prequeue_order = $2 WHERE id = $1 AND prequeue_order IS NULL RETURNING prequeue_order)
       SELECT prequeue_order FROM w UNION ALL SELECT prequeue_order FROM sales WHERE id = $1 AND NOT EXISTS (SELECT 1 FROM w)`,
      [id, order]);
    return r.rows[0]?.prequeue_order ?? null;
  }

  /**
   * Grows stock, records the restock and moves settlement's fence (growFence: each pool's stock grows by its share, split
   * as the Redis pools split it) in one transaction.
   */
  async restock(id: string, quantity: number): Promise<Sale | null> {
    return this.inTransaction(async (c) => {
      const r = await c.query<Row>(`UPDATE sales SET stock = stock + $2, updated_at = now() WHERE id = $1 RETURNING ${COLUMNS}`, [id, quantity]);
      if (!r.rows[0]) return null;
      await c.query('INSERT INTO restocks (sale_id, quantity) VALUES ($1, $2)', [id, quantity]);
      const share = splitUnits(quantity, r.rows[0].pools);
      const short = await growFence(c, id, share);
      if (short) {
        throw new SaleOversoldError(`pool ${short.pool} of sale ${id} holds ${short.sold} orders for a stock of ${short.stock} (sold before the ledger's fence existed); `
          + `a restock of ${quantity} adds ${share[short.pool] ?? 0} units to it: restock enough to cover every pool's orders`);
      }
      return toSale(r.rows[0]);
    });
  }

  /**
   * Pauses a sale that cannot be reconciled with Redis and says why; the first reason and time stay
   * (the operator sees since when). Returns the sale as stored.
   */
  async quarantine(id: string, reason: string, q: Pick<pg.PoolClient, 'query'> = this.db): Promise<Sale | null> {
    const r = await q.query<Row>(
      `UPDATE sales SET status = CASE WHEN status = 'ended' THEN status ELSE 'paused' END,
         quarantine_reason = COALESCE(quarantine_reason, left($2, 500)), quarantined_at = COALESCE(quarantined_at, now()), updated_at = now()
       WHERE id = $1 RETURNING ${COLUMNS}`,
      [id, reason],
    );
    return r.rows[0] ? toSale(r.rows[0]) : null;
  }

  /** Lifts a quarantine (the sale stays paused until the operator resumes it). */
  async clearQuarantine(id: string): Promise<void> {
    await this.db.query('UPDATE sales SET quarantine_reason = NULL, quarantined_at = NULL, updated_at = now() WHERE id = $1', [id]);
  }

  /**
   * Takes the sale's row lock for a heal of its Redis copy, or null when another process holds it
   * (that process is healing the sale now: one heal at a time, and nobody waits for it).
   */
  async lockForHeal(c: pg.PoolClient, id: string): Promise<{ sale: Sale; generation: number; stock: number[]; sold: number[] } | null> {
    const r = await c.query<Row & { redis_generation: string }>(`SELECT ${COLUMNS}, redis_generation FROM sales WHERE id = $1 FOR UPDATE SKIP LOCKED`, [id]);
    if (!r.rows[0]) return null;
    const p = await fenceOf(c, id);
    return { sale: toSale(r.rows[0]), generation: Number(r.rows[0].redis_generation), stock: p.map((x) => x.stock), sold: p.map((x) => x.sold) };
  }

  async setGeneration(c: pg.PoolClient, id: string, generation: number): Promise<void> {
    await c.query('UPDATE sales SET redis_generation = $2 WHERE id = $1 AND redis_generation < $2', [id, generation]);
  }

  /**
   * What the Redis guard compares with Redis, for every sale in one statement: the generation Redis
   * should carry and each pool's stock and sold units as the fence counts them.
   */
  async ledgerMarks(saleId?: string): Promise<LedgerMarks[]> {
    // The sales, then the fence (settlement's), both before the caller reads Redis: the fence's sold
    // only grows, so a later read of it is as good a lower bound as one in the same statement.
    const r = await this.db.query<{ id: string; pools: number; generation: string; quarantined: boolean }>(
      `SELECT id, pools, redis_generation AS generation, quarantine_reason IS NOT NULL AS quarantined
       FROM sales WHERE $1::text IS NULL OR id = $1`,
      [saleId ?? null],
    );
    const fence = await fences(this.db, saleId);
    return r.rows.flatMap((x) => {
      const f = fence.get(x.id);
      return f ? [{ id: x.id, pools: x.pools, generation: Number(x.generation), quarantined: x.quarantined, stock: f.stock, sold: f.sold }] : [];
    });
  }
}

export interface LedgerMarks {
  id: string;
  pools: number;
  generation: number;
  quarantined: boolean;
  /** Per pool, in pool order. */
  stock: number[];
  sold: number[];
}
