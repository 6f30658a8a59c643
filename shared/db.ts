import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { runner } from 'node-pg-migrate';
import type { Logger } from './logger.js';

export type Db = pg.Pool;

export function createDb(url: string, max = 10, options?: string): Db {
  const pool = new pg.Pool({ connectionString: url, max, connectionTimeoutMillis: 5000, ...(options ? { options } : {}) });
  // An idle client losing its connection (Postgres restarted) must not crash the process.
  pool.on('error', () => {});
  // Nor may a checked-out one (`db.connect()`: reconciliation, the outbox relay, restock): the pool
  // listens for errors only on idle clients, and pg emits 'error' on a client whose socket dies even
  // while its queries are running. Those queries are failed all the same (their callers see the
  // error), and the pool drops a client that is no longer queryable when it is released.
  pool.on('connect', (client) => client.on('error', () => {}));
  return pool;
}

/**
 * Planner settings for sessions that only ever reach rows by key or through a partial index (the
 * settlement workers': group-commit statements are "for each of these N ids, that row"; the
 * reconciliation and outbox worklists read their partial indexes): nested loops over indexes, never
 * a sequential scan or a hash of a whole table. A query with no index to use still runs (the planner
 * only weighs these plans as very expensive), so nothing breaks if one is added without an index.
 *
 * Why not the planner's own choice: those statements are prepared once per session, and Postgres
 * settles on a generic plan after the fifth run, costed with the table sizes of that moment. In the
 * first sale on a new database that moment is an empty ledger, so the plan it keeps scans whole
 * tables (`Seq Scan on payment_attempts`, `Seq Scan on orders`), and every later statement of the
 * sale pays for every row written before it, until autovacuum's next ANALYZE (a minute apart at
 * best) makes the planner look again. With these settings the plan is the index plan from the start.
 */
export const KEYED_STATEMENT_SETTINGS = '-c enable_seqscan=off -c enable_hashjoin=off -c enable_mergejoin=off';

/** Runs pending migrations under node-pg-migrate's advisory lock, so many processes may start at once. */
export async function migrate(url: string, log?: Logger): Promise<void> {
  // node-pg-migrate refuses (instead of waiting) while another process holds its lock: try again.
  for (let attempt = 1; ; attempt++) {
    try {
      await runOnce(url, log);
      return;
    } catch (err) {
      if (attempt >= 30 || !/already running/i.test(String(err))) throw err;
      await new Promise((r) => setTimeout(r, 100 + Math.random() * 200));
    }
  }
}

async function runOnce(url: string, log?: Logger): Promise<void> {
  await runner({
    databaseUrl: url,
    dir: join(dirname(fileURLToPath(import.meta.url)), 'migrations'),
    direction: 'up',
    migrationsTable: 'pgmigrations',
    singleTransaction: true,
    log: (msg: string) => log?.debug({ msg }, 'migration'),
  });
}
