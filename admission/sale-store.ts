import type { Db } from '../shared/db.js';
import type { Sale, SaleStatus } from './sale-schema.js';

const COLUMNS = `id, name, sku, price_amount, currency, stock, pools, starts_at, ends_at, admit_per_second,
  max_active_holds, hold_seconds, per_buyer_limit, status, prequeue_key`;

interface Row {
  id: string; name: string; sku: string; price_amount: number; currency: string; stock: number; pools: number;
  starts_at: Date; ends_at: Date; admit_per_second: number; max_active_holds: number; hold_seconds: number;
  per_buyer_limit: number; status: SaleStatus; prequeue_key: string;
}

function toSale(r: Row): Sale {
  return {
    id: r.id, name: r.name, sku: r.sku, price: { amount: r.price_amount, currency: r.currency }, stock: r.stock,
    pools: r.pools, startsAt: r.starts_at.toISOString(), endsAt: r.ends_at.toISOString(),
    admitPerSecond: r.admit_per_second, maxActiveHolds: r.max_active_holds, holdSeconds: r.hold_seconds,
    perBuyerLimit: r.per_buyer_limit, status: r.status, prequeueKey: r.prequeue_key,
  };
}

/** Postgres rows of sales: the durable copy of every sale's settings and stock. */
export class SaleStore {
  constructor(readonly db: Db) {}

  /** Inserts; returns null when the id exists (the caller answers 409). */
  async insert(s: Sale): Promise<Sale | null> {
    const r = await this.db.query<Row>(
      `INSERT INTO sales (${COLUMNS}) VALUES ($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,$11,$12,$13,$14,$15)
       ON CONFLICT (id) DO NOTHING RETURNING ${COLUMNS}`,
      [s.id, s.name, s.sku, s.price.amount, s.price.currency, s.stock, s.pools, s.startsAt, s.endsAt,
        s.admitPerSecond, s.maxActiveHolds, s.holdSeconds, s.perBuyerLimit, s.status, s.prequeueKey],
    );
    return r.rows[0] ? toSale(r.rows[0]) : null;
  }

  async get(id: string): Promise<Sale | null> {
    const r = await this.db.query<Row>(`SELECT ${COLUMNS} FROM sales WHERE id = $1`, [id]);
    return r.rows[0] ? toSale(r.rows[0]) : null;
  }

  async list(): Promise<Sale[]> {
    const r = await this.db.query<Row>(`SELECT ${COLUMNS} FROM sales ORDER BY created_at, id`);
    return r.rows.map(toSale);
  }

  async update(id: string, fields: Partial<Pick<Sale, 'admitPerSecond' | 'maxActiveHolds' | 'holdSeconds' | 'endsAt' | 'status'>>): Promise<Sale | null> {
    const map: Record<string, string> = {
      admitPerSecond: 'admit_per_second', maxActiveHolds: 'max_active_holds', holdSeconds: 'hold_seconds', endsAt: 'ends_at', status: 'status',
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

  /** Grows stock and records the restock in the ledger, in one transaction. */
  async restock(id: string, quantity: number): Promise<Sale | null> {
    const c = await this.db.connect();
    let broken = false;
    try {
      await c.query('BEGIN');
      const r = await c.query<Row>(`UPDATE sales SET stock = stock + $2, updated_at = now() WHERE id = $1 RETURNING ${COLUMNS}`, [id, quantity]);
      if (!r.rows[0]) {
        await c.query('ROLLBACK');
        return null;
      }
      await c.query('INSERT INTO restocks (sale_id, quantity) VALUES ($1, $2)', [id, quantity]);
      await c.query('COMMIT');
      return toSale(r.rows[0]);
    } catch (err) {
      broken = await c.query('ROLLBACK').then(() => false, () => true);
      throw err;
    } finally {
      // A connection that cannot even roll back is dead: destroy it rather than pool it.
      c.release(broken);
    }
  }
}
