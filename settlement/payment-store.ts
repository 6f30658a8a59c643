import type { Db } from '../shared/db.js';
import { poolOfHold } from '../inventory/keys.js';
import type { PaymentJob } from './payment-job.js';
import { idempotencyKey } from './payment-job.js';
import { pgRowError, StatementBatcher } from './statement-batcher.js';
import { LedgerStatistics } from './ledger-statistics.js';

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

/** `failure_reason` of an attempt the ledger's stock fence refused: its pool had no unit left. */
export const SOLD_OUT = 'sold_out';

/**
 * `sold_out`: the ledger had no unit left in the hold's pool, so no order was written and the attempt
 * is failed `sold_out` (`decided`: by this call; false when an earlier call decided it).
 */
export type CommitResult =
  | { kind: 'ordered'; orderId: string; created: boolean }
  | { kind: 'sold_out'; decided: boolean }
  | { kind: 'refused'; status: AttemptStatus };

interface CommitRow {
  won: boolean;
  created: boolean;
  soldOut: boolean;
}

/*
 * Plans. The four group-commit statements below are prepared once per session (named), and Postgres
 * keeps a generic plan for each after its fifth run, costed with the ledger's statistics of that
 * moment. On a young ledger that plan scans whole tables (the cheapest plan for a few rows), so the
 * store keeps the statistics up with the ledger's growth (LedgerStatistics): each ANALYZE makes every
 * session plan again for the real size. No planner switches; keyed-plans.test.ts asserts the plans.
 */
const PICK_ATTEMPT = ATTEMPT_COLUMN_LIST.map((c) => `CASE WHEN ins.id IS NOT NULL THEN ins.${c} ELSE p.${c} END AS ${c}`).join(', ');

/** Batched intent ids (PaymentStore.recordIntent). Exported for its plan test. */
export const RECORD_INTENTS = `UPDATE payment_attempts a SET payment_intent_id = i.pi, updated_at = now()
  FROM unnest($1::text[], $2::text[]) AS i(id, pi)
  WHERE a.id = i.id AND a.status = 'pending' AND (a.payment_intent_id IS NULL OR a.payment_intent_id = i.pi)
  RETURNING a.id`;

/** The group-committed attempt statement (PaymentStore.ensureAttempts). Exported for its plan test. */
export const ENSURE_ATTEMPTS = `WITH input AS (
     SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::int[], $6::text[], $7::int[], $8::text[], $9::int[])
       AS i(id, hold_id, sale_id, buyer_id, attempt_no, idempotency_key, amount, currency, ord)
   ), ins AS (
     INSERT INTO payment_attempts (id, hold_id, sale_id, buyer_id, attempt_no, idempotency_key, amount, currency)
     -- Key order: two statements inserting the same keys wait for each other in one order, never both ways.
     SELECT id, hold_id, sale_id, buyer_id, attempt_no, idempotency_key, amount, currency FROM input ORDER BY idempotency_key
     ON CONFLICT (idempotency_key) DO NOTHING RETURNING ${ATTEMPT_COLUMNS}
   )
   SELECT i.ord, ins.id IS NOT NULL AS created, ${PICK_ATTEMPT},
     (SELECT count(*) FROM orders o WHERE o.sale_id = i.sale_id AND o.buyer_id = i.buyer_id AND o.hold_id <> i.hold_id)::int AS buyer_orders
   FROM input i
   LEFT JOIN ins ON ins.idempotency_key = i.idempotency_key
   LEFT JOIN payment_attempts p ON p.idempotency_key = i.idempotency_key
   ORDER BY i.ord`;

/** Batched captures: one UPDATE for every order captured in the moment (exported for its plan test). */
export const MARK_CAPTURED = `UPDATE orders SET capture_status = 'captured', captured_at = COALESCE(captured_at, now()), capture_error = NULL WHERE id = ANY($1::text[])`;

const orderIdOf = (holdId: string): string => `ord_${holdId.slice('hold_'.length)}`;

const UNIQUE_VIOLATION = '23505';

/**
 * The group-committed order statement with the ledger's stock fence (PaymentStore.commitOrders says
 * why each step is there). Exported for its plan test. Locks are taken in the order the steps are
 * written: every attempt before `wanted` (an aggregate over all of them) yields its first row, then
 * the pool rows in (sale, pool) order (`pool_row` sorts its whole input before it locks). MATERIALIZED
 * keeps each step one computation, never inlined into (and repeated by) its readers.
 */
export const COMMIT_ORDERS = `WITH input AS (
   SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::int[], $8::text[], $9::text[], $10::int[], $11::int[])
     AS i(attempt_id, pi, hold_id, order_id, sale_id, buyer_id, amount, currency, payload, ord, pool)
 ), attempt AS MATERIALIZED (
   -- Lock order 1: the attempts, by id. What another statement decided meanwhile is seen here.
   SELECT a.id, a.status, a.payment_intent_id FROM payment_attempts a WHERE a.id = ANY($1::text[]) ORDER BY a.id FOR UPDATE
 ), item AS MATERIALIZED (
   -- A join, not NOT EXISTS: a subquery may be planned as a hash of every order (the plan is kept
   -- from the young ledger the session started on), a join by hold_id stays one index probe per row.
   SELECT i.*,
     t.status = 'pending' AND o.id IS NULL AS fresh,
     t.status = 'succeeded' AND t.payment_intent_id = i.pi AND (o.id IS NULL OR o.payment_intent_id = i.pi) AS rerun
   FROM input i JOIN attempt t ON t.id = i.attempt_id
   LEFT JOIN LATERAL (SELECT o.id, o.payment_intent_id FROM orders o WHERE o.hold_id = i.hold_id LIMIT 1) o ON true
 ), wanted AS MATERIALIZED (
   SELECT sale_id, pool, count(*)::int AS n FROM item WHERE fresh GROUP BY sale_id, pool
 ), pool_row AS MATERIALIZED (
   -- Lock order 2: the pools' fence rows, by sale and pool; stock and sold as of the lock.
   SELECT p.sale_id, p.pool, p.stock, p.sold FROM wanted w JOIN sale_pools p ON p.sale_id = w.sale_id AND p.pool = w.pool
   ORDER BY p.sale_id, p.pool FOR UPDATE OF p
 ), fence AS (
   -- A pool with nothing left (or oversold before the fence existed) is not written: it grants nothing.
   UPDATE sale_pools p SET sold = p.sold + g.n
   FROM (SELECT l.sale_id, l.pool, LEAST(w.n, l.stock - l.sold) AS n FROM pool_row l JOIN wanted w ON w.sale_id = l.sale_id AND w.pool = l.pool WHERE l.stock > l.sold) g
   WHERE p.sale_id = g.sale_id AND p.pool = g.pool AND p.sold + g.n <= p.stock
   RETURNING p.sale_id, p.pool, g.n
 ), verdict AS MATERIALIZED (
   SELECT k.attempt_id, k.pi, k.rank <= COALESCE(f.n, 0) AS granted
   FROM (SELECT attempt_id, pi, sale_id, pool, row_number() OVER (PARTITION BY sale_id, pool ORDER BY ord) AS rank FROM item WHERE fresh) k
   LEFT JOIN fence f ON f.sale_id = k.sale_id AND f.pool = k.pool
 ), cas AS (
   -- One UPDATE for granted and refused rows alike: a statement may change a row only once.
   UPDATE payment_attempts a SET status = CASE WHEN v.granted THEN 'succeeded' ELSE 'failed' END,
     failure_reason = CASE WHEN v.granted THEN a.failure_reason ELSE '${SOLD_OUT}' END,
     payment_intent_id = v.pi, updated_at = now()
   -- Pending is not tested again: the attempt step locked these rows pending; nothing else changes them.
   FROM verdict v
   WHERE a.id = v.attempt_id
   RETURNING a.id, a.status
 ), ins AS (
   -- No ON CONFLICT: a fresh row's hold has no order (the attempt lock makes that so for this
   -- attempt); a conflict means another attempt of the hold ordered after this statement began. The
   -- error undoes the whole statement, unit included, and the row runs again (alone, by the
   -- StatementBatcher, or once more by commitOrder), where that order is seen and nothing is taken.
   INSERT INTO orders (id, hold_id, sale_id, buyer_id, amount, currency, payment_intent_id, attempt_id)
   SELECT i.order_id, i.hold_id, i.sale_id, i.buyer_id, i.amount, i.currency, i.pi, i.attempt_id
   FROM input i JOIN cas ON cas.id = i.attempt_id AND cas.status = 'succeeded'
   ORDER BY i.hold_id
   RETURNING id, attempt_id
 ), event AS (
   INSERT INTO outbox (event_type, aggregate_id, payload)
   SELECT 'order.created', ins.id, i.payload::jsonb FROM ins JOIN input i ON i.attempt_id = ins.attempt_id
   ON CONFLICT DO NOTHING
 )
 SELECT i.ord, COALESCE(v.granted, false) OR COALESCE(t.rerun, false) AS won, ins.id IS NOT NULL AS created,
   COALESCE(NOT v.granted, false) AS "soldOut"
 FROM input i
 LEFT JOIN item t ON t.attempt_id = i.attempt_id
 LEFT JOIN verdict v ON v.attempt_id = i.attempt_id
 LEFT JOIN ins ON ins.attempt_id = i.attempt_id
 ORDER BY i.ord`;

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
