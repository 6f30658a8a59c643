import { afterAll, describe, expect, it, vi } from 'vitest';
import { isolatedDatabase, saleInput, services, uniqueId } from '../tests/helpers/env.js';
import { TcpProxy } from '../tests/helpers/tcp-proxy.js';
import { createDb } from '../shared/db.js';
import { COMMIT_ORDERS } from './payment-statements.js';
import { PaymentStore } from './payment-store.js';
import { pgRowError, StatementBatcher } from './statement-batcher.js';
import type { PaymentJob } from './payment-job.js';

// Group commit in the payment store, against the real Postgres: many callers, one statement, each
// caller its own answer — and its own error.
const dbUrl = await isolatedDatabase();
const s = services(undefined, dbUrl);
afterAll(() => s.close());

const jobFor = (saleId: string, over: Partial<PaymentJob> = {}): PaymentJob => ({
  saleId, holdId: `hold_0_${uniqueId('g').replace('-', '_')}`, buyer: uniqueId('b'), attemptNo: 1, paymentMethod: 'pm_card_visa', amount: 500, currency: 'eur', perBuyerLimit: 1, ...over,
});
const pi = () => `pi_${uniqueId('g').replace('-', '')}`;

describe('StatementBatcher', () => {
  it('concurrent calls share one statement; calls for the same key never share one', async () => {
    const run = vi.fn(async (items: { k: string; v: number }[]) => items.map((i) => i.v * 2));
    const b = new StatementBatcher({ run, keyOf: (i) => i.k, maxInFlight: 1 });
    const out = await Promise.all([b.add({ k: 'a', v: 1 }), b.add({ k: 'b', v: 2 }), b.add({ k: 'a', v: 3 }), b.add({ k: 'c', v: 4 })]);
    expect(out).toEqual([2, 4, 6, 8]);
    expect(run.mock.calls.map((c) => c[0].map((i) => i.v))).toEqual([[1, 2, 4], [3]]);
  });

  it('a row error runs each item alone; any other error reaches every caller of the batch', async () => {
    const rowErr = Object.assign(new Error('violates check constraint'), { code: '23514' });
    const b = new StatementBatcher({
      run: async (items: number[]) => {
        if (items.includes(13)) throw rowErr;
        return items;
      },
      rowError: pgRowError,
    });
    const r = await Promise.allSettled([b.add(1), b.add(13), b.add(3)]);
    expect(r.map((x) => x.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    const down = new Error('Connection terminated unexpectedly');
    const c = new StatementBatcher({ run: async (): Promise<number[]> => { throw down; }, rowError: pgRowError });
    expect(await Promise.allSettled([c.add(1), c.add(2)])).toEqual([{ status: 'rejected', reason: down }, { status: 'rejected', reason: down }]);
  });
});

describe('PaymentStore group commit (real Postgres)', () => {
  it('concurrent ensureAttempt calls: one statement, each caller its own row; again: the same rows, not created', async () => {
    const sale = await s.sales.create(saleInput({ stock: 50, pools: 1 }));
    const store = new PaymentStore(s.db);
    const jobs = Array.from({ length: 20 }, () => jobFor(sale.id));
    const spy = vi.spyOn(s.db, 'query');
    const first = await Promise.all(jobs.map((j) => store.ensureAttempt(j)));
    const statements = spy.mock.calls.length;
    spy.mockRestore();
    expect(statements).toBeLessThanOrEqual(2);
    first.forEach((r, i) => expect(r).toMatchObject({ created: true, buyerOrders: 0, row: { hold_id: jobs[i]!.holdId, buyer_id: jobs[i]!.buyer, status: 'pending', idempotency_key: `fs-${jobs[i]!.holdId}-a1` } }));
    const again = await Promise.all(jobs.map((j) => store.ensureAttempt(j)));
    again.forEach((r, i) => expect(r).toMatchObject({ created: false, row: { id: first[i]!.row.id } }));
    const n = await s.db.query('SELECT count(*)::int AS n FROM payment_attempts WHERE sale_id = $1', [sale.id]);
    expect(n.rows[0].n).toBe(20);
  });

  it('the same attempt asked for twice at once: one row, created for exactly one caller', async () => {
    const sale = await s.sales.create(saleInput({ stock: 5, pools: 1 }));
    const store = new PaymentStore(s.db);
    const job = jobFor(sale.id);
    const r = await Promise.all([store.ensureAttempt(job), store.ensureAttempt(job), store.ensureAttempt(job)]);
    expect(r.filter((x) => x.created)).toHaveLength(1);
    expect(new Set(r.map((x) => x.row.id)).size).toBe(1);
  });

  it('ensureAttempt reads the buyer\'s other orders in the same statement', async () => {
    const sale = await s.sales.create(saleInput({ stock: 5, pools: 1 }));
    const store = new PaymentStore(s.db);
    const first = jobFor(sale.id);
    const { row } = await store.ensureAttempt(first);
    await store.commitOrder(row, pi());
    const [other, own] = await Promise.all([store.ensureAttempt(jobFor(sale.id, { buyer: first.buyer })), store.ensureAttempt(first)]);
    expect(other.buyerOrders).toBe(1);
    expect(own.buyerOrders).toBe(0);
  });

  it('a row that breaks a constraint fails only its own caller; the others in the batch are stored', async () => {
    const sale = await s.sales.create(saleInput({ stock: 5, pools: 1 }));
    const store = new PaymentStore(s.db);
    // attempt_no 0 breaks CHECK (attempt_no > 0); a sale that does not exist breaks the foreign key.
    const good = [jobFor(sale.id), jobFor(sale.id)];
    const r = await Promise.allSettled([store.ensureAttempt(good[0]!), store.ensureAttempt(jobFor(sale.id, { attemptNo: 0 })), store.ensureAttempt(jobFor('no-such-sale')), store.ensureAttempt(good[1]!)]);
    expect(r.map((x) => x.status)).toEqual(['fulfilled', 'rejected', 'rejected', 'fulfilled']);
    expect((r[1] as PromiseRejectedResult).reason).toMatchObject({ code: '23514' });
    expect((r[2] as PromiseRejectedResult).reason).toMatchObject({ code: '23503' });
    const stored = await s.db.query('SELECT hold_id FROM payment_attempts WHERE sale_id = $1 ORDER BY hold_id', [sale.id]);
    expect(stored.rows.map((x) => x.hold_id)).toEqual(good.map((j) => j.holdId).sort());
  });

  it('concurrent commitOrder calls: one statement; an attempt decided elsewhere is refused, the others are ordered with their outbox events', async () => {
    const sale = await s.sales.create(saleInput({ stock: 50, pools: 1 }));
    const store = new PaymentStore(s.db);
    const rows = await Promise.all(Array.from({ length: 10 }, () => store.ensureAttempt(jobFor(sale.id)).then((r) => r.row)));
    // Reconciliation gave attempt 3 up before its authorisation came back.
    expect(await store.markFailed(rows[3]!.id, 'payment_not_completed', null)).toBe(true);
    const pis = rows.map(() => pi());
    const spy = vi.spyOn(s.db, 'query');
    const out = await Promise.all(rows.map((a, i) => store.commitOrder(a, pis[i]!)));
    const batched = spy.mock.calls.filter((c) => (c[0] as { text?: string }).text === COMMIT_ORDERS).length;
    spy.mockRestore();
    expect(batched).toBeLessThanOrEqual(2);
    out.forEach((r, i) => expect(r).toEqual(i === 3 ? { kind: 'refused', status: 'failed' } : { kind: 'ordered', orderId: `ord_${rows[i]!.hold_id.slice(5)}`, created: true }));
    const orders = await s.db.query('SELECT hold_id, payment_intent_id FROM orders WHERE sale_id = $1', [sale.id]);
    expect(orders.rowCount).toBe(9);
    const events = await s.db.query("SELECT count(*)::int AS n FROM outbox WHERE event_type = 'order.created' AND payload->>'saleId' = $1", [sale.id]);
    expect(events.rows[0].n).toBe(9);
    // Running the same commits again (a rerun of each job) finds each order, creates nothing.
    const again = await Promise.all(rows.map((a, i) => store.commitOrder(a, pis[i]!)));
    again.forEach((r, i) => expect(r).toMatchObject(i === 3 ? { kind: 'refused' } : { kind: 'ordered', created: false }));
  });

  it('two attempts of one hold committed at once never share a statement: one order, the other refused', async () => {
    const sale = await s.sales.create(saleInput({ stock: 5, pools: 1 }));
    const store = new PaymentStore(s.db);
    const job = jobFor(sale.id);
    const { row: a1 } = await store.ensureAttempt(job);
    const { row: a2 } = await store.ensureAttempt({ ...job, attemptNo: 2 });
    const [r1, r2] = await Promise.all([store.commitOrder(a1, pi()), store.commitOrder(a2, pi())]);
    expect([r1.kind, r2.kind].sort()).toEqual(['ordered', 'refused']);
    const orders = await s.db.query('SELECT count(*)::int AS n FROM orders WHERE hold_id = $1', [job.holdId]);
    expect(orders.rows[0].n).toBe(1);
  });

  it('Postgres going away mid-batch: every caller of that batch gets the error, nothing half-stored', async () => {
    const sale = await s.sales.create(saleInput({ stock: 10, pools: 1 }));
    const u = new URL(dbUrl);
    const proxy = await new TcpProxy(u.hostname, Number(u.port || 5432)).start();
    const db = createDb(proxy.urlFor(dbUrl), 4);
    try {
      const store = new PaymentStore(db);
      await store.ensureAttempt(jobFor(sale.id)); // connections open through the proxy
      proxy.cut();
      const jobs = Array.from({ length: 5 }, () => jobFor(sale.id));
      const r = await Promise.allSettled(jobs.map((j) => store.ensureAttempt(j)));
      expect(r.every((x) => x.status === 'rejected')).toBe(true);
      const stored = await s.db.query('SELECT count(*)::int AS n FROM payment_attempts WHERE hold_id = ANY($1)', [jobs.map((j) => j.holdId)]);
      expect(stored.rows[0].n).toBe(0);
    } finally {
      await db.end();
      await proxy.close();
    }
  });
});
