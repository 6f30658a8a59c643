import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb } from '../shared/db.js';
import { isolatedDatabase } from '../tests/helpers/env.js';
import { COMMIT_ORDERS, ENSURE_ATTEMPTS, MARK_CAPTURED, RECORD_INTENTS } from './payment-statements.js';
import { PaymentStore } from './payment-store.js';
import { LedgerStatistics } from './ledger-statistics.js';
import type { PaymentJob } from './payment-job.js';

// The plans the workers' sessions keep for the group-commit statements, on a ledger that grows as in
// the first sale on a new database: a few rows when the sessions start, tens of thousands minutes
// later, before autovacuum's next ANALYZE (turned off here so it cannot come early). A named statement
// keeps a generic plan after its fifth run, costed with the statistics of that moment: on the young
// ledger, whole-table scans. The store keeps the statistics up with the growth (LedgerStatistics), and
// each ANALYZE makes the session plan again: by key. No planner switches anywhere.
const url = await isolatedDatabase();
// One connection: the store's statements, the control and the EXPLAINs share one session.
const db = createDb(url, 1);
afterAll(() => db.end());

const SALE = 'plans';
const GROWN = 50_000;
const BATCH = 50;

async function fill(from: number, to: number): Promise<void> {
  await db.query(
    `INSERT INTO payment_attempts (id, hold_id, sale_id, buyer_id, attempt_no, idempotency_key, amount, currency, status, payment_intent_id)
     SELECT 'pay_' || i, 'hold_0_' || i, $1, 'b' || i, 1, 'k_' || i, 100, 'eur', 'succeeded', 'pi_' || i FROM generate_series($2::int, $3::int) i`,
    [SALE, from, to],
  );
  await db.query(
    `INSERT INTO orders (id, hold_id, sale_id, buyer_id, amount, currency, payment_intent_id, attempt_id)
     SELECT 'ord_' || i, 'hold_0_' || i, $1, 'b' || i, 100, 'eur', 'pi_' || i, 'pay_' || i FROM generate_series($2::int, $3::int) i`,
    [SALE, from, to],
  );
}

const range = (from: number, n: number) => Array.from({ length: n }, (_, j) => from + j);

/** The statements with batches of real rows (the middle of the grown ledger), values as the store packs them. */
function statements(): { name: string; text: string; values: unknown[] }[] {
  const r = range(GROWN / 2, BATCH);
  const fresh = range(GROWN + 1, BATCH);
  return [
    { name: 'ENSURE_ATTEMPTS', text: ENSURE_ATTEMPTS, values: [fresh.map((i) => `pay_${i}`), fresh.map((i) => `hold_0_${i}`), fresh.map(() => SALE), fresh.map((i) => `b${i}`), fresh.map(() => 1), fresh.map((i) => `k_${i}`), fresh.map(() => 100), fresh.map(() => 'eur'), fresh.map((_, n) => n)] },
    { name: 'RECORD_INTENTS', text: RECORD_INTENTS, values: [r.map((i) => `pay_${i}`), r.map((i) => `pi_${i}`)] },
    { name: 'COMMIT_ORDERS', text: COMMIT_ORDERS, values: [r.map((i) => `pay_${i}`), r.map((i) => `pi_${i}`), r.map((i) => `hold_0_${i}`), r.map((i) => `ord_${i}`), r.map(() => SALE), r.map((i) => `b${i}`), r.map(() => 100), r.map(() => 'eur'), r.map(() => '{}'), r.map((_, n) => n), r.map(() => 0)] },
    { name: 'MARK_CAPTURED', text: MARK_CAPTURED, values: [r.map((i) => `ord_${i}`)] },
  ];
}

/** The generic plan a session keeps for the statement once prepared (after its fifth run), at the ledger's current statistics. */
async function genericPlan(name: string, text: string, values: unknown[]): Promise<string> {
  const c = await db.connect();
  try {
    await c.query(`PREPARE plan_${name} AS ${text}`);
    await c.query('SET plan_cache_mode = force_generic_plan');
    const literals = values.map((v) => c.escapeLiteral(`{${(v as unknown[]).map((x) => JSON.stringify(String(x))).join(',')}}`));
    const r = await c.query<{ 'QUERY PLAN': string }>(`EXPLAIN (COSTS OFF) EXECUTE plan_${name}(${literals.join(', ')})`);
    return r.rows.map((row) => row['QUERY PLAN']).join('\n');
  } finally {
    await c.query(`RESET plan_cache_mode; DEALLOCATE plan_${name}`);
    c.release();
  }
}

/** The plan the store's own prepared statement has in the session now. */
async function keptPlan(statement: string, ids: string[]): Promise<string> {
  const r = await db.query<{ 'QUERY PLAN': string }>(`EXPLAIN (COSTS OFF) EXECUTE "${statement}"('{${ids.join(',')}}')`);
  return r.rows.map((row) => row['QUERY PLAN']).join('\n');
}

const job = (i: number): PaymentJob => ({ saleId: SALE, holdId: `hold_0_new${i}`, buyer: `nb${i}`, attemptNo: 1, paymentMethod: 'pm_card_visa', amount: 100, currency: 'eur', perBuyerLimit: 1 });

/** Index scans entered without a key: a whole index walked (as a subquery hashed from every order would be). */
function unkeyedIndexScans(plan: string): string[] {
  const lines = plan.split('\n');
  return lines.filter((l, i) => /Index Scan/.test(l) && !/Index Cond/.test(lines[i + 1] ?? ''));
}

function expectKeyed(name: string, plan: string): void {
  expect(plan, name).not.toMatch(/Seq Scan on (payment_attempts|orders|outbox)/);
  expect(unkeyedIndexScans(plan), name).toEqual([]);
  if (name === 'ENSURE_ATTEMPTS') {
    expect(plan, name).toMatch(/Index Scan using payment_attempts_idempotency_key_key on payment_attempts/);
    expect(plan, name).toMatch(/Index Scan using orders_sale_buyer on orders/);
  }
  if (name === 'COMMIT_ORDERS') {
    expect(plan, name).toMatch(/(Index Scan using|Bitmap Index Scan on) payment_attempts_pkey/);
    expect(plan, name).toMatch(/Index Scan using orders_hold_id_key on orders/);
    // The attempts are locked by key, not by walking every pending attempt.
    expect(plan, name).not.toMatch(/payment_attempts_open/);
  }
  if (name === 'MARK_CAPTURED') expect(plan, name).toMatch(/(Index Scan using|Bitmap Index Scan on) orders_pkey/);
  // By key, or through the partial index of pending attempts (the statement only changes pending
  // ones; the planner takes it when ANALYZE last saw few of them): either way, not the whole table.
  if (name === 'RECORD_INTENTS') expect(plan, name).toMatch(/(Index Scan using|Bitmap Index Scan on) payment_attempts_(pkey|open)\b/);
}

beforeAll(async () => {
  await db.query(
    `INSERT INTO sales (id, name, sku, price_amount, currency, stock, pools, starts_at, ends_at, admit_per_second, max_active_holds, hold_seconds, per_buyer_limit, prequeue_key)
     VALUES ($1, 'plans', 'P', 100, 'eur', 1000000, 1, now(), now() + interval '1 hour', 100, 100, 60, 1, 'k')`,
    [SALE],
  );
  for (const t of ['payment_attempts', 'orders', 'outbox', 'sale_pools']) await db.query(`ALTER TABLE ${t} SET (autovacuum_enabled = false)`);
  await fill(1, 20);
});

describe('plans of the group-commit statements', () => {
  it('a session that started on a young ledger keeps a whole-table scan until the store refreshes the statistics, then plans by key', async () => {
    const store = new PaymentStore(db, new LedgerStatistics(db, { firstAt: 20 }));
    // Six batches of ten captures on the young ledger, through the store (more than the five runs
    // after which a named statement keeps a generic plan).
    for (let b = 0; b < 6; b++) await Promise.all(range(1, 10).map((i) => store.markCaptured(`ord_${((b * 10 + i) % 20) + 1}`)));
    const generic = await db.query<{ n: number }>(`SELECT generic_plans::int AS n FROM pg_prepared_statements WHERE name = 'fs-mark-captured'`);
    expect(generic.rows[0]!.n).toBeGreaterThan(0);

    // Other workers fill the ledger; this session's plan is still the young ledger's.
    await fill(21, GROWN);
    const ids = range(GROWN / 2, BATCH).map((i) => `ord_${i}`);
    expect(await keptPlan('fs-mark-captured', ids)).toMatch(/Seq Scan on orders/);

    // This store writes its first attempts: the statistics (never analyzed) are found behind, refreshed,
    // and the session plans again.
    await Promise.all(range(1, 20).map((i) => store.ensureAttempt(job(i))));
    await store.ledger.refreshing;
    const believed = await db.query<{ n: number }>(`SELECT reltuples::int AS n FROM pg_class WHERE oid = 'orders'::regclass`);
    expect(believed.rows[0]!.n).toBeGreaterThan(GROWN / 2);
    const plan = await keptPlan('fs-mark-captured', ids);
    expect(plan).not.toMatch(/Seq Scan/);
    expectKeyed('MARK_CAPTURED', plan);
  });

  it('every statement\'s generic plan reaches its rows by key on the grown, analyzed ledger', async () => {
    const n = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM orders');
    expect(n.rows[0]!.n).toBe(GROWN);
    for (const st of statements()) expectKeyed(st.name, await genericPlan(st.name.toLowerCase(), st.text, st.values));
  });
});
