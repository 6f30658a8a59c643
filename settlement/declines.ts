import type { Db } from '../shared/db.js';
import { SOLD_OUT } from './payment-store.js';

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
