import type pg from 'pg';
import type { LedgerHold } from '../inventory/scripts.js';

type Queryable = Pick<pg.Pool | pg.PoolClient, 'query'>;

/**
 * What the ledger says of a sale's units beyond its stock: every unit sold (its order) and every unit
 * whose payment may still move money (an attempt pending with no order yet), oldest payment first.
 * Settlement owns these tables; a heal of Redis reads them through this function.
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
