import type { Db } from '../shared/db.js';
import { poolOfHold } from '../inventory/keys.js';
import type { PaymentJob } from './payment-job.js';
import { idempotencyKey } from './payment-job.js';
import { pgRowError, StatementBatcher } from './statement-batcher.js';
import { LedgerStatistics } from './ledger-statistics.js';
import { ATTEMPT_COLUMNS, SOLD_OUT, type AttemptRow, type CommitResult, type EnsuredAttempt, type OrderRow } from './payment-rows.js';
import { COMMIT_ORDERS, ENSURE_ATTEMPTS, MARK_CAPTURED, RECORD_INTENTS } from './payment-statements.js';

// The store's rows and answers are its public vocabulary: importers of the store find them here too.
export { SOLD_OUT, type AttemptRow, type AttemptStatus, type CommitResult, type EnsuredAttempt, type OrderRow } from './payment-rows.js';

interface AttemptInput {
  j: PaymentJob;
  key: string;
}

interface CommitInput {
  a: AttemptRow;
  paymentIntentId: string;
}

interface CommitRow {
  won: boolean;
  created: boolean;
  soldOut: boolean;
}

const orderIdOf = (holdId: string): string => `ord_${holdId.slice('hold_'.length)}`;

const UNIQUE_VIOLATION = '23505';

/**
 * Postgres side of settlement: payment attempts, orders and the outbox. Every state change of an
 * attempt is a compare-and-set on its status, so the job, a webhook and reconciliation can race on the
 * same attempt and exactly one of them decides it.
 */
export class PaymentStore {
  constructor(readonly db: Db, readonly ledger: LedgerStatistics = new LedgerStatistics(db)) {}

  private readonly attempts = new StatementBatcher<AttemptInput, EnsuredAttempt | null>({
    run: (items) => this.ensureAttempts(items),
    keyOf: (i) => i.key,
    rowError: pgRowError,
  });

  private readonly commits = new StatementBatcher<CommitInput, CommitRow>({
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
    const r = await this.db.query<AttemptRow & { ord: number; created: boolean; buyer_orders: number }>({
      name: 'fs-ensure-attempts',
      text: ENSURE_ATTEMPTS,
      values: [
        col((i) => `pay_${i.j.holdId}_${i.j.attemptNo}`), col((i) => i.j.holdId), col((i) => i.j.saleId), col((i) => i.j.buyer),
        col((i) => i.j.attemptNo), col((i) => i.key), col((i) => i.j.amount), col((i) => i.j.currency), items.map((_, n) => n),
      ],
    });
    this.ledger.wrote(r.rows.filter((row) => row.created).length);
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
   * The saga's middle step, in one statement (so one transaction): attempt pending -> succeeded (compare-and-set), one
   * unit of the hold's pool taken from the ledger's stock fence, the order (UNIQUE hold_id) and its
   * outbox event. Running it again for the same PaymentIntent returns the order already stored and
   * takes no unit. `sold_out` when the fence had no unit left in the pool (the attempt is failed
   * `sold_out` in the same statement); `refused` when the attempt was already decided otherwise (given
   * up by reconciliation, declined) or the hold has an order of another payment. Either way the caller
   * must cancel the authorisation — that is this step's compensation.
   */
  async commitOrder(a: AttemptRow, paymentIntentId: string): Promise<CommitResult> {
    const { won, created, soldOut } = await this.commits.add({ a, paymentIntentId }).catch((err: unknown) => {
      // Another attempt of this hold stored its order after the statement began (two attempts of one
      // hold authorised at once, which beginPay rules out): nothing was taken; a new statement sees it.
      if ((err as { code?: string }).code !== UNIQUE_VIOLATION) throw err;
      return this.commits.add({ a, paymentIntentId });
    });
    const orderId = orderIdOf(a.hold_id);
    if (soldOut) return { kind: 'sold_out', decided: true };
    if (!won) {
      const now = await this.attemptByKey(a.idempotency_key);
      // Decided sold out by an earlier call (a crash before its Redis step, a webhook after the job).
      if (now?.status === 'failed' && now.failure_reason === SOLD_OUT) return { kind: 'sold_out', decided: false };
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
   * Many commitOrder statements as one (so one transaction, one commit). Per row: the compare-and-set
   * of the attempt, the fence, the order and its outbox event.
   *
   * The fence (DESIGN.md invariant 7): each pool of a sale has a guarded counter (sale_pools: stock,
   * sold, CHECK sold <= stock). Rows that would sell a unit ("fresh": attempt pending, no order for
   * the hold) are counted per pool; each pool grants LEAST(wanted, stock - sold) units, only where
   * stock > sold, computed from the pool row as locked (READ COMMITTED hands FOR UPDATE the row's
   * latest version, and the lock keeps it so until commit); the first rows of the batch in each pool
   * get them. Granted rows: attempt succeeded + order + outbox; the rest: attempt failed `sold_out`.
   * A rerun (attempt succeeded with this PaymentIntent) takes no unit. A hold id whose pool has no
   * fence row gets nothing.
   *
   * Lock order, the same in every batch: the attempts (by id), then the pool rows (by sale, pool),
   * then the orders' unique index entries. The restock takes the pool rows in the same order. Each
   * later step only reads what an earlier one locked, so two batches wait for each other, never both
   * ways.
   */
  private async commitOrders(items: CommitInput[]): Promise<CommitRow[]> {
    const col = (f: (i: CommitInput) => unknown) => items.map(f);
    const r = await this.db.query<CommitRow>({
      name: 'fs-commit-orders',
      text: COMMIT_ORDERS,
      values: [
        col((i) => i.a.id), col((i) => i.paymentIntentId), col((i) => i.a.hold_id), col((i) => orderIdOf(i.a.hold_id)), col((i) => i.a.sale_id),
        col((i) => i.a.buyer_id), col((i) => i.a.amount), col((i) => i.a.currency),
        col((i) => JSON.stringify({ orderId: orderIdOf(i.a.hold_id), holdId: i.a.hold_id, saleId: i.a.sale_id, buyerId: i.a.buyer_id, amount: i.a.amount, currency: i.a.currency, paymentIntentId: i.paymentIntentId })),
        items.map((_, n) => n), col((i) => poolOfHold(i.a.hold_id)),
      ],
    });
    return r.rows.map(({ won, created, soldOut }) => ({ won, created, soldOut }));
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
        text: RECORD_INTENTS,
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
