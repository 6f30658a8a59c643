import { randomBytes } from 'node:crypto';
import pg from 'pg';
import type { RedisClient } from '../../shared/redis.js';
import { Inventory } from '../../inventory/inventory-service.js';

/**
 * Four ways to reserve one unit for each of many concurrent buyers, on the real Postgres and Redis:
 * the story of why the stock lives in Lua pools. (a) and the others get the very same buyers, the
 * same concurrency and the same stock; only the reservation differs.
 */
export const STRATEGIES = ['select-then-update', 'select-for-update', 'conditional-update', 'lua-pool-take'] as const;
export type Strategy = (typeof STRATEGIES)[number];

export const LABELS: Record<Strategy, string> = {
  'select-then-update': '(a) SELECT then UPDATE',
  'select-for-update': '(b) SELECT ... FOR UPDATE',
  'conditional-update': '(c) UPDATE ... WHERE quantity > 0',
  'lua-pool-take': '(d) Lua pool take',
};

export interface RaceResult {
  strategy: Strategy;
  buyers: number;
  stock: number;
  /** Buyers told they got a unit. */
  sold: number;
  /** Units still on the shelf afterwards (from the database itself). */
  left: number;
  oversold: number;
  errors: number;
  elapsedMs: number;
  answersPerSecond: number;
  reservationsPerSecond: number;
}

export interface RaceSetup {
  pg: pg.Pool;
  redis: RedisClient;
  /** A schema of this run's own; dropped by cleanup(). */
  schema: string;
  prefix: string;
}

/** A schema and a Redis key prefix of this run's own, so runs never collide with tests or each other. */
export async function raceSetup(databaseUrl: string, redis: RedisClient, connections: number): Promise<RaceSetup & { cleanup(): Promise<void> }> {
  const id = randomBytes(4).toString('hex');
  const schema = `race_demo_${id}`;
  // Buyers queue for a connection as long as it takes: (b) holds one per whole transaction, and a
  // timeout would count slowness as refusals.
  const pool = new pg.Pool({ connectionString: databaseUrl, max: connections, idleTimeoutMillis: 0, connectionTimeoutMillis: 120_000 });
  pool.on('error', () => {});
  await pool.query(`CREATE SCHEMA ${schema}`);
  const prefix = `race-demo:${id}:`;
  return {
    pg: pool, redis, schema, prefix,
    cleanup: async () => {
      await pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).catch(() => {});
      await pool.end();
      await deleteKeys(redis, prefix);
    },
  };
}

export async function deleteKeys(redis: RedisClient, prefix: string): Promise<void> {
  if (!('scanStream' in redis)) return;
  const stream = redis.scanStream({ match: `${prefix}*`, count: 1000 });
  for await (const keys of stream as AsyncIterable<string[]>) if (keys.length > 0) await redis.unlink(...keys);
}

/**
 * Runs one strategy: `buyers` concurrent reservations against `stock` units. Every connection of the
 * pool is opened before the clock starts, so the first milliseconds measure reserving, not connecting.
 */
export async function race(s: RaceSetup, strategy: Strategy, buyers: number, stock: number, pools = 4): Promise<RaceResult> {
  const table = `${s.schema}.stock_${strategy.replace(/-/g, '_')}_${randomBytes(3).toString('hex')}`;
  const inventory = new Inventory(s.redis, s.prefix);
  const saleId = `race-${randomBytes(4).toString('hex')}`;
  if (strategy === 'lua-pool-take') await inventory.initPools(saleId, stock, pools);
  else {
    await s.pg.query(`CREATE TABLE ${table} (id int PRIMARY KEY, quantity int NOT NULL)`);
    await s.pg.query(`INSERT INTO ${table} (id, quantity) VALUES (1, $1)`, [stock]);
  }
  const warm = await Promise.all(Array.from({ length: s.pg.options.max ?? 10 }, () => s.pg.connect()));
  warm.forEach((c) => c.release());
  // Load the scripts before the clock starts (the first EVALSHA of a fresh Redis falls back to EVAL).
  const warmSale = `${saleId}-warm`;
  await inventory.initPools(warmSale, 1, 1);
  await inventory.take(warmSale, 0, inventory.holdId(0, 'warm'), 'warm', 1);

  const take = async (i: number): Promise<boolean> => {
    switch (strategy) {
      case 'select-then-update': {
        // The lost update: two buyers read the same quantity and both write quantity - 1.
        const r = await s.pg.query<{ quantity: number }>(`SELECT quantity FROM ${table} WHERE id = 1`);
        const q = r.rows[0]!.quantity;
        if (q <= 0) return false;
        await s.pg.query(`UPDATE ${table} SET quantity = $1 WHERE id = 1`, [q - 1]);
        return true;
      }
      case 'select-for-update': {
        // Correct, but every buyer queues on the row lock for a whole transaction (three round trips).
        const c = await s.pg.connect();
        let broken = false;
        try {
          await c.query('BEGIN');
          const r = await c.query<{ quantity: number }>(`SELECT quantity FROM ${table} WHERE id = 1 FOR UPDATE`);
          const q = r.rows[0]!.quantity;
          if (q > 0) await c.query(`UPDATE ${table} SET quantity = quantity - 1 WHERE id = 1`);
          await c.query('COMMIT');
          return q > 0;
        } catch (err) {
          broken = await c.query('ROLLBACK').then(() => false, () => true);
          throw err;
        } finally {
          // A client that cannot roll back lost its connection: the pool must discard it.
          c.release(broken);
        }
      }
      case 'conditional-update': {
        // Correct in one statement: the row lock decides, the affected-row count tells the buyer.
        const r = await s.pg.query(`UPDATE ${table} SET quantity = quantity - 1 WHERE id = 1 AND quantity > 0`);
        return r.rowCount === 1;
      }
      case 'lua-pool-take': {
        // One Lua script per pool: check and take are one atomic step in Redis, pools spread the hot key.
        for (let k = 0; k < pools; k++) {
          const pool = (i + k) % pools;
          if (await inventory.take(saleId, pool, inventory.holdId(pool, `b${i}`), `buyer-${i}`, 600)) return true;
        }
        return false;
      }
    }
  };

  const began = performance.now();
  const settled = await Promise.allSettled(Array.from({ length: buyers }, (_, i) => take(i)));
  const elapsedMs = performance.now() - began;
  const sold = settled.filter((r) => r.status === 'fulfilled' && r.value).length;
  const errors = settled.filter((r) => r.status === 'rejected').length;
  let left: number;
  if (strategy === 'lua-pool-take') left = (await inventory.poolStats(saleId, pools)).reduce((a, p) => a + p.available, 0);
  else left = (await s.pg.query<{ quantity: number }>(`SELECT quantity FROM ${table} WHERE id = 1`)).rows[0]!.quantity;
  const secs = elapsedMs / 1000;
  return {
    strategy, buyers, stock, sold, left, oversold: Math.max(0, sold - stock), errors, elapsedMs: Math.round(elapsedMs),
    answersPerSecond: Math.round((buyers - errors) / secs), reservationsPerSecond: Math.round(sold / secs),
  };
}

export function renderRaceTable(rows: RaceResult[]): string {
  const head = ['strategy', 'buyers', 'stock', 'sold', 'left', 'oversold', 'errors', 'ms', 'answers/s', 'reservations/s'];
  const body = rows.map((r) => [LABELS[r.strategy], r.buyers, r.stock, r.sold, r.left, r.oversold, r.errors, r.elapsedMs, r.answersPerSecond, r.reservationsPerSecond].map(String));
  const w = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const fmt = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join('  ');
  return [fmt(head), w.map((x) => '-'.repeat(x)).join('  '), ...body.map(fmt)].join('\n');
}
