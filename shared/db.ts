import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { runner } from 'node-pg-migrate';
import { createLogger, type Logger } from './logger.js';
import { rateLimitedWarn } from './connection-errors.js';

export type Db = pg.Pool;

/**
 * A pool whose clients can lose their connection at any moment (Postgres restarted, failed over, or
 * `pg_terminate_backend`) without taking the process with them.
 *
 * pg-pool listens for a client's 'error' only while the client sits idle in the pool; a client taken
 * with `pool.connect()` has no listener between its queries, and a `pg.Client` emitting 'error' with
 * no listener throws it as an uncaught exception (`terminating connection due to administrator
 * command`): the whole process died of one lost connection. So every client the pool creates gets a
 * listener of its own for its whole life. The error needs no other handling: the query in flight (if
 * any) rejects on its own, and the pool discards a client that is no longer queryable when it is
 * released (callers also release it with `release(err)`).
 */
export function createDb(url: string, max = 10, options?: string, log: Logger = defaultLog()): Db {
  const pool = new pg.Pool({ connectionString: url, max, connectionTimeoutMillis: 5000, ...(options ? { options } : {}) });
  // One rate limit for the pool: a Postgres restart breaks every client of it at once.
  const warn = rateLimitedWarn(log, 'postgres connection lost; the client is discarded and the pool reconnects');
  pool.on('connect', (client) => client.on('error', warn));
  // The pool's own listener covers idle clients; the one above is on them too, so this one stays quiet.
  pool.on('error', () => {});
  return pool;
}

let dbLog: Logger | undefined;
const defaultLog = (): Logger => (dbLog ??= createLogger('db'));

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
