import type { Db } from '../shared/db.js';
import type { PaymentJob } from './payment-job.js';
import { idempotencyKey } from './payment-job.js';

export type AttemptStatus = 'pending' | 'succeeded' | 'failed' | 'error';

export interface AttemptRow {
  id: string;
  hold_id: string;
  sale_id: string;
  buyer_id: string;
  attempt_no: number;
  idempotency_key: string;
  amount: number;
  currency: string;
  status: AttemptStatus;
  payment_intent_id: string | null;
  failure_reason: string | null;
  dead_lettered_at: Date | null;
}

export interface OrderRow {
  id: string;
  hold_id: string;
  payment_intent_id: string;
  idempotency_key: string;
  capture_status: 'pending' | 'captured' | 'failed';
}

const ATTEMPT_COLUMNS = 'id, hold_id, sale_id, buyer_id, attempt_no, idempotency_key, amount, currency, status, payment_intent_id, failure_reason, dead_lettered_at';

export type CommitResult = { kind: 'ordered'; orderId: string; created: boolean } | { kind: 'refused'; status: AttemptStatus };

/**
 * Postgres side of settlement: payment attempts, orders and the outbox. Every state change of an
 * attempt is a compare-and-set on its status, so the job, a webhook and reconciliation can race on the
 * same attempt and exactly one of them decides it.
 */
export class PaymentStore {
  constructor(readonly db: Db) {}

  /**
   * Stores the attempt and its idempotency key (UNIQUE) before the provider is called; a retried job
   * finds the same row and so sends the same key. `created` false = an earlier run may have called the
   * provider already.
   */
  async ensureAttempt(j: PaymentJob): Promise<{ row: AttemptRow; created: boolean }> {
    const key = idempotencyKey(j.holdId, j.attemptNo);
    const ins = await this.db.query<AttemptRow>(
      `INSERT INTO payment_attempts (id, hold_id, sale_id, buyer_id, attempt_no, idempotency_key, amount, currency)
       VALUES ($1,$2,$3,$4,$5,$6,$7,$8) ON CONFLICT (idempotency_key) DO NOTHING RETURNING ${ATTEMPT_COLUMNS}`,
      [`pay_${j.holdId}_${j.attemptNo}`, j.holdId, j.saleId, j.buyer, j.attemptNo, key, j.amount, j.currency],
    );
    if (ins.rows[0]) return { row: ins.rows[0], created: true };
    return { row: (await this.attemptByKey(key))!, created: false };
  }

  async attemptByKey(key: string): Promise<AttemptRow | null> {
    const r = await this.db.query<AttemptRow>(`SELECT ${ATTEMPT_COLUMNS} FROM payment_attempts WHERE idempotency_key = $1`, [key]);
    return r.rows[0] ?? null;
  }

  async attemptOf(holdId: string, attemptNo: number): Promise<AttemptRow | null> {
    const r = await this.db.query<AttemptRow>(`SELECT ${ATTEMPT_COLUMNS} FROM payment_attempts WHERE hold_id = $1 AND attempt_no = $2`, [holdId, attemptNo]);
    return r.rows[0] ?? null;
  }

  /** pending -> failed; false when another path decided the attempt first (then its decision stands). */
  async markFailed(attemptId: string, reason: string, paymentIntentId: string | null): Promise<boolean> {
    const r = await this.db.query(
      `UPDATE payment_attempts SET status = 'failed', failure_reason = $2, payment_intent_id = COALESCE($3, payment_intent_id), updated_at = now()
       WHERE id = $1 AND status = 'pending'`,
      [attemptId, reason, paymentIntentId],
    );
    return r.rowCount === 1;
  }

  async markDeadLettered(holdId: string, attemptNo: number, error: string): Promise<void> {
    await this.db.query(
      `UPDATE payment_attempts SET dead_lettered_at = now(), last_error = left($3, 500) WHERE hold_id = $1 AND attempt_no = $2`,
      [holdId, attemptNo, error],
    );
  }

  async orderOfHold(holdId: string): Promise<OrderRow | null> {
    const r = await this.db.query<OrderRow>(
      `SELECT o.id, o.hold_id, o.payment_intent_id, a.idempotency_key, o.capture_status
       FROM orders o JOIN payment_attempts a ON a.id = o.attempt_id WHERE o.hold_id = $1`,
      [holdId],
    );
    return r.rows[0] ?? null;
  }

  /** The buyer's orders in the sale other than the one for `exceptHold` (which may be committing right now). */
  async buyerOrders(saleId: string, buyer: string, exceptHold: string): Promise<number> {
    const r = await this.db.query<{ n: string }>('SELECT count(*) AS n FROM orders WHERE sale_id = $1 AND buyer_id = $2 AND hold_id <> $3', [saleId, buyer, exceptHold]);
    return Number(r.rows[0]?.n ?? 0);
  }

  /**
   * The saga's middle step, in one statement (so one transaction): attempt pending -> succeeded (compare-and-set), the
   * order (UNIQUE hold_id) and its outbox event. Running it again for the same PaymentIntent returns the
   * order already stored. `refused` when the attempt was already decided otherwise (given up by
   * reconciliation, declined) or the hold has an order of another payment: the caller must cancel the
   * authorisation — that is this step's compensation.
   */
  async commitOrder(a: AttemptRow, paymentIntentId: string): Promise<CommitResult> {
    const orderId = `ord_${a.hold_id.slice('hold_'.length)}`;
    const payload = JSON.stringify({ orderId, holdId: a.hold_id, saleId: a.sale_id, buyerId: a.buyer_id, amount: a.amount, currency: a.currency, paymentIntentId });
    // One statement is one transaction: the compare-and-set, the order and its outbox event commit
    // together or not at all, in one round trip instead of five.
    const r = await this.db.query<{ won: number; created: number }>(
      `WITH cas AS (
         UPDATE payment_attempts SET status = 'succeeded', payment_intent_id = $2, updated_at = now()
         WHERE id = $1 AND (status = 'pending' OR (status = 'succeeded' AND payment_intent_id = $2))
           AND NOT EXISTS (SELECT 1 FROM orders WHERE hold_id = $3 AND payment_intent_id <> $2)
         RETURNING id
       ), ins AS (
         INSERT INTO orders (id, hold_id, sale_id, buyer_id, amount, currency, payment_intent_id, attempt_id)
         SELECT $4, $3, $5, $6, $7, $8, $2, $1 FROM cas
         ON CONFLICT DO NOTHING RETURNING id
       ), event AS (
         INSERT INTO outbox (event_type, aggregate_id, payload) SELECT 'order.created', id, $9::jsonb FROM ins ON CONFLICT DO NOTHING
       )
       SELECT (SELECT count(*) FROM cas)::int AS won, (SELECT count(*) FROM ins)::int AS created`,
      [a.id, paymentIntentId, a.hold_id, orderId, a.sale_id, a.buyer_id, a.amount, a.currency, payload],
    );
    const { won, created } = r.rows[0]!;
    if (won !== 1) {
      const now = await this.attemptByKey(a.idempotency_key);
      return { kind: 'refused', status: now?.status ?? 'failed' };
    }
    if (created === 1) return { kind: 'ordered', orderId, created: true };
    // A rerun: the order of this payment is already stored.
    const existing = await this.db.query<{ id: string; payment_intent_id: string }>('SELECT id, payment_intent_id FROM orders WHERE hold_id = $1', [a.hold_id]);
    if (existing.rows[0]?.payment_intent_id === paymentIntentId) return { kind: 'ordered', orderId: existing.rows[0].id, created: false };
    // Reachable only if two attempts of one hold were authorised at once, which beginPay rules out:
    // this attempt has no order, so it is failed and the caller cancels its authorisation.
    await this.db.query(
      `UPDATE payment_attempts SET status = 'failed', failure_reason = 'hold_sold_elsewhere', updated_at = now()
       WHERE id = $1 AND payment_intent_id = $2 AND NOT EXISTS (SELECT 1 FROM orders WHERE attempt_id = $1)`,
      [a.id, paymentIntentId],
    );
    return { kind: 'refused', status: 'failed' };
  }

  async markCaptured(orderId: string): Promise<void> {
    await this.db.query(`UPDATE orders SET capture_status = 'captured', captured_at = COALESCE(captured_at, now()), capture_error = NULL WHERE id = $1`, [orderId]);
  }

  /** Never overwrites a capture that succeeded meanwhile (a webhook or a second path got there first). */
  async markCaptureFailed(orderId: string, error: string): Promise<void> {
    await this.db.query(`UPDATE orders SET capture_status = 'failed', capture_error = left($2, 500) WHERE id = $1 AND capture_status <> 'captured'`, [orderId, error]);
  }

  /** Attempts still pending and untouched for `olderThanMs`, oldest first: reconciliation's first worklist. */
  async stalePending(olderThanMs: number, limit: number): Promise<AttemptRow[]> {
    const r = await this.db.query<AttemptRow>(
      `SELECT ${ATTEMPT_COLUMNS} FROM payment_attempts WHERE status = 'pending' AND updated_at < now() - make_interval(secs => $1::double precision / 1000)
       ORDER BY updated_at LIMIT $2`,
      [olderThanMs, limit],
    );
    return r.rows;
  }

  /** Orders whose capture has not succeeded within `olderThanMs`. */
  async uncaptured(olderThanMs: number, limit: number): Promise<OrderRow[]> {
    const r = await this.db.query<OrderRow>(
      `SELECT o.id, o.hold_id, o.payment_intent_id, a.idempotency_key, o.capture_status
       FROM orders o JOIN payment_attempts a ON a.id = o.attempt_id
       WHERE o.capture_status <> 'captured'
         -- a failed capture is retried at once; a pending one may still be under way in its job
         AND (o.capture_status = 'failed' OR o.created_at < now() - make_interval(secs => $1::double precision / 1000))
       ORDER BY o.created_at LIMIT $2`,
      [olderThanMs, limit],
    );
    return r.rows;
  }
}
