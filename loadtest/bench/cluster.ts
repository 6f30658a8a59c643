import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Cluster } from 'ioredis';
import { createRedis, type RedisClient } from '../../shared/redis.js';
import { createDb } from '../../shared/db.js';
import { Inventory } from '../../inventory/inventory-service.js';
import { SaleService } from '../../admission/sale-service.js';
import { AdmissionScripts } from '../../admission/scripts.js';
import { WaitingRoom } from '../../admission/waiting-room.js';
import { Admitter } from '../../admission/admitter.js';
import { createLogger } from '../../shared/logger.js';
import { makeLine, type BenchLine } from './json-line.js';
import { benchPrefix, deletePrefix, forDuration, ownDatabase, type BenchContext } from './infra.js';
import { admitAll, benchLease, inFlight, startedSale } from './admission-lua.js';
import { startCpuMeter } from './cpu-meter.js';
import { PrivateCluster } from './private-cluster.js';
import { PrivateRedis } from './private-redis.js';
import { bestSplit, describeSpread, isEvenSpread, masterOfSlot, poolsPerMaster, takeCeiling, type SlotRanges, type TakeCost } from './cluster-spread.js';

/**
 * cluster: the `reserve` and `admission-lua` workloads on a Redis Cluster beside a single Redis, in the
 * same run, taking turns. A private Cluster of 3 masters (no replicas: the single Redis has none either)
 * and a private single redis-server with the same flags, so neither side serves anybody else; with
 * REDIS_CLUSTER_URL the Cluster given and REDIS_URL instead.
 *
 * Three figures: reserve on one pool (one hot key: one master does all the work, so the Cluster can
 * only cost), reserve spread over a sale's pools placed evenly on every master (what a Cluster is for:
 * one hot sale uses every shard), and the waiting room (one sale is one hash slot, so one master). The
 * note gives the CPU per take of the client and of each Redis process, and what those costs allow on N
 * cores: on this machine's 2 cores the client and the Redis processes share the same two cores.
 */
const CONCURRENCY = 64;
const ROUNDS = 4;
/** Two pools per master of the private Cluster. */
const SPREAD_POOLS = 6;

interface Side {
  label: 'cluster' | 'single';
  url: string;
  redis: RedisClient;
  inventory: Inventory;
  /** Redis server pids on this machine by role (`redis:<port>`); empty when they are elsewhere. */
  redisPids: Record<string, number[]>;
}

/** The pid of the redis-server behind a client, when it runs on this machine (INFO's process_id). */
async function localPid(client: { info(section: string): Promise<string> }): Promise<number | null> {
  const pid = Number(/process_id:(\d+)/.exec(await client.info('server'))?.[1]);
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'redis-server' ? pid : null;
  } catch {
    return null;
  }
}

async function side(label: Side['label'], url: string, prefix: string): Promise<Side> {
  const redis = createRedis(url, { name: `bench-cluster-${label}` });
  const redisPids: Record<string, number[]> = {};
  if (label === 'cluster') {
    const c = redis as Cluster;
    if (c.status !== 'ready') await new Promise((r) => c.once('ready', r));
    for (const node of c.nodes('master')) {
      const pid = await localPid(node);
      if (pid) redisPids[`redis:${node.options.port}`] = [pid];
    }
  } else {
    const pid = await localPid(redis);
    if (pid) redisPids[`redis:${new URL(url).port || 6379}`] = [pid];
  }
  return { label, url, redis, inventory: new Inventory(redis, prefix), redisPids };
}

/**
 * A sale id whose `pools` pools land evenly on the Cluster's masters. Pools are hashed to slots by
 * their hash tag, so a given id spreads as chance has it; the bench looks for an even one so that the
 * figure is the Cluster's, not one id's luck (with 16+ pools per sale chance alone is close to even).
 */
async function evenSale(c: Cluster, inventory: Inventory, pools: number): Promise<{ saleId: string; spread: Map<number, number[]> }> {
  const ranges = (await c.cluster('SLOTS')) as unknown as SlotRanges;
  const masters = [...new Set(ranges.map((r) => r[2][1]))].sort((a, b) => a - b);
  for (let attempt = 0; attempt < 200; attempt++) {
    const saleId = `spread-${randomBytes(3).toString('hex')}`;
    const slots = await Promise.all(Array.from({ length: pools }, (_, i) => c.cluster('KEYSLOT', inventory.keys(saleId, i).pool)));
    const spread = poolsPerMaster(slots.map((s) => masterOfSlot(ranges, s)), masters);
    if (isEvenSpread(spread)) return { saleId, spread };
  }
  throw new Error(`cluster bench: no sale id in 200 tries spreads ${pools} pools evenly over ${masters.length} masters`);
}

interface Tally {
  ok: number;
  spanMs: number;
  cpuMs: Record<string, number>;
}

/**
 * The roles of one side's CPU meter: this process (the Redis client) and that side's Redis servers by
 * pid. The meter also finds every other redis-server and postgres by name (other sessions' servers
 * on a shared machine): those are left out.
 */
function meterOf(s: Side): { stop(): Record<string, number> } {
  const roles = { client: [process.pid], ...s.redisPids };
  const meter = startCpuMeter(roles);
  return { stop: () => Object.fromEntries(Object.entries(meter.stop() ?? {}).filter(([role]) => role in roles)) };
}

/** Takes from `pools` pools of one sale, each in-flight loop on its own pool in turn, CPU metered. */
async function takeRound(s: Side, saleId: string, pools: number, ms: number, tag: string, into: Tally): Promise<void> {
  const meter = meterOf(s);
  const r = await forDuration(CONCURRENCY, ms, async (loop, i) => {
    const pool = (loop + i) % pools;
    return (await s.inventory.take(saleId, pool, s.inventory.holdId(pool, `${tag}l${loop}x${i}`), `b-${loop}-${i}`, 600)) !== null;
  });
  const cpu = meter.stop();
  into.ok += r.ok;
  into.spanMs += r.spanMs;
  for (const [role, v] of Object.entries(cpu)) into.cpuMs[role] = (into.cpuMs[role] ?? 0) + v;
}

const rate = (t: Tally) => (t.ok / t.spanMs) * 1000;

function costOf(t: Tally): TakeCost | null {
  const redis = Object.entries(t.cpuMs).filter(([role]) => role.startsWith('redis')).reduce((a, [, v]) => a + v, 0);
  if (!t.cpuMs.client || !redis) return null;
  return { clientUs: (t.cpuMs.client * 1000) / t.ok, redisUs: (redis * 1000) / t.ok };
}

/** "client 31 µs, redis:7001 7 µs (busy 41 %), …" per take, and each Redis process's busy share of the window. */
function cpuNote(t: Tally): string {
  if (Object.keys(t.cpuMs).length === 0) return 'CPU not measured (no /proc)';
  return Object.entries(t.cpuMs).sort().map(([role, v]) => `${role} ${((v * 1000) / t.ok).toFixed(1)} µs (busy ${Math.round((v / t.spanMs) * 100)} %)`).join(', ');
}

/** Reserve on both sides, alternating rounds so a burst of load elsewhere falls on both. */
async function reservePair(single: Side, cluster: Side, saleId: string, pools: number, ms: number): Promise<{ single: Tally; cluster: Tally }> {
  const out = { single: { ok: 0, spanMs: 0, cpuMs: {} }, cluster: { ok: 0, spanMs: 0, cpuMs: {} } };
  for (const s of [single, cluster]) {
    await s.inventory.initPools(saleId, 10_000_000 * pools, pools);
    for (let p = 0; p < pools; p++) await s.inventory.take(saleId, p, s.inventory.holdId(p, 'warm'), 'warm', 600);
  }
  for (let round = 0; round < ROUNDS; round++) {
    for (const s of round % 2 ? [cluster, single] : [single, cluster]) await takeRound(s, saleId, pools, ms / ROUNDS, `r${round}`, out[s.label]);
  }
  return out;
}

/** CPU µs per unit by role: "client 16.0 µs, redis:7001 21.0 µs". */
function perUnit(cpu: Record<string, number>, units: number): string {
  return Object.entries(cpu).sort().map(([role, v]) => `${role} ${((v * 1000) / units).toFixed(1)} µs`).join(', ');
}

/**
 * What one admission costs as the gateway's admitter does it (for the capacity model in
 * docs/performance.md): `m` buyers join a sale of 4 pools, then the real Admitter ticks until every one
 * holds a unit (per tick: the lease, admit-8, then per buyer a take in its pool's slot and admit-done-6,
 * and the tick message with every buyer's frame). CPU per join and per admission, client and Redis.
 */
async function admitterCost(s: Side, sales: SaleService, prefix: string, m: number): Promise<string> {
  const scripts = new AdmissionScripts(s.redis);
  const room = new WaitingRoom(s.redis, prefix, s.inventory);
  const { id } = await startedSale(sales, scripts, prefix, m);
  const joins = meterOf(s);
  await inFlight(m, (i) => room.join(id, `adm-${i}`));
  const joinCpu = joins.stop();
  const admitter = new Admitter(s.redis, prefix, s.inventory, { tickMs: 100, leaseMs: 60_000, batch: 1000, log: createLogger('bench', 'silent') });
  const ticks = meterOf(s);
  let n = 0;
  while ((await s.inventory.stats(id, 4)).held < m) {
    await admitter.tickSale(id);
    if (++n > 10 * (m / 1000 + 10)) throw new Error(`cluster bench: the admitter did not admit ${m} buyers in ${n} ticks`);
  }
  const tickCpu = ticks.stop();
  await admitter.stop();
  return `per join [${perUnit(joinCpu, m)}], per admission [${perUnit(tickCpu, m)}] (${n} ticks)`;
}

/** WaitingRoom.join of `n` buyers then admit-8 until all are admitted, as admission-lua measures it. */
async function admission(s: Side, sales: SaleService, prefix: string, n: number): Promise<{ perSecond: number; cpu: Record<string, number> }> {
  const scripts = new AdmissionScripts(s.redis);
  const room = new WaitingRoom(s.redis, prefix, s.inventory);
  const warmN = Math.round(n / 5);
  const warm = await startedSale(sales, scripts, prefix, warmN);
  await inFlight(warmN, (i) => room.join(warm.id, `warm-${i}`));
  await admitAll(scripts, warm.k, warmN);
  const { id, k } = await startedSale(sales, scripts, prefix, n);
  await scripts.admit(k, await benchLease(scripts, k), 0, 1000, randomBytes(5).toString('hex'), [n, n, n, n]);
  const meter = meterOf(s);
  const joinMs = await inFlight(n, (i) => room.join(id, `buyer-${i}`));
  const { ms: admitMs } = await admitAll(scripts, k, n);
  const cpu = meter.stop();
  return { perSecond: (n / (joinMs + admitMs)) * 1000, cpu };
}

export async function clusterBench(ctx: BenchContext): Promise<BenchLine[]> {
  const ms = ctx.quick ? 1500 : 5000;
  const n = ctx.quick ? 10_000 : 50_000;
  const prefix = benchPrefix('cluster');
  const own = ctx.redisClusterUrl ? null : { cluster: new PrivateCluster({ masters: 3 }), single: new PrivateRedis() };
  const sides: Side[] = [];
  const db = await ownDatabase(ctx.databaseUrl, 'cluster');
  const pool = createDb(db.url, 2);
  try {
    if (own) await Promise.all([own.cluster.start(), own.single.start()]);
    const single = await side('single', own ? own.single.url : ctx.redisUrl, prefix);
    sides.push(single);
    const cluster = await side('cluster', own ? own.cluster.url : ctx.redisClusterUrl!, prefix);
    sides.push(cluster);
    ctx.note(`cluster: ${own ? `a private Cluster of 3 masters (${own.cluster.ports.join(', ')}) beside a private redis-server (${own.single.port}), same flags` : `REDIS_CLUSTER_URL beside REDIS_URL`}`);

    const hot = await reservePair(single, cluster, `hot-${randomBytes(3).toString('hex')}`, 1, ms);
    const { saleId, spread } = await evenSale(cluster.redis as Cluster, cluster.inventory, SPREAD_POOLS);
    const wide = await reservePair(single, cluster, saleId, SPREAD_POOLS, ms);
    ctx.note(`cluster reserve, one pool: single ${Math.round(rate(hot.single))}/s [${cpuNote(hot.single)}]; cluster ${Math.round(rate(hot.cluster))}/s [${cpuNote(hot.cluster)}]`);
    ctx.note(`cluster reserve, ${SPREAD_POOLS} pools (${describeSpread(spread)}): single ${Math.round(rate(wide.single))}/s [${cpuNote(wide.single)}]; cluster ${Math.round(rate(wide.cluster))}/s [${cpuNote(wide.cluster)}]`);
    const [cs, cc] = [costOf(wide.single), costOf(wide.cluster)];
    if (cs && cc) {
      const at = (cores: number) => {
        const best = bestSplit(cc, cores);
        return `${cores} cores: single ${Math.round(takeCeiling(cs, 1, cores))}/s, cluster of ${spread.size} ${Math.round(takeCeiling(cc, spread.size, cores))}/s, of ${best.shards} ${Math.round(best.perSecond)}/s`;
      };
      ctx.note(`cluster reserve ceilings from these CPU costs (each Redis on a core of its own, clients on the rest): ${[2, 4, 8, 16, 32].map(at).join('; ')}`);
    }

    const sales = (s: Side) => new SaleService(pool, s.redis, prefix, s.inventory);
    const admSingle = await admission(single, sales(single), prefix, n);
    const admCluster = await admission(cluster, sales(cluster), prefix, n);
    ctx.note(`cluster admission, ${n} buyers of one sale (one slot, one master): single ${Math.round(admSingle.perSecond)}/s [${perUnit(admSingle.cpu, n)}]; cluster ${Math.round(admCluster.perSecond)}/s [${perUnit(admCluster.cpu, n)}]`);
    const m = n / 2;
    ctx.note(`cluster admitter, ${m} buyers joined then admitted by Admitter ticks (takes included): single ${await admitterCost(single, sales(single), prefix, m)}; cluster ${await admitterCost(cluster, sales(cluster), prefix, m)}`);

    return [
      makeLine('reserve-cluster', rate(hot.cluster), `reservations/s, one pool, Redis Cluster of ${spread.size} masters`, 'single-redis', rate(hot.single)),
      makeLine('reserve-cluster-spread', rate(wide.cluster), `reservations/s, ${SPREAD_POOLS} pools over ${spread.size} masters`, `single-redis-${SPREAD_POOLS}-pools`, rate(wide.single)),
      makeLine('admission-lua-cluster', admCluster.perSecond, 'buyers/s (join + admit), Redis Cluster', 'single-redis', admSingle.perSecond),
    ];
  } finally {
    for (const s of sides) s.redis.disconnect();
    await pool.end();
    await db.drop();
    if (own) await Promise.all([own.cluster.stop(), own.single.stop()]);
    else await Promise.all([deletePrefix(ctx.redisUrl, prefix), deletePrefix(ctx.redisClusterUrl!, prefix)]);
  }
}
