/**
 * A child process of the race tests: many concurrent takers in one OS process. The parent sends
 * `prepare` (connect and warm every connection), waits for `ready` from every child, then sends `go`
 * to all of them at once, so the takers of different processes really overlap.
 *
 * Env: REDIS_URL, REDIS_PREFIX (the Lua pool path), DATABASE_URL (the naive Postgres path).
 */
import pg from 'pg';
import { createRedis, type RedisClient } from '../../shared/redis.js';
import { Inventory } from '../../inventory/inventory-service.js';

export type TakeJob =
  /** Inventory.take on the sale's pools; taker i starts at pool i % pools and falls back to the next. */
  | { kind: 'pool-take'; saleId: string; pools: number; takers: number; tag: string; holdSeconds: number }
  /** SELECT quantity, then UPDATE quantity = read - 1: the lost-update reservation. */
  | { kind: 'naive-select-update'; table: string; takers: number; tag: string }
  /** UPDATE ... SET quantity = quantity - 1 WHERE quantity > 0: the row lock decides. */
  | { kind: 'conditional-update'; table: string; takers: number; tag: string };

export type ToWorker = { cmd: 'prepare'; job: TakeJob } | { cmd: 'go' } | { cmd: 'exit' };
export type FromWorker =
  | { type: 'up' }
  | { type: 'ready' }
  | { type: 'done'; wins: string[]; losses: number; errors: string[]; elapsedMs: number; startedAt: number; finishedAt: number }
  | { type: 'failed'; error: string };

/** Separate connections, so takers of one process also interleave in Redis, not only in one pipeline. */
const REDIS_CONNECTIONS = 4;
const PG_CONNECTIONS = 20;

let redisClients: RedisClient[] = [];
let inventories: Inventory[] = [];
let db: pg.Pool | undefined;
let job: TakeJob | undefined;

const send = (m: FromWorker) => process.send?.(m);

function env(name: string): string {
  const v = process.env[name];
  if (v === undefined) throw new Error(`take-worker needs ${name}`);
  return v;
}

async function prepare(j: TakeJob): Promise<void> {
  if (j.kind === 'pool-take') {
    if (inventories.length === 0) {
      redisClients = Array.from({ length: REDIS_CONNECTIONS }, (_, i) => createRedis(env('REDIS_URL'), { name: `race-taker-${i}` }));
      inventories = redisClients.map((r) => new Inventory(r, env('REDIS_PREFIX')));
    }
    await Promise.all(redisClients.map((r) => r.ping()));
  } else {
    if (!/^naive_stock_[a-z0-9_]+$/.test(j.table)) throw new Error(`unexpected table name ${j.table}`);
    db ??= new pg.Pool({ connectionString: env('DATABASE_URL'), max: PG_CONNECTIONS, idleTimeoutMillis: 0 });
    // Open every connection now, so `go` does not spend its first milliseconds connecting.
    const clients = await Promise.all(Array.from({ length: PG_CONNECTIONS }, () => db!.connect()));
    for (const c of clients) c.release();
  }
  job = j;
}

async function takeOne(j: TakeJob, i: number): Promise<string | null> {
  const id = `${j.tag}_${i}`;
  switch (j.kind) {
    case 'pool-take': {
      const inv = inventories[i % inventories.length]!;
      for (let k = 0; k < j.pools; k++) {
        const pool = (i + k) % j.pools;
        const holdId = inv.holdId(pool, id);
        const got = await inv.take(j.saleId, pool, holdId, `buyer-${id.replace(/_/g, '-')}`, j.holdSeconds);
        if (!got) continue;
        if (!got.created) throw new Error(`take of fresh hold ${holdId} said it already existed`);
        return holdId;
      }
      return null;
    }
    case 'naive-select-update': {
      const r = await db!.query<{ quantity: number }>(`SELECT quantity FROM ${j.table} WHERE id = 1`);
      const q = r.rows[0]!.quantity;
      if (q <= 0) return null;
      await db!.query(`UPDATE ${j.table} SET quantity = $1 WHERE id = 1`, [q - 1]);
      return id;
    }
    case 'conditional-update': {
      const r = await db!.query(`UPDATE ${j.table} SET quantity = quantity - 1 WHERE id = 1 AND quantity > 0`);
      return r.rowCount === 1 ? id : null;
    }
  }
}

async function go(): Promise<void> {
  const j = job;
  if (!j) throw new Error('go before prepare');
  job = undefined;
  const startedAt = Date.now();
  const began = performance.now();
  const results = await Promise.allSettled(Array.from({ length: j.takers }, (_, i) => takeOne(j, i)));
  const wins: string[] = [];
  const errors: string[] = [];
  let losses = 0;
  for (const r of results) {
    if (r.status === 'rejected') errors.push(String((r.reason as Error)?.message ?? r.reason));
    else if (r.value === null) losses++;
    else wins.push(r.value);
  }
  send({ type: 'done', wins, losses, errors: errors.slice(0, 20), elapsedMs: Math.round(performance.now() - began), startedAt, finishedAt: Date.now() });
}

async function shutdown(): Promise<void> {
  for (const r of redisClients) r.disconnect();
  await db?.end().catch(() => {});
  process.exit(0);
}

process.on('message', (m: ToWorker) => {
  const run = m.cmd === 'prepare' ? prepare(m.job).then(() => send({ type: 'ready' })) : m.cmd === 'go' ? go() : shutdown();
  run.catch((err: Error) => send({ type: 'failed', error: err.stack ?? String(err) }));
});
// The parent went away (a crashed test run): do not linger.
process.on('disconnect', () => void shutdown());
// IPC messages that arrive before a listener exists are lost: say when ours is in place.
send({ type: 'up' });
