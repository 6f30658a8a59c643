import { afterAll, describe, expect, it } from 'vitest';
import { createDb, KEYED_STATEMENT_SETTINGS, type Db } from '../shared/db.js';
import { isolatedDatabase } from '../tests/helpers/env.js';
import { COMMIT_ORDERS, MARK_CAPTURED } from './payment-store.js';

// The plan Postgres caches for a group-commit statement: after five runs it settles on a generic plan,
// costed with the table sizes of that moment. At the start of the first sale on a new database that
// moment is a ledger of a few rows, and a default session caches a whole-table scan, which every
// later batch of the sale then runs over every order written before it. The workers' sessions
// (KEYED_STATEMENT_SETTINGS) must cache an index plan instead. The default session's plan is
// asserted too, so the test notices if the settings stop mattering (or stop being applied).
const url = await isolatedDatabase();
const pools: Db[] = [];
afterAll(async () => {
  await Promise.all(pools.map((p) => p.end()));
});

/** The cached plan of MARK_CAPTURED in a new session, after six batches on a ledger of 20 orders. */
async function cachedPlan(settings: string | undefined, label: string): Promise<{ plan: string; generic: number }> {
  const db = createDb(url, 1, settings);
  pools.push(db);
  const c = await db.connect();
  try {
    const sale = `plans-${label}`;
    await c.query(
      `INSERT INTO sales (id, name, sku, price_amount, currency, stock, pools, starts_at, ends_at, admit_per_second, max_active_holds, hold_seconds, per_buyer_limit, prequeue_key)
       VALUES ($1, 'plans', 'P', 100, 'eur', 20, 1, now(), now() + interval '1 hour', 100, 100, 60, 1, 'k')`,
      [sale],
    );
    await c.query(
      `INSERT INTO payment_attempts (id, hold_id, sale_id, buyer_id, attempt_no, idempotency_key, amount, currency, status)
       SELECT $1 || '_pay_' || i, $1 || '_hold_' || i, $1, 'b' || i, 1, $1 || '_k_' || i, 100, 'eur', 'succeeded' FROM generate_series(1, 20) i`,
      [sale],
    );
    await c.query(
      `INSERT INTO orders (id, hold_id, sale_id, buyer_id, amount, currency, payment_intent_id, attempt_id)
       SELECT $1 || '_ord_' || i, $1 || '_hold_' || i, $1, 'b' || i, 100, 'eur', $1 || '_pi_' || i, $1 || '_pay_' || i FROM generate_series(1, 20) i`,
      [sale],
    );
    // Prepared as the store prepares it (a named statement of the protocol), run with batches of ten.
    for (let i = 0; i < 6; i++) {
      await c.query({ name: 'fs-mark-captured', text: MARK_CAPTURED, values: [Array.from({ length: 10 }, (_, j) => `${sale}_ord_${((i * 10 + j) % 20) + 1}`)] });
    }
    const explained = await c.query<{ 'QUERY PLAN': string }>(`EXPLAIN EXECUTE "fs-mark-captured"('{a,b}')`);
    const stats = await c.query<{ generic_plans: string }>(`SELECT generic_plans FROM pg_prepared_statements WHERE name = 'fs-mark-captured'`);
    return { plan: explained.rows.map((r) => r['QUERY PLAN']).join('\n'), generic: Number(stats.rows[0]?.generic_plans) };
  } finally {
    c.release();
  }
}

describe('planner settings of the settlement workers\' sessions', () => {
  it('apply to every session of a pool made with them', async () => {
    const db = createDb(url, 2, KEYED_STATEMENT_SETTINGS);
    pools.push(db);
    const shown = await Promise.all([0, 1].map(async () => (await db.query<{ s: string; h: string }>(`SELECT current_setting('enable_seqscan') AS s, current_setting('enable_hashjoin') AS h`)).rows[0]));
    expect(shown).toEqual([{ s: 'off', h: 'off' }, { s: 'off', h: 'off' }]);
  });

  it('cache an index plan for a group-commit statement prepared on a young ledger, where a default session caches a whole-table scan', async () => {
    const plain = await cachedPlan(undefined, 'plain');
    expect(plain.generic).toBeGreaterThan(0);
    expect(plain.plan).toMatch(/Seq Scan on orders/);

    const keyed = await cachedPlan(KEYED_STATEMENT_SETTINGS, 'keyed');
    expect(keyed.generic).toBeGreaterThan(0);
    expect(keyed.plan).toMatch(/Index Scan on orders_pkey|Index Scan using orders_pkey/);
    expect(keyed.plan).not.toMatch(/Seq Scan/);
  });

  it('keep the order statement with its stock fence on keys: every table reached by its index, none scanned whole', async () => {
    const db = createDb(url, 1, KEYED_STATEMENT_SETTINGS);
    pools.push(db);
    const c = await db.connect();
    try {
      // The generic plan, as a session keeps it after its fifth run, costed on this young ledger.
      await c.query('SET plan_cache_mode = force_generic_plan');
      await c.query({ name: 'fs-commit-orders', text: COMMIT_ORDERS, values: [[], [], [], [], [], [], [], [], [], [], []] });
      const explained = await c.query<{ 'QUERY PLAN': string }>(`EXPLAIN EXECUTE "fs-commit-orders"('{a}','{b}','{c}','{d}','{e}','{f}','{1}','{g}','{"{}"}','{0}','{0}')`);
      const plan = explained.rows.map((r) => r['QUERY PLAN']).join('\n');
      expect(plan).not.toMatch(/Seq Scan|Hash Join|Merge Join/);
      // Every index is entered by a key, never walked whole (as a subquery hashed from every order would).
      const lines = plan.split('\n');
      const unkeyed = lines.filter((l, i) => /Index Scan/.test(l) && !/Index Cond/.test(lines[i + 1] ?? ''));
      expect(unkeyed).toEqual([]);
      expect(plan).toMatch(/Index Scan using payment_attempts_pkey|Bitmap Index Scan on payment_attempts_pkey/);
      expect(plan).toMatch(/Index Scan using orders_hold_id_key on orders/);
      expect(plan).toMatch(/Index Scan using sale_pools_pkey on sale_pools/);
      // The attempts are updated by key, not by walking every pending attempt.
      expect(plan).not.toMatch(/payment_attempts_open/);
    } finally {
      c.release();
    }
  });
});
