import type { Db } from '../shared/db.js';
import type { PaymentJob } from './payment-job.js';
import { idempotencyKey } from './payment-job.js';

export interface AttemptRow {
  id: string;
  status: 'pending' | 'succeeded' | 'failed' | 'error';
  payment_intent_id: string | null;
  idempotency_key: string;
}

/** Postgres side of settlement: payment attempts, orders and the outbox. */
export class PaymentStore {
  constructor(readonly db: Db) {}

  /**
   * Stores the attempt and its idempotency key (UNIQUE) before the provider is called; a retried job
   * finds the same row and so sends the same key.
   */
  async ensureAttempt(j: PaymentJob): Promise<AttemptRow> {
    const id = `pay_${j.holdId}_${j.attemptNo}`;
    const key = idempotencyKey(j.holdId, j.attemptNo);
    await this.db.query(
      `INSERT INTO payment_attempts (id, hold_id, sale_id, buyer_id, attempt_no, idempotency_key, amount, currency)
       VALUES ($1,$2,$3,$4,$5,$6,$7,$8) ON CONFLICT (idempotency_key) DO NOTHING`,
      [id, j.holdId, j.saleId, j.buyer, j.attemptNo, key, j.amount, j.currency],
    );
    const r = await this.db.query<AttemptRow>('SELECT id, status, payment_intent_id, idempotency_key FROM payment_attempts WHERE idempotency_key = $1', [key]);
    return r.rows[0]!;
  }

  async markFailed(attemptId: string, reason: string, paymentIntentId: string | null): Promise<void> {
    await this.db.query(
      `UPDATE payment_attempts SET status = 'failed', failure_reason = $2, payment_intent_id = COALESCE($3, payment_intent_id), updated_at = now()
       WHERE id = $1 AND status = 'pending'`,
      [attemptId, reason, paymentIntentId],
    );
  }

  async orderOfHold(holdId: string): Promise<string | null> {
    const r = await this.db.query<{ id: string }>('SELECT id FROM orders WHERE hold_id = $1', [holdId]);
    return r.rows[0]?.id ?? null;
  }

  async buyerOrders(saleId: string, buyer: string): Promise<number> {
    const r = await this.db.query<{ n: string }>('SELECT count(*) AS n FROM orders WHERE sale_id = $1 AND buyer_id = $2', [saleId, buyer]);
    return Number(r.rows[0]?.n ?? 0);
  }

  /**
   * The order, the attempt's success and the outbox event in one transaction. UNIQUE(hold_id) makes a
   * second write (retried job, reconciliation) a no-op that returns the order already stored.
   */
  async writeOrder(j: PaymentJob, attemptId: string, paymentIntentId: string): Promise<{ orderId: string; created: boolean }> {
    const c = await this.db.connect();
    try {
      await c.query('BEGIN');
      await c.query(
        `UPDATE payment_attempts SET status = 'succeeded', payment_intent_id = $2, updated_at = now() WHERE id = $1`,
        [attemptId, paymentIntentId],
      );
      const orderId = `ord_${j.holdId.slice('hold_'.length)}`;
      const ins = await c.query(
        `INSERT INTO orders (id, hold_id, sale_id, buyer_id, amount, currency, payment_intent_id, attempt_id)
         VALUES ($1,$2,$3,$4,$5,$6,$7,$8) ON CONFLICT (hold_id) DO NOTHING`,
        [orderId, j.holdId, j.saleId, j.buyer, j.amount, j.currency, paymentIntentId, attemptId],
      );
      if (ins.rowCount === 1) {
        await c.query(
          `INSERT INTO outbox (event_type, aggregate_id, payload) VALUES ('order.created', $1, $2) ON CONFLICT DO NOTHING`,
          [orderId, JSON.stringify({ orderId, holdId: j.holdId, saleId: j.saleId, buyerId: j.buyer, amount: j.amount, currency: j.currency, paymentIntentId })],
        );
      }
      await c.query('COMMIT');
      if (ins.rowCount === 1) return { orderId, created: true };
      const existing = await this.orderOfHold(j.holdId);
      return { orderId: existing ?? orderId, created: false };
    } catch (err) {
      await c.query('ROLLBACK').catch(() => {});
      throw err;
    } finally {
      c.release();
    }
  }
}
