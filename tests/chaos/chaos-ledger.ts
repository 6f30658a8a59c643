import { setTimeout as sleep } from 'node:timers/promises';
import type pg from 'pg';
import { expect } from 'vitest';
import type { BuyerResult } from '../../loadtest/crowd/stats.js';
import { uniqueId } from '../helpers/env.js';
import type { Stack } from '../helpers/stack.js';
import { settledNow } from '../e2e/kit.js';

// The ledger side of a chaos case: the closing check every case ends with, and orders written straight
// into the ledger (what Postgres holds after sales Redis no longer remembers).

/** What the closing check reads through: the stack (audit, stand-in) and its ledger. */
type StackAndLedger = { stack: Stack; db: pg.Pool };

export interface Ledger {
  stock: number;
  orders: number;
  charges: number;
  /** Charges beyond the first for one hold (must be 0). */
  doubleCharges: number;
  /** Orders beyond the stock (must be 0). */
  oversold: number;
  audit: { ok: boolean; problems: string[]; [k: string]: unknown };
}

/**
 * Waits (bounded) until the sale's payments have settled — nothing paying in Redis, no attempt
 * pending, every order captured, charges == orders — then reads the audit and the ledger. Returns
 * the figures whether or not they settled; `expectClosingCheck` judges them. `seeded`: orders
 * written straight into the ledger (no charge).
 */
export async function settledLedger(c: StackAndLedger, saleId: string, timeoutMs = 60_000, seeded = 0): Promise<Ledger> {
  const n = async (sql: string) => Number((await c.db.query(sql, [saleId])).rows[0].n);
  const end = Date.now() + timeoutMs;
  while (!(await settledNow(c.stack, c.db, saleId, seeded)) && Date.now() < end) await sleep(250);
  const audit = (await c.stack.admin('GET', `/v1/admin/sales/${saleId}/audit`)).body;
  const orders = await n('SELECT count(*) AS n FROM orders WHERE sale_id = $1');
  const stock = Number((await c.db.query('SELECT stock FROM sales WHERE id = $1', [saleId])).rows[0].stock);
  const ch = c.stack.standIn.charges().filter((x) => x.metadata.saleId === saleId);
  const holds = new Set(ch.map((x) => x.metadata.holdId));
  return { stock, orders, charges: ch.length, doubleCharges: ch.length - holds.size, oversold: Math.max(0, orders - stock), audit };
}

/**
 * The closing check of every case on the ledger `settledLedger` read: audit ok, charges == orders, no
 * hold charged twice, orders ≤ stock; with the crowd's results, every order told to its buyer.
 * `seeded` orders were written straight into the ledger (seedOrders): they have no charge.
 */
export async function expectClosingCheck(c: StackAndLedger, saleId: string, l: Ledger, results?: BuyerResult[], seeded = 0): Promise<void> {
  expect(l.audit, JSON.stringify(l.audit)).toMatchObject({ ok: true, problems: [] });
  expect(l.charges, 'captured charges at the stand-in == orders in Postgres').toBe(l.orders - seeded);
  expect(l.doubleCharges, 'every charge pays a hold of its own').toBe(0);
  expect(l.orders).toBeLessThanOrEqual(l.stock);
  if (results) {
    // Every order was told to its buyer, and every confirmation a buyer saw is an order in the ledger.
    const seen = new Set(results.flatMap((r) => r.orderIds));
    const stored = new Set((await c.db.query<{ id: string }>("SELECT id FROM orders WHERE sale_id = $1 AND buyer_id NOT LIKE 'seeded-%'", [saleId])).rows.map((r) => r.id));
    expect([...seen].filter((id) => !stored.has(id)), 'confirmations without an order').toEqual([]);
    expect(seen.size, 'orders whose buyer was told').toBe(stored.size);
  }
}

/**
 * Writes `n` paid orders of a sale straight into the ledger (attempt + order, captured), spread over
 * its pools as hold ids name them: what a ledger holds after sales Redis no longer remembers. The
 * stock fence's per-pool `sold` is moved with them when `fence` (a consistent ledger); without it the
 * orders bypass the fence (an inconsistent ledger, e.g. more orders than stock).
 */
export async function seedOrders(db: pg.Pool, saleId: string, pools: number, n: number, o: { fence: boolean; amount?: number }): Promise<void> {
  const tag = uniqueId('seed').replace('-', '');
  const args = [saleId, tag, pools, n, o.amount ?? 1999];
  // One transaction: a guard reading the ledger meanwhile sees all of them or none.
  const client = await db.connect();
  try {
    await client.query('BEGIN');
    await client.query(
      `INSERT INTO payment_attempts (id, hold_id, sale_id, buyer_id, attempt_no, idempotency_key, amount, currency, status, payment_intent_id)
       SELECT 'pay_' || $2 || '_' || i, 'hold_' || (i % $3) || '_' || $2 || '_' || i, $1, 'seeded-' || $2 || '-' || i, 1, 'idem_' || $2 || '_' || i, $5, 'eur', 'succeeded', 'pi_' || $2 || '_' || i
       FROM generate_series(0, $4 - 1) AS i`,
      args,
    );
    await client.query(
      `INSERT INTO orders (id, hold_id, sale_id, buyer_id, amount, currency, payment_intent_id, attempt_id, capture_status, captured_at)
       SELECT 'ord_' || $2 || '_' || i, 'hold_' || (i % $3) || '_' || $2 || '_' || i, $1, 'seeded-' || $2 || '-' || i, $5, 'eur', 'pi_' || $2 || '_' || i, 'pay_' || $2 || '_' || i, 'captured', now()
       FROM generate_series(0, $4 - 1) AS i`,
      args,
    );
    if (o.fence) {
      await client.query(
        'UPDATE sale_pools SET sold = sold + (SELECT count(*) FROM generate_series(0, $3 - 1) AS i WHERE i % $2 = pool) WHERE sale_id = $1',
        [saleId, pools, n],
      );
    }
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => {});
    throw err;
  } finally {
    client.release();
  }
}
