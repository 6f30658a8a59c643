import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { createRedis } from '../../shared/redis.js';
import { Inventory } from '../../inventory/inventory-service.js';
import { makeLine, type BenchLine } from './json-line.js';
import { benchPrefix, deletePrefix, forDuration, type BenchContext } from './infra.js';

/**
 * reserve: units reserved per second by our Lua pool take against the Postgres conditional UPDATE on
 * one hot row, at the same concurrency (requests in flight) for the same time. One pool, so Lua gets
 * no help from spreading: one hot key against one hot row.
 */
const CONCURRENCY = 64;
/** Alternating rounds of each side. */
const ROUNDS = 4;

export async function reserveBench(ctx: BenchContext): Promise<BenchLine[]> {
  const ms = ctx.quick ? 1500 : 5000;
  const prefix = benchPrefix('reserve');
  const redis = createRedis(ctx.redisUrl, { name: 'bench-reserve' });
  const inventory = new Inventory(redis, prefix);
  const schema = `bench_reserve_${randomBytes(4).toString('hex')}`;
  const db = new pg.Pool({ connectionString: ctx.databaseUrl, max: CONCURRENCY, idleTimeoutMillis: 0 });
  db.on('error', () => {});
  try {
    const saleId = 'reserve';
    // More units than any run can take: the figure is the steady rate, not the sell-out.
    await inventory.initPools(saleId, 10_000_000, 1);
    await inventory.take(saleId, 0, inventory.holdId(0, 'warm'), 'warm', 600);
    await db.query(`CREATE SCHEMA ${schema}`);
    await db.query(`CREATE TABLE ${schema}.stock (id int PRIMARY KEY, quantity int NOT NULL)`);
    await db.query(`INSERT INTO ${schema}.stock VALUES (1, 1000000000)`);
    const warm = await Promise.all(Array.from({ length: CONCURRENCY }, () => db.connect()));
    warm.forEach((c) => c.release());
    // The two sides take turns in short rounds, so a burst of load from elsewhere on the machine
    // falls on both rather than on whichever happened to run during it.
    const lua = { ok: 0, spanMs: 0 };
    const sql = { ok: 0, spanMs: 0 };
    for (let round = 0; round < ROUNDS; round++) {
      const l = await forDuration(CONCURRENCY, ms / ROUNDS, async (loop, i) => {
        const taken = await inventory.take(saleId, 0, inventory.holdId(0, `r${round}l${loop}x${i}`), `buyer-${loop}-${i}`, 600);
        return taken !== null;
      });
      const q = await forDuration(CONCURRENCY, ms / ROUNDS, async () => {
        const r = await db.query(`UPDATE ${schema}.stock SET quantity = quantity - 1 WHERE id = 1 AND quantity > 0`);
        return r.rowCount === 1;
      });
      lua.ok += l.ok;
      lua.spanMs += l.spanMs;
      sql.ok += q.ok;
      sql.spanMs += q.spanMs;
    }
    const luaRate = (lua.ok / lua.spanMs) * 1000;
    const sqlRate = (sql.ok / sql.spanMs) * 1000;
    ctx.note(`reserve: lua ${lua.ok} takes in ${Math.round(lua.spanMs)} ms, postgres ${sql.ok} updates in ${Math.round(sql.spanMs)} ms, ${CONCURRENCY} in flight, ${ROUNDS} alternating rounds`);
    return [makeLine('reserve', luaRate, 'reservations/s', 'postgres-conditional-update', sqlRate)];
  } finally {
    await db.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`).catch(() => {});
    await db.end();
    redis.disconnect();
    await deletePrefix(ctx.redisUrl, prefix);
  }
}
