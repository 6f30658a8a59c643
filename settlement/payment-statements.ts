import { ATTEMPT_COLUMN_LIST, ATTEMPT_COLUMNS, SOLD_OUT } from './payment-rows.js';

/*
 * The SQL of the ledger's four group-committed statements, which PaymentStore runs (payment-store.ts).
 *
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
