import { randomBytes } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { inject } from 'vitest';
import pg from 'pg';
import { runner } from 'node-pg-migrate';
import { createDb, migrate, type Db } from './db.js';
import { splitUnits } from '../inventory/pool-split.js';
import { SaleOversoldError, SaleStore } from '../admission/sale-store.js';
import { PaymentStore } from '../settlement/payment-store.js';
import { fenceProblems } from '../settlement/ledger.js';

// Migration 003 (the ledger's stock fence) on a database made before it, holding what such a database
// may hold: restocks, and a sale that was already oversold (Redis restored from an older snapshot).
const name = `fs_fence_mig_${randomBytes(5).toString('hex')}`;
const base = inject('baseDatabaseUrl');
const u = new URL(base);
u.pathname = `/${name}`;
const url = u.toString();
let db: Db | undefined;
afterAll(async () => {
  await db?.end();
  const c = new pg.Client({ connectionString: base });
  await c.connect();
  await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await c.end();
});

const migrations = (direction: 'up' | 'down', count: number) => runner({
  databaseUrl: url, dir: join(dirname(fileURLToPath(import.meta.url)), 'migrations'), direction, count,
  migrationsTable: 'pgmigrations', singleTransaction: true, log: () => {},
});

/** A sale as the code before the fence wrote it: `initial` units, then `restocks`, and orders per pool. */
async function legacySale(c: Db, id: string, pools: number, initial: number, restocks: number[], orders: Record<string, number>): Promise<void> {
  await c.query(
    `INSERT INTO sales (id, name, sku, price_amount, currency, stock, pools, starts_at, ends_at, admit_per_second, max_active_holds, hold_seconds, per_buyer_limit, prequeue_key)
     VALUES ($1, 'legacy', 'L', 100, 'eur', $2, $3, now(), now() + interval '1 hour', 100, 100, 60, 5, 'k')`,
    [id, initial + restocks.reduce((a, b) => a + b, 0), pools],
  );
  for (const q of restocks) await c.query('INSERT INTO restocks (sale_id, quantity) VALUES ($1, $2)', [id, q]);
  for (const [pool, n] of Object.entries(orders)) {
    // `pool` is the hold id's pool part: a number, or anything for a hold id that names none.
    await c.query(
      `INSERT INTO payment_attempts (id, hold_id, sale_id, buyer_id, attempt_no, idempotency_key, amount, currency, status, payment_intent_id)
       SELECT 'pay_' || h, h, $1, 'b' || i, 1, 'fs-' || h || '-a1', 100, 'eur', 'succeeded', 'pi_' || h
       FROM generate_series(1, $3::int) i, LATERAL (SELECT 'hold_' || $2 || '_' || replace($1, '-', '_') || '_' || i AS h) x`,
      [id, pool, n],
    );
    await c.query(
      `INSERT INTO orders (id, hold_id, sale_id, buyer_id, amount, currency, payment_intent_id, attempt_id)
       SELECT 'ord_' || a.id, a.hold_id, a.sale_id, a.buyer_id, 100, 'eur', a.payment_intent_id, a.id FROM payment_attempts a
       WHERE a.sale_id = $1 AND a.hold_id LIKE 'hold_' || $2 || '_%'`,
      [id, pool],
    );
  }
}

const fenceOf = async (id: string) => (await db!.query<{ pool: number; stock: number; sold: number }>('SELECT pool, stock, sold FROM sale_pools WHERE sale_id = $1 ORDER BY pool', [id])).rows;
const jobIn = (saleId: string, pool: number) => ({
  saleId, holdId: `hold_${pool}_n${randomBytes(4).toString('hex')}`, buyer: `b-${randomBytes(3).toString('hex')}`, attemptNo: 1,
  paymentMethod: 'pm_card_visa', amount: 100, currency: 'eur', perBuyerLimit: 5,
});

describe('migration 003: the stock fence on a database that already has sales', () => {
  it('backfills each pool (the Redis split, restocks included, sold = its orders), even for an oversold sale, and accepts no new order there', async () => {
    const admin = new pg.Client({ connectionString: base });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name}`);
    await admin.end();
    await migrations('up', 2);
    db = createDb(url, 4);
    // 4 units over 2 pools ([2, 1] then a restock [1, 0]) and 8 orders (5 + 3), plus one order whose
    // hold id names no pool.
    await legacySale(db, 'oversold', 2, 3, [1], { 0: 5, 1: 3, x: 1 });
    // 10 units over 3 pools ([1, 1, 1], restocks [1, 1, 0] and [2, 2, 1]), 3 orders.
    await legacySale(db, 'healthy', 3, 3, [2, 5], { 0: 2, 2: 1 });

    await migrate(url);

    const split = (steps: number[], pools: number) => steps.reduce((acc, s) => splitUnits(s, pools).map((u, i) => acc[i]! + u), new Array<number>(pools).fill(0));
    expect(split([3, 1], 2)).toEqual([3, 1]);
    expect(await fenceOf('oversold')).toEqual([{ pool: 0, stock: 3, sold: 5 }, { pool: 1, stock: 1, sold: 3 }]);
    expect(await fenceOf('healthy')).toEqual(split([3, 2, 5], 3).map((stock, pool) => ({ pool, stock, sold: [2, 0, 1][pool] })));
    const check = await db.query(`SELECT convalidated FROM pg_constraint WHERE conname = 'sale_pools_sold_within_stock'`);
    expect(check.rows).toEqual([{ convalidated: false }]);

    // The audit names what is wrong with the oversold sale, and nothing with the other.
    const orders = async (id: string) => (await db!.query<{ hold_id: string }>('SELECT hold_id FROM orders WHERE sale_id = $1', [id])).rows;
    expect(fenceProblems({ stock: 4 }, await orders('oversold'), await fenceOf('oversold'))).toEqual([
      'pool 0: ledger sold 5 > its stock 3 (oversold)', 'pool 1: ledger sold 3 > its stock 1 (oversold)', '1 orders in no pool (hold id names none)',
    ]);
    expect(fenceProblems({ stock: 10 }, await orders('healthy'), await fenceOf('healthy'))).toEqual([]);

    // No new order in the oversold sale, and no error either: its pools simply grant nothing.
    const store = new PaymentStore(db);
    const commit = async (saleId: string, pool: number) => {
      const { row } = await store.ensureAttempt(jobIn(saleId, pool));
      return (await store.commitOrder(row, `pi_${row.hold_id}`)).kind;
    };
    expect(await Promise.all([commit('oversold', 0), commit('oversold', 1)])).toEqual(['sold_out', 'sold_out']);
    expect(await fenceOf('oversold')).toEqual([{ pool: 0, stock: 3, sold: 5 }, { pool: 1, stock: 1, sold: 3 }]);
    // The healthy sale sells what its pools have left.
    expect(await commit('healthy', 2)).toBe('ordered');
    expect(await commit('healthy', 2)).toBe('sold_out');

    // A restock too small to cover an oversold pool is refused whole; one that covers it lets sales resume.
    const sales = new SaleStore(db);
    await expect(sales.restock('oversold', 2)).rejects.toBeInstanceOf(SaleOversoldError);
    expect((await sales.get('oversold'))?.stock).toBe(4);
    expect(await fenceOf('oversold')).toEqual([{ pool: 0, stock: 3, sold: 5 }, { pool: 1, stock: 1, sold: 3 }]);
    expect((await sales.restock('oversold', 6))?.stock).toBe(10);
    expect(await fenceOf('oversold')).toEqual([{ pool: 0, stock: 6, sold: 5 }, { pool: 1, stock: 4, sold: 3 }]);
    expect(await Promise.all([commit('oversold', 0), commit('oversold', 0)])).toEqual(['ordered', 'sold_out']);
    expect(await commit('oversold', 1)).toBe('ordered');

    // And it goes down again (with every migration written after it).
    await migrations('down', readdirSync(join(dirname(fileURLToPath(import.meta.url)), 'migrations')).filter((f) => f.endsWith('.sql')).length - 2);
    expect((await db.query(`SELECT to_regclass('sale_pools') AS t`)).rows).toEqual([{ t: null }]);
  });
});
