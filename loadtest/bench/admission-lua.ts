import { randomBytes } from 'node:crypto';
import { createRedis, runScript } from '../../shared/redis.js';
import { createDb } from '../../shared/db.js';
import { Inventory } from '../../inventory/inventory-service.js';
import { SaleService } from '../../admission/sale-service.js';
import { AdmissionScripts } from '../../admission/scripts.js';
import { saleKeys } from '../../admission/keys.js';
import { makeLine, type BenchLine } from './json-line.js';
import { benchPrefix, deletePrefix, ownDatabase, type BenchContext } from './infra.js';

/**
 * admission-lua: buyers per second through our waiting-room scripts (one join each, then the admit
 * ticks that pop them in batches) against raw EVALSHA of `return 1`, redis-benchmark style, on the
 * same Redis, client and pipelining. The ratio is what our scripts cost above the floor of a script
 * call at all.
 */
const IN_FLIGHT = 256;

async function inFlight(n: number, fn: (i: number) => Promise<unknown>): Promise<number> {
  let next = 0;
  const began = performance.now();
  await Promise.all(Array.from({ length: IN_FLIGHT }, async () => {
    while (next < n) await fn(next++);
  }));
  return performance.now() - began;
}

export async function admissionLuaBench(ctx: BenchContext): Promise<BenchLine[]> {
  const n = ctx.quick ? 10_000 : 50_000;
  const prefix = benchPrefix('admission');
  const db = await ownDatabase(ctx.databaseUrl, 'admission');
  const pool = createDb(db.url, 2);
  const redis = createRedis(ctx.redisUrl, { name: 'bench-admission' });
  try {
    const inventory = new Inventory(redis, prefix);
    const sales = new SaleService(pool, redis, prefix, inventory);
    const sale = await sales.create({
      id: `adm-${randomBytes(3).toString('hex')}`, name: 'bench', sku: 'B', price: { amount: 100, currency: 'eur' }, stock: n, pools: 4,
      admitPerSecond: 100_000, maxActiveHolds: 1_000_000, holdSeconds: 600, perBuyerLimit: 1,
    });
    const scripts = new AdmissionScripts(redis);
    const k = saleKeys(prefix, sale.id);
    // The sale has started: seal its (empty) pre-queue, as the admitter's first tick does.
    while ((await scripts.seal(k, 5000)) !== 1);
    redis.defineCommand('benchTrivial', { numberOfKeys: 0, lua: 'return 1' });
    await scripts.join(k, 'warm', 'status');
    await runScript(redis, 'benchTrivial', [], []);

    const joinMs = await inFlight(n, (i) => scripts.join(k, `buyer-${i}`, 'join'));
    let admitted = 0;
    const free = [n, n, n, n];
    const began = performance.now();
    while (admitted < n) {
      const reply = await scripts.admit(k, n - admitted, 1000, randomBytes(5).toString('hex'), free);
      const count = Number(reply[1]);
      admitted += count;
      // An empty bucket refills at admitPerSecond; wait for it rather than spin.
      if (count === 0) await new Promise((r) => setTimeout(r, 2));
    }
    const admitMs = performance.now() - began;
    const trivialMs = await inFlight(n, () => runScript(redis, 'benchTrivial', [], []));
    const ours = (n / (joinMs + admitMs)) * 1000;
    const floor = (n / trivialMs) * 1000;
    ctx.note(`admission-lua: ${n} joins in ${Math.round(joinMs)} ms, admitted in ${Math.round(admitMs)} ms; ${n} trivial EVALSHA in ${Math.round(trivialMs)} ms (${IN_FLIGHT} in flight)`);
    return [makeLine('admission-lua', ours, 'buyers/s (join + admit)', 'evalsha-return-1', floor)];
  } finally {
    await pool.end();
    redis.disconnect();
    await deletePrefix(ctx.redisUrl, prefix);
    await db.drop();
  }
}
