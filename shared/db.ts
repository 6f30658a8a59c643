import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { runner } from 'node-pg-migrate';
import type { Logger } from './logger.js';

export type Db = pg.Pool;

export function createDb(url: string, max = 10): Db {
  const pool = new pg.Pool({ connectionString: url, max, connectionTimeoutMillis: 5000 });
  // An idle client losing its connection (Postgres restarted) must not crash the process.
  pool.on('error', () => {});
  return pool;
}

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
