import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { createDb, type Db } from '../shared/db.js';
import { isolatedDatabase, saleInput, uniqueId } from '../tests/helpers/env.js';
import { SaleStore } from '../admission/sale-store.js';
import { splitUnits } from '../inventory/pool-split.js';
import { COMMIT_ORDERS } from './payment-statements.js';
import { PaymentStore, type CommitResult } from './payment-store.js';
import type { PaymentJob } from './payment-job.js';

// The ledger's stock fence (DESIGN.md invariant 7) against the real Postgres: two "workers" (payment
// stores on pools of connections of their own, as two worker processes have) commit far more orders
// than the sale has units, in group-committed batches that really wait on each other's pool rows.
const url = await isolatedDatabase();
const pools: Db[] = [];
afterAll(async () => {
  await Promise.all(pools.map((p) => p.end()));
});
const admin = createDb(url, 4);
pools.push(admin);
const sales = new SaleStore(admin);

interface Statement {
  worker: number;
  rows: number;
  began: number;
  ended: number;
  error?: string;
}
const statements: Statement[] = [];

/** A worker's store on its own connections, recording each order statement it sends and every error. */
function worker(n: number): PaymentStore {
  const db = createDb(url, 4, `-c application_name=fence-w${n}`);
  pools.push(db);
  const query = db.query.bind(db) as (...a: unknown[]) => Promise<unknown>;
  (db as { query: unknown }).query = async (...a: unknown[]) => {
    const q = a[0] as { text?: string; values?: unknown[][] };
    const st: Statement = { worker: n, rows: q.text === COMMIT_ORDERS ? q.values![0]!.length : 0, began: performance.now(), ended: 0 };
    try {
      return await query(...a);
    } catch (err) {
      st.error = (err as { code?: string }).code ?? String(err);
      throw err;
    } finally {
      st.ended = performance.now();
      if (st.rows > 0 || st.error) statements.push(st);
    }
  };
  return new PaymentStore(db);
}

async function newSale(stock: number, poolCount: number) {
  const input = saleInput({ stock, pools: poolCount });
  const now = Date.now();
  const sale = (await sales.insert({ ...input, id: input.id!, startsAt: new Date(now).toISOString(), endsAt: new Date(now + 3600_000).toISOString(), status: 'active', prequeueKey: 'k', joinChallengeBits: 0, lotteryWindowSeconds: 0 }))!;
  expect(sale).not.toBeNull();
  return sale;
}

const tag = () => randomBytes(4).toString('hex');
const jobIn = (saleId: string, pool: number): PaymentJob => ({
  saleId, holdId: `hold_${pool}_f${tag()}`, buyer: uniqueId('b'), attemptNo: 1, paymentMethod: 'pm_card_visa', amount: 500, currency: 'eur', perBuyerLimit: 1,
});
const fence = async (saleId: string) => (await admin.query<{ pool: number; stock: number; sold: number }>('SELECT pool, stock, sold FROM sale_pools WHERE sale_id = $1 ORDER BY pool', [saleId])).rows;
const ordersPerPool = async (saleId: string) => {
  const r = await admin.query<{ pool: number; n: number }>(
    `SELECT substring(hold_id FROM '^hold_(\\d+)_')::int AS pool, count(*)::int AS n FROM orders WHERE sale_id = $1 GROUP BY 1 ORDER BY 1`, [saleId]);
  return Object.fromEntries(r.rows.map((x) => [x.pool, x.n]));
};
const attemptsOf = async (saleId: string) => (await admin.query<{ status: string; failure_reason: string | null; n: number }>(
  'SELECT status, failure_reason, count(*)::int AS n FROM payment_attempts WHERE sale_id = $1 GROUP BY 1, 2 ORDER BY 1, 2', [saleId])).rows;

/**
 * Waits until each application name in `want` has at least that many sessions of this database
 * waiting for a lock (an event, not a sleep); answers how many each had, after 10 s at most.
 */
async function lockWaiters(want: Record<string, number>): Promise<Record<string, number>> {
  const until = Date.now() + 10_000;
  for (;;) {
    const r = await admin.query<{ name: string; n: number }>(
      `SELECT application_name AS name, count(*)::int AS n FROM pg_stat_activity
       WHERE datname = current_database() AND wait_event_type = 'Lock' AND application_name = ANY($1) GROUP BY 1`, [Object.keys(want)]);
    const got = Object.fromEntries(Object.keys(want).map((k) => [k, r.rows.find((x) => x.name === k)?.n ?? 0]));
    if (Object.entries(want).every(([k, n]) => got[k]! >= n) || Date.now() > until) return got;
    await new Promise((res) => setTimeout(res, 10));
  }
}

const count = (rs: CommitResult[], kind: CommitResult['kind']) => rs.filter((r) => r.kind === kind).length;

describe('the stock fence in the order statement', () => {
  it('2N+ payments for N units from two workers at once: exactly N orders, the rest refused sold out, no deadlock', async () => {
    const units = 30;
    const sale = await newSale(units, 3);
    const workers = [worker(1), worker(2)];
    // 25 payments per pool, 75 for 30 units (10 a pool), every one authorised: what a Redis that
    // re-sells sold units (restored from an older snapshot) would send.
    const jobs = Array.from({ length: 75 }, (_, i) => jobIn(sale.id, i % 3));
    const rows = await Promise.all(jobs.map((j) => workers[0]!.ensureAttempt(j).then((e) => e.row)));
    statements.length = 0;

    // A third session holds every pool row while the workers' batches arrive, so that both workers
    // have statements in flight together, queued on the same rows; then all of it is let go at once.
    // Three waves, alternating workers: each worker's first batch and second batch (two in flight at
    // most) wait on the rows, its third waits in the worker for one of them to finish.
    const blocker = await admin.connect();
    await blocker.query('BEGIN');
    await blocker.query('SELECT 1 FROM sale_pools WHERE sale_id = $1 ORDER BY pool FOR UPDATE', [sale.id]);
    const wave = (from: number) => rows.slice(from, from + 25).map((a, i) => workers[i % 2]!.commitOrder(a, `pi_${a.hold_id}`));
    const first = wave(0);
    expect(await lockWaiters({ 'fence-w1': 1, 'fence-w2': 1 })).toEqual({ 'fence-w1': 1, 'fence-w2': 1 });
    const second = wave(25);
    expect(await lockWaiters({ 'fence-w1': 2, 'fence-w2': 2 })).toEqual({ 'fence-w1': 2, 'fence-w2': 2 });
    const third = wave(50);
    await blocker.query('COMMIT');
    blocker.release();
    const rs = await Promise.all([...first, ...second, ...third]);

    expect(count(rs, 'ordered')).toBe(units);
    expect(count(rs, 'sold_out')).toBe(75 - units);
    expect(rs.filter((r) => r.kind === 'sold_out').every((r) => r.kind === 'sold_out' && r.decided)).toBe(true);
    expect(count(rs, 'refused')).toBe(0);
    expect(await ordersPerPool(sale.id)).toEqual({ 0: 10, 1: 10, 2: 10 });
    expect(await fence(sale.id)).toEqual([{ pool: 0, stock: 10, sold: 10 }, { pool: 1, stock: 10, sold: 10 }, { pool: 2, stock: 10, sold: 10 }]);
    expect(await attemptsOf(sale.id)).toEqual([{ status: 'failed', failure_reason: 'sold_out', n: 45 }, { status: 'succeeded', failure_reason: null, n: 30 }]);
    const outbox = await admin.query("SELECT 1 FROM outbox WHERE payload->>'saleId' = $1", [sale.id]);
    expect(outbox.rowCount).toBe(units);

    // Group committed and really interleaved: both workers sent several multi-row statements, and
    // statements of the two overlapped in time. No statement failed: no deadlock (40P01), no check
    // violation the fence should have avoided (23514), no batch re-run row by row.
    expect(statements.filter((s) => s.error)).toEqual([]);
    const of = (w: number) => statements.filter((s) => s.worker === w);
    expect(of(1).length).toBeGreaterThanOrEqual(3);
    expect(of(2).length).toBeGreaterThanOrEqual(3);
    expect(statements.every((s) => s.rows > 1)).toBe(true);
    expect(of(1).some((a) => of(2).some((b) => a.began < b.ended && b.began < a.ended))).toBe(true);
  });

  it('a rerun of a committed attempt takes no unit, even from a full pool; a hold of a pool the fence does not have gets none', async () => {
    const sale = await newSale(2, 1);
    const store = worker(3);
    const [a, b, c] = await Promise.all([0, 0, 0].map(async (p) => (await store.ensureAttempt(jobIn(sale.id, p))).row));
    expect(await store.commitOrder(a!, 'pi_a')).toMatchObject({ kind: 'ordered', created: true });
    // The same payment again (a webhook, a rerun after a crash): the order already stored, no unit.
    expect(await store.commitOrder(a!, 'pi_a')).toMatchObject({ kind: 'ordered', created: false });
    expect(await fence(sale.id)).toEqual([{ pool: 0, stock: 2, sold: 1 }]);
    expect(await store.commitOrder(b!, 'pi_b')).toMatchObject({ kind: 'ordered', created: true });
    // Full: a rerun is still its order, a new payment is sold out — once decided, always so.
    expect((await Promise.all([store.commitOrder(a!, 'pi_a'), store.commitOrder(c!, 'pi_c')])).map((r) => r.kind)).toEqual(['ordered', 'sold_out']);
    expect(await store.commitOrder(c!, 'pi_c')).toEqual({ kind: 'sold_out', decided: false });
    expect(await store.attemptByKey(c!.idempotency_key)).toMatchObject({ status: 'failed', failure_reason: 'sold_out', payment_intent_id: 'pi_c' });
    expect(await fence(sale.id)).toEqual([{ pool: 0, stock: 2, sold: 2 }]);

    const stray = (await store.ensureAttempt(jobIn(sale.id, 7))).row;
    expect(await store.commitOrder(stray, 'pi_stray')).toEqual({ kind: 'sold_out', decided: true });
    expect(await ordersPerPool(sale.id)).toEqual({ 0: 2 });
  });

  it('a restock by k lets exactly k more through, each pool its share', async () => {
    const sale = await newSale(3, 3);
    const store = worker(4);
    const commitAll = async (perPool: number) => {
      const rows = await Promise.all(Array.from({ length: perPool * 3 }, async (_, i) => (await store.ensureAttempt(jobIn(sale.id, i % 3))).row));
      return Promise.all(rows.map((a) => store.commitOrder(a, `pi_${a.hold_id}`)));
    };
    expect(count(await commitAll(3), 'ordered')).toBe(3);
    expect(count(await commitAll(1), 'ordered')).toBe(0);
    await sales.restock(sale.id, 4);
    expect(await fence(sale.id)).toEqual(splitUnits(3, 3).map((s, pool) => ({ pool, stock: s + splitUnits(4, 3)[pool]!, sold: s })));
    const after = await commitAll(4);
    expect(count(after, 'ordered')).toBe(4);
    expect(count(after, 'sold_out')).toBe(8);
    expect(await ordersPerPool(sale.id)).toEqual({ 0: 3, 1: 2, 2: 2 });
    expect(await fence(sale.id)).toEqual([{ pool: 0, stock: 3, sold: 3 }, { pool: 1, stock: 2, sold: 2 }, { pool: 2, stock: 2, sold: 2 }]);
  });

  it('a restock and a batch of orders over the same pools wait for each other one way, never both (no deadlock)', async () => {
    const sale = await newSale(4, 3);
    const store = worker(5);
    const rows = await Promise.all([2, 1, 0].map(async (p) => (await store.ensureAttempt(jobIn(sale.id, p))).row));
    // Pool 1 is held elsewhere: the batch (pools 0, 1, 2 in one statement) takes pool 0 and waits for
    // pool 1; the restock (every pool) waits for pool 0. Let go, each gets its rows in the same order.
    // Were the two orders different, each would now hold a row the other waits for.
    const blocker = await admin.connect();
    await blocker.query('BEGIN');
    await blocker.query('SELECT 1 FROM sale_pools WHERE sale_id = $1 AND pool = 1 FOR UPDATE', [sale.id]);
    const batch = Promise.all(rows.map((a) => store.commitOrder(a, `pi_${a.hold_id}`)));
    expect(await lockWaiters({ 'fence-w5': 1 })).toEqual({ 'fence-w5': 1 });
    const restocker = createDb(url, 1, '-c application_name=fence-restock');
    pools.push(restocker);
    const restock = new SaleStore(restocker).restock(sale.id, 3);
    expect(await lockWaiters({ 'fence-restock': 1 })).toEqual({ 'fence-restock': 1 });
    await blocker.query('COMMIT');
    blocker.release();
    const [rs, restocked] = await Promise.all([batch, restock]);

    expect(statements.filter((s) => s.worker === 5)).toMatchObject([{ rows: 3 }]);
    expect(statements.filter((s) => s.worker === 5 && s.error)).toEqual([]);
    expect(rs.map((r) => r.kind)).toEqual(['ordered', 'ordered', 'ordered']);
    expect(restocked?.stock).toBe(7);
    expect(await fence(sale.id)).toEqual([{ pool: 0, stock: 3, sold: 1 }, { pool: 1, stock: 2, sold: 1 }, { pool: 2, stock: 2, sold: 1 }]);
  });

  it('two attempts of one hold authorised at once, their statements in flight together: one order, one unit taken', async () => {
    const sale = await newSale(3, 1);
    const store = worker(6);
    const job = jobIn(sale.id, 0);
    const [a1, a2] = await Promise.all([1, 2].map(async (attemptNo) => (await store.ensureAttempt({ ...job, attemptNo })).row));
    // Both statements start (neither can see the other's order) and wait on the pool row; let go, the
    // second finds the first's order only when it inserts its own: its statement is undone, unit
    // included, and run again.
    const blocker = await admin.connect();
    await blocker.query('BEGIN');
    await blocker.query('SELECT 1 FROM sale_pools WHERE sale_id = $1 FOR UPDATE', [sale.id]);
    const both = Promise.all([store.commitOrder(a1!, 'pi_one'), store.commitOrder(a2!, 'pi_two')]);
    expect(await lockWaiters({ 'fence-w6': 2 })).toEqual({ 'fence-w6': 2 });
    await blocker.query('COMMIT');
    blocker.release();
    expect((await both).map((r) => r.kind).sort()).toEqual(['ordered', 'refused']);
    expect(await ordersPerPool(sale.id)).toEqual({ 0: 1 });
    expect(await fence(sale.id)).toEqual([{ pool: 0, stock: 3, sold: 1 }]);
  });
});
