import type { Db } from '../shared/db.js';
import type { PaymentJob } from './payment-job.js';
import { idempotencyKey } from './payment-job.js';
import { pgRowError, StatementBatcher } from './statement-batcher.js';

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
  /** A failed attempt's PaymentIntent that must still be cancelled (it stopped in requires_action). */
  open_intent_id: string | null;
}

export interface OrderRow {
  id: string;
  hold_id: string;
  payment_intent_id: string;
  idempotency_key: string;
  capture_status: 'pending' | 'captured' | 'failed';
}

const ATTEMPT_COLUMN_LIST = ['id', 'hold_id', 'sale_id', 'buyer_id', 'attempt_no', 'idempotency_key', 'amount', 'currency', 'status', 'payment_intent_id', 'failure_reason', 'dead_lettered_at', 'open_intent_id'] as const;
const ATTEMPT_COLUMNS = ATTEMPT_COLUMN_LIST.join(', ');

export interface EnsuredAttempt {
  row: AttemptRow;
  created: boolean;
  /** The buyer's orders in the sale for other holds than this attempt's, when the attempt was read. */
  buyerOrders: number;
}

interface AttemptInput {
  j: PaymentJob;
  key: string;
}

interface CommitInput {
  a: AttemptRow;
  paymentIntentId: string;
}

export type CommitResult = { kind: 'ordered'; orderId: string; created: boolean } | { kind: 'refused'; status: AttemptStatus };

/**
 * Postgres side of settlement: payment attempts, orders and the outbox. Every state change of an
 * attempt is a compare-and-set on its status, so the job, a webhook and reconciliation can race on the
 * same attempt and exactly one of them decides it.
 */
/** Batched captures: one UPDATE for every order captured in the moment (exported for its plan test). */
export const MARK_CAPTURED = `UPDATE orders SET capture_status = 'captured', captured_at = COALESCE(captured_at, now()), capture_error = NULL WHERE id = ANY($1::text[])`;

const orderIdOf = (holdId: string): string => `ord_${holdId.slice('hold_'.length)}`;

export class PaymentStore {
  constructor(readonly db: Db) {}

  private readonly attempts = new StatementBatcher<AttemptInput, EnsuredAttempt | null>({
    run: (items) => this.ensureAttempts(items),
    keyOf: (i) => i.key,
    rowError: pgRowError,
  });

  private readonly commits = new StatementBatcher<CommitInput, { won: boolean; created: boolean }>({
    run: (items) => this.commitOrders(items),
    // Per hold, not per attempt: two attempts of one hold in one statement could not see each other's order.
    keyOf: (i) => i.a.hold_id,
    rowError: pgRowError,
  });

  private readonly captures = new StatementBatcher<string, void>({
    run: async (ids) => {
      await this.db.query({ name: 'fs-mark-captured', text: MARK_CAPTURED, values: [ids] });
      return ids.map(() => undefined);
    },
    rowError: pgRowError,
  });

  /**
   * Stores the attempt and its idempotency key (UNIQUE) before the provider is called; a retried job
   * finds the same row and so sends the same key. `created` false = an earlier run may have called the
   * provider already. `buyerOrders`: the buyer's orders in the sale for other holds, read in the same
   * statement (the per-buyer limit's check, saga.ts).
   */
  async ensureAttempt(j: PaymentJob): Promise<EnsuredAttempt> {
    const key = idempotencyKey(j.holdId, j.attemptNo);
    const got = await this.attempts.add({ j, key });
    if (got) return got;
    // The row was inserted by a transaction that committed after this statement's snapshot was taken
    // (ON CONFLICT waited for it, the snapshot cannot see it): read it now.
    const row = (await this.attemptByKey(key))!;
    return { row, created: false, buyerOrders: await this.buyerOrders(j.saleId, j.buyer, j.holdId) };
  }

  /**
   * Many ensureAttempt calls as one statement: insert what is new (ON CONFLICT on the UNIQUE key does
   * nothing), return each caller its row (new, or already there) and its buyer's other orders. Null
   * for a row inserted by a concurrent transaction this statement's snapshot cannot see.
   */
  private async ensureAttempts(items: AttemptInput[]): Promise<(EnsuredAttempt | null)[]> {
    const col = (f: (i: AttemptInput) => unknown) => items.map(f);
    const pick = ATTEMPT_COLUMN_LIST.map((c) => `CASE WHEN ins.id IS NOT NULL THEN ins.${c} ELSE p.${c} END AS ${c}`).join(', ');
    const r = await this.db.query<AttemptRow & { ord: number; created: boolean; buyer_orders: number }>({
      name: 'fs-ensure-attempts',
      text: `WITH input AS (
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int[], $6::text[], $7::int[], $8::text[], $9::int[])
           AS i(id, hold_id, sale_id, buyer_id, attempt_no, idempotency_key, amount, currency, ord)
       ), ins AS (
         INSERT INTO payment_attempts (id, hold_id, sale_id, buyer_id, attempt_no, idempotency_key, amount, currency)
         -- Key order: two statements inserting the same keys wait for each other in one order, never both ways.
         SELECT id, hold_id, sale_id, buyer_id, attempt_no, idempotency_key, amount, currency FROM input ORDER BY idempotency_key
         ON CONFLICT (idempotency_key) DO NOTHING RETURNING ${ATTEMPT_COLUMNS}
       )
       SELECT i.ord, ins.id IS NOT NULL AS created, ${pick},
         (SELECT count(*) FROM orders o WHERE o.sale_id = i.sale_id AND o.buyer_id = i.buyer_id AND o.hold_id <> i.hold_id)::int AS buyer_orders
       FROM input i
       LEFT JOIN ins ON ins.idempotency_key = i.idempotency_key
       LEFT JOIN payment_attempts p ON p.idempotency_key = i.idempotency_key
       ORDER BY i.ord`,
      values: [
        col((i) => `pay_${i.j.holdId}_${i.j.attemptNo}`), col((i) => i.j.holdId), col((i) => i.j.saleId), col((i) => i.j.buyer),
        col((i) => i.j.attemptNo), col((i) => i.key), col((i) => i.j.amount), col((i) => i.j.currency), items.map((_, n) => n),
      ],
    });
    return r.rows.map(({ ord: _ord, created, buyer_orders, ...row }) => (row.id === null ? null : { row, created, buyerOrders: buyer_orders }));
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
    const { won, created } = await this.commits.add({ a, paymentIntentId });
    const orderId = orderIdOf(a.hold_id);
    if (!won) {
      const now = await this.attemptByKey(a.idempotency_key);
      return { kind: 'refused', status: now?.status ?? 'failed' };
    }
    if (created) return { kind: 'ordered', orderId, created: true };
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

  /**
   * Many commitOrder statements as one (so one transaction, one commit): per row the compare-and-set
   * of the attempt, the order (UNIQUE hold_id) and its outbox event. A row whose compare-and-set loses
   * inserts nothing; the others commit.
   */
  private async commitOrders(items: CommitInput[]): Promise<{ won: boolean; created: boolean }[]> {
    const col = (f: (i: CommitInput) => unknown) => items.map(f);
    const r = await this.db.query<{ won: boolean; created: boolean }>({
      name: 'fs-commit-orders',
      text: `WITH input AS (
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::int[], $8::text[], $9::text[], $10::int[])
           AS i(attempt_id, pi, hold_id, order_id, sale_id, buyer_id, amount, currency, payload, ord)
       ), cas AS (
         UPDATE payment_attempts a SET status = 'succeeded', payment_intent_id = i.pi, updated_at = now()
         FROM input i
         WHERE a.id = i.attempt_id AND (a.status = 'pending' OR (a.status = 'succeeded' AND a.payment_intent_id = i.pi))
           AND NOT EXISTS (SELECT 1 FROM orders o WHERE o.hold_id = i.hold_id AND o.payment_intent_id <> i.pi)
         RETURNING a.id
       ), ins AS (
         INSERT INTO orders (id, hold_id, sale_id, buyer_id, amount, currency, payment_intent_id, attempt_id)
         SELECT i.order_id, i.hold_id, i.sale_id, i.buyer_id, i.amount, i.currency, i.pi, i.attempt_id FROM input i JOIN cas ON cas.id = i.attempt_id
         ORDER BY i.hold_id
         ON CONFLICT DO NOTHING RETURNING id, attempt_id
       ), event AS (
         INSERT INTO outbox (event_type, aggregate_id, payload)
         SELECT 'order.created', ins.id, i.payload::jsonb FROM ins JOIN input i ON i.attempt_id = ins.attempt_id
         ON CONFLICT DO NOTHING
       )
       SELECT i.ord, cas.id IS NOT NULL AS won, ins.id IS NOT NULL AS created
       FROM input i LEFT JOIN cas ON cas.id = i.attempt_id LEFT JOIN ins ON ins.attempt_id = i.attempt_id
       ORDER BY i.ord`,
      values: [
        col((i) => i.a.id), col((i) => i.paymentIntentId), col((i) => i.a.hold_id), col((i) => orderIdOf(i.a.hold_id)), col((i) => i.a.sale_id),
        col((i) => i.a.buyer_id), col((i) => i.a.amount), col((i) => i.a.currency),
        col((i) => JSON.stringify({ orderId: orderIdOf(i.a.hold_id), holdId: i.a.hold_id, saleId: i.a.sale_id, buyerId: i.a.buyer_id, amount: i.a.amount, currency: i.a.currency, paymentIntentId: i.paymentIntentId })),
        items.map((_, n) => n),
      ],
    });
    return r.rows.map(({ won, created }) => ({ won, created }));
  }

  /** Batched with the other captures of the moment (one UPDATE for all of them). */
  async markCaptured(orderId: string): Promise<void> {
    await this.captures.add(orderId);
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

  /**
   * Step 1b: the PaymentIntent id on its attempt before the intent is confirmed, compare-and-set (only
   * while the attempt is pending, and only this intent), so reconciliation finds the intent by its id
   * rather than by a search. False when the attempt was decided meanwhile: then nothing may be confirmed.
   * Batched with the other payments of the moment, like steps 0 and 2.
   */
  async recordIntent(attemptId: string, paymentIntentId: string): Promise<boolean> {
    return this.intentIds.add({ attemptId, paymentIntentId });
  }

  private readonly intentIds = new StatementBatcher<{ attemptId: string; paymentIntentId: string }, boolean>({
    run: async (items) => {
      const r = await this.db.query<{ id: string }>({
        name: 'fs-record-intents',
        text: `UPDATE payment_attempts a SET payment_intent_id = i.pi, updated_at = now()
               FROM unnest($1::text[], $2::text[]) AS i(id, pi)
               WHERE a.id = i.id AND a.status = 'pending' AND (a.payment_intent_id IS NULL OR a.payment_intent_id = i.pi)
               RETURNING a.id`,
        values: [items.map((i) => i.attemptId), items.map((i) => i.paymentIntentId)],
      });
      const stored = new Set(r.rows.map((row) => row.id));
      return items.map((i) => stored.has(i.attemptId));
    },
    keyOf: (i) => i.attemptId,
    rowError: pgRowError,
  });

  /**
   * pending -> failed because the confirmation stopped in requires_action; the intent is named as one to
   * cancel in the same compare-and-set, so that duty outlives this process. False when another path
   * decided the attempt first.
   */
  async markNeedsAction(attemptId: string, paymentIntentId: string): Promise<boolean> {
    const r = await this.db.query(
      `UPDATE payment_attempts SET status = 'failed', failure_reason = 'requires_action', payment_intent_id = $2, open_intent_id = $2, updated_at = now()
       WHERE id = $1 AND status = 'pending'`,
      [attemptId, paymentIntentId],
    );
    return r.rowCount === 1;
  }

  /** The provider has cancelled the attempt's open intent: nothing left to cancel. */
  async markIntentCanceled(attemptId: string, paymentIntentId: string): Promise<void> {
    await this.db.query('UPDATE payment_attempts SET open_intent_id = NULL WHERE id = $1 AND open_intent_id = $2', [attemptId, paymentIntentId]);
  }

  /** Failed attempts whose intent is still to be cancelled, failed at least `olderThanMs` ago: reconciliation's worklist. */
  async openIntents(olderThanMs: number, limit: number): Promise<AttemptRow[]> {
    const r = await this.db.query<AttemptRow>(
      `SELECT ${ATTEMPT_COLUMNS} FROM payment_attempts WHERE open_intent_id IS NOT NULL AND updated_at < now() - make_interval(secs => $1::double precision / 1000)
       ORDER BY updated_at LIMIT $2`,
      [olderThanMs, limit],
    );
    return r.rows;
  }
}
