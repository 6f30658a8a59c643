import type pg from 'pg';
import type { Db } from '../shared/db.js';
import { SOLD_OUT } from './payment-rows.js';
import { poolOfHold } from '../inventory/keys.js';
import type { LedgerHold } from '../inventory/scripts.js';

/**
 * The ledger's public reads and the stock fence's writes: the only SQL on settlement's tables
 * (`orders`, `payment_attempts`, `sale_pools`) that runs outside settlement. Admission (its store,
 * healer and audit) calls these functions, inside its own transaction where it passes a client; it
 * never writes SQL on these tables itself (docs/architecture.md, ownership).
 */

/** A pool, a client inside a transaction, or anything else that runs a query. */
export type Queryable = Pick<pg.Pool | pg.PoolClient, 'query'>;

export interface LedgerOrder {
  id: string;
  hold_id: string;
  buyer_id: string;
}

/** One pool's row of the stock fence (sale_pools): its share of the stock and the orders written in it. */
export interface FenceRow {
  pool: number;
  stock: number;
  sold: number;
}

/**
 * A sale's orders and its stock fence as of one moment: one snapshot, so an order committed between
 * two reads cannot look like drift between the fence and the orders. O(orders): for the audit.
 */
export async function ledgerOf(db: Db, saleId: string): Promise<{ orders: LedgerOrder[]; fence: FenceRow[] }> {
  const c = await db.connect();
  let broken = false;
  try {
    await c.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    const orders = await c.query<LedgerOrder>('SELECT id, hold_id, buyer_id FROM orders WHERE sale_id = $1', [saleId]);
    const fence = await fenceOf(c, saleId);
    await c.query('COMMIT');
    return { orders: orders.rows, fence };
  } catch (err) {
    broken = await c.query('ROLLBACK').then(() => false, () => true);
    throw err;
  } finally {
    c.release(broken);
  }
}

/**
 * What the ledger says of a sale's units beyond its stock: every unit sold (its order) and every unit
 * whose payment may still move money (an attempt pending with no order yet), oldest payment first.
 * A heal of Redis reads them through this function.
 */
export async function ledgerHolds(q: Queryable, saleId: string): Promise<LedgerHold[]> {
  const orders = await q.query<{ buyer_id: string; hold_id: string; id: string }>('SELECT id, buyer_id, hold_id FROM orders WHERE sale_id = $1', [saleId]);
  const inflight = await q.query<{ buyer_id: string; hold_id: string; attempt_no: number }>(
    `SELECT hold_id, buyer_id, attempt_no FROM (
       SELECT DISTINCT ON (hold_id) hold_id, buyer_id, attempt_no, created_at FROM payment_attempts a
       WHERE sale_id = $1 AND status = 'pending' AND NOT EXISTS (SELECT 1 FROM orders o WHERE o.hold_id = a.hold_id)
       ORDER BY hold_id, attempt_no DESC) latest
     ORDER BY created_at, hold_id`,
    [saleId],
  );
  return [
    ...orders.rows.map((o) => ({ holdId: o.hold_id, buyer: o.buyer_id, state: 'sold' as const, orderId: o.id })),
    ...inflight.rows.map((a) => ({ holdId: a.hold_id, buyer: a.buyer_id, state: 'paying' as const, attempts: a.attempt_no })),
  ];
}

/** A sale's fence rows in pool order; `forUpdate` locks them (in pool order, as the order statement does). */
export async function fenceOf(q: Queryable, saleId: string, forUpdate = false): Promise<FenceRow[]> {
  const r = await q.query<FenceRow>(`SELECT pool, stock, sold FROM sale_pools WHERE sale_id = $1 ORDER BY pool${forUpdate ? ' FOR UPDATE' : ''}`, [saleId]);
  return r.rows;
}

/** Every sale's fence (or one sale's), as per-pool arrays in pool order: what the Redis guard compares. */
export async function fences(q: Queryable, saleId?: string): Promise<Map<string, { stock: number[]; sold: number[] }>> {
  const r = await q.query<{ sale_id: string; stock: number[]; sold: number[] }>(
    `SELECT sale_id, array_agg(stock ORDER BY pool) AS stock, array_agg(sold ORDER BY pool) AS sold
     FROM sale_pools WHERE $1::text IS NULL OR sale_id = $1 GROUP BY sale_id`,
    [saleId ?? null],
  );
  return new Map(r.rows.map((x) => [x.sale_id, { stock: x.stock, sold: x.sold }]));
}

/** A new sale's fence: each pool's share of the stock, nothing sold. Call it in the transaction that inserts the sale. */
export async function openFence(q: Queryable, saleId: string, shares: number[]): Promise<void> {
  await q.query(
    `INSERT INTO sale_pools (sale_id, pool, stock)
     SELECT $1, share.n - 1, share.units FROM unnest($2::int[]) WITH ORDINALITY AS share(units, n)`,
    [saleId, shares],
  );
}

/**
 * A restock's move of the fence: each pool's stock grows by its share. The rows are locked in pool
 * order, the order the settlement's fence statement locks them in: a restock and a batch of orders wait
 * for each other, never both ways. A pool oversold before the fence existed (kept by the NOT VALID
 * check) may be written again only once it holds as many units as orders: such a pool that this restock
 * would touch is returned and nothing is written (the caller refuses the restock); else null.
 */
export async function growFence(q: Queryable, saleId: string, shares: number[]): Promise<FenceRow | null> {
  const pools = await fenceOf(q, saleId, true);
  const short = pools.find((p) => (shares[p.pool] ?? 0) > 0 && p.sold > p.stock + shares[p.pool]!);
  if (short) return short;
  await q.query(
    `UPDATE sale_pools p SET stock = p.stock + share.units FROM unnest($2::int[]) WITH ORDINALITY AS share(units, n)
     WHERE p.sale_id = $1 AND p.pool = share.n - 1 AND share.units > 0`,
    [saleId, shares],
  );
  return null;
}

/**
 * The ledger's own invariant 7, without Redis: no pool has sold more than its stock, each pool's
 * counter equals its orders (else the fence has drifted and guards the wrong number), every order
 * is in a pool the fence has, and the pools' stock adds up to the sale's.
 */
export function fenceProblems(sale: { stock: number }, orders: Pick<LedgerOrder, 'hold_id'>[], fence: FenceRow[]): string[] {
  const problems: string[] = [];
  const perPool = new Map<number | null, number>();
  for (const o of orders) {
    const p = poolOfHold(o.hold_id);
    perPool.set(p, (perPool.get(p) ?? 0) + 1);
  }
  for (const f of fence) {
    if (f.sold > f.stock) problems.push(`pool ${f.pool}: ledger sold ${f.sold} > its stock ${f.stock} (oversold)`);
    const n = perPool.get(f.pool) ?? 0;
    if (f.sold !== n) problems.push(`pool ${f.pool}: ledger sold ${f.sold} != its orders ${n} (fence drift)`);
    perPool.delete(f.pool);
  }
  for (const [p, n] of perPool) problems.push(`${n} orders in ${p === null ? 'no pool (hold id names none)' : `pool ${p}, which the ledger's fence does not have`}`);
  const fenced = fence.reduce((t, f) => t + f.stock, 0);
  if (fenced !== sale.stock) problems.push(`ledger pools' stock ${fenced} != sale stock ${sale.stock}`);
  return problems;
}

/**
 * Failure reasons that are ours, not the payment provider's: the ledger's stock fence (sold_out), a
 * hold paid by another attempt, a job superseded or out of tries, a payment reconciliation gave up on.
 * Every other failed attempt is the provider refusing the buyer's method (a decline code).
 */
const NOT_DECLINES = [SOLD_OUT, 'hold_sold_elsewhere', 'superseded', 'limit_reached', 'payment_not_completed'];

/**
 * Holds of a sale whose payment was declined at least once (the console's funnel). A hold declined
 * twice counts once: the funnel counts holds. The partial index of migration 009 keeps this a read
 * of the sale's failed attempts only, not of its whole ledger.
 */
export async function declinedHolds(db: Db, saleId: string): Promise<number> {
  const r = await db.query<{ n: string }>(
    `SELECT count(DISTINCT hold_id) AS n FROM payment_attempts
      WHERE sale_id = $1 AND status = 'failed' AND NOT (failure_reason = ANY($2::text[]))`,
    [saleId, NOT_DECLINES],
  );
  return Number(r.rows[0]?.n ?? 0);
}
