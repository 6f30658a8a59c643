import { randomBytes } from 'node:crypto';
import { createRedis, runScript } from '../../shared/redis.js';
import { createDb } from '../../shared/db.js';
import { Inventory } from '../../inventory/inventory-service.js';
import { SaleService } from '../../admission/sale-service.js';
import { AdmissionScripts } from '../../admission/scripts.js';
import { saleKeys, type SaleKeys } from '../../admission/keys.js';
import { WaitingRoom } from '../../admission/waiting-room.js';
import { makeLine, type BenchLine } from './json-line.js';
import { benchPrefix, deletePrefix, ownDatabase, type BenchContext } from './infra.js';

/**
 * admission-lua: buyers per second through the waiting room as the gateway calls it — `WaitingRoom.join`
 * per buyer, 256 calls in flight, which coalesces the calls of one event-loop turn into batched join-4
 * calls — then the admit ticks that pop them, against raw EVALSHA of `return 1`, redis-benchmark style,
 * on the same Redis, client and pipelining. The ratio is what our scripts cost above the floor of a
 * script call at all. The note also gives one unbatched join-4 call per buyer (the script alone).
 */
export const IN_FLIGHT = 256;

export async function inFlight(n: number, fn: (i: number) => Promise<unknown>): Promise<number> {
  let next = 0;
  const began = performance.now();
  await Promise.all(Array.from({ length: IN_FLIGHT }, async () => {
    while (next < n) await fn(next++);
  }));
  return performance.now() - began;
}

/** A sale of `n` units that has started: its (empty) pre-queue sealed, as the admitter's first tick does. */
export async function startedSale(sales: SaleService, scripts: AdmissionScripts, prefix: string, n: number): Promise<{ id: string; k: SaleKeys }> {
  const { id } = await sales.create({
    id: `adm-${randomBytes(3).toString('hex')}`, name: 'bench', sku: 'B', price: { amount: 100, currency: 'eur' }, stock: n, pools: 4,
    admitPerSecond: 100_000, maxActiveHolds: 1_000_000, holdSeconds: 600, perBuyerLimit: 1,
  });
  const k = saleKeys(prefix, id);
  while ((await scripts.seal(k, 5000)) !== 1);
  return { id, k };
}

/** The bench's holding of a sale's admitter lease (admit-8 admits only for the lease's holder). */
export async function benchLease(scripts: AdmissionScripts, k: SaleKeys): Promise<string> {
  const lease = await scripts.lease(k, 'bench:0:admission', 3600_000);
  if (!lease) throw new Error('admission bench: the sale\'s admitter lease is taken');
  return lease.value;
}

/**
 * Admit ticks until `n` waiters are admitted; an empty bucket refills at admitPerSecond, so wait for it
 * rather than spin. The bench never finishes its admissions, and admit-8 counts unfinished ones against
 * the room it is given, so the room stays `n`.
 */
export async function admitAll(scripts: AdmissionScripts, k: SaleKeys, n: number): Promise<{ ms: number; waits: number }> {
  const free = [n, n, n, n];
  const lease = await benchLease(scripts, k);
  let admitted = 0;
  let waits = 0;
  const began = performance.now();
  while (admitted < n) {
    const reply = await scripts.admit(k, lease, n, 1000, randomBytes(5).toString('hex'), free);
    if (typeof reply === 'number') throw new Error(`admission bench: admit-8 answered ${reply}`);
    const count = Number(reply[1]);
    admitted += count;
    if (count === 0) {
      waits++;
      await new Promise((r) => setTimeout(r, 2));
    }
  }
  return { ms: performance.now() - began, waits };
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
    const room = new WaitingRoom(redis, prefix, inventory);
    const scripts = new AdmissionScripts(redis);
    const { id: saleId, k } = await startedSale(sales, scripts, prefix, n);
    // A second sale for the unbatched figure, so both start from an empty waiting room.
    const { k: ks } = await startedSale(sales, scripts, prefix, n);
    // The admitter ticks all along while buyers join, so its token bucket is running when admission
    // starts: one tick that admits nobody (maxNew 0) starts the bucket's clock, as the first tick does.
    await scripts.admit(k, await benchLease(scripts, k), 0, 1000, randomBytes(5).toString('hex'), [n, n, n, n]);
    redis.defineCommand('benchTrivial', { numberOfKeys: 0, lua: 'return 1' });
    // Warm-up, the same for every side: each path measured below runs a round first on a sale of its
    // own, so no side is timed while the JIT still compiles it (the trivial calls used to run last, on
    // a client the join rounds had already warmed).
    const warmN = Math.round(n / 5);
    const warm = await startedSale(sales, scripts, prefix, 2 * warmN);
    await inFlight(warmN, (i) => room.join(warm.id, `warm-${i}`));
    await inFlight(warmN, (i) => scripts.join(warm.k, `single-${i}`, 'join'));
    await admitAll(scripts, warm.k, 2 * warmN);
    await inFlight(warmN, () => runScript(redis, 'benchTrivial', [], []));

    const joinMs = await inFlight(n, (i) => room.join(saleId, `buyer-${i}`));
    const { ms: admitMs, waits } = await admitAll(scripts, k, n);
    // After the admission, so the bucket's clock ran during the batched joins only.
    const singleMs = await inFlight(n, (i) => scripts.join(ks, `buyer-${i}`, 'join'));
    const trivialMs = await inFlight(n, () => runScript(redis, 'benchTrivial', [], []));
    const ours = (n / (joinMs + admitMs)) * 1000;
    const floor = (n / trivialMs) * 1000;
    const perCall = (n / (singleMs + admitMs)) * 1000;
    ctx.note(`admission-lua: ${n} WaitingRoom.join (batched) in ${Math.round(joinMs)} ms, admitted in ${Math.round(admitMs)} ms (${waits} waits for the token bucket); ${n} trivial EVALSHA in ${Math.round(trivialMs)} ms (${IN_FLIGHT} in flight)`);
    ctx.note(`admission-lua: unbatched, one join-4 call per buyer: ${n} joins in ${Math.round(singleMs)} ms, ${Math.round(perCall)} buyers/s with the same admit time, ratio ${(perCall / floor).toFixed(3)}`);
    return [makeLine('admission-lua', ours, 'buyers/s (join + admit)', 'evalsha-return-1', floor)];
  } finally {
    await pool.end();
    redis.disconnect();
    await deletePrefix(ctx.redisUrl, prefix);
    await db.drop();
  }
}
