import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { createRedis, deleteKeys, isCluster, scanKeys, type RedisClient } from '../../shared/redis.js';
import { sourceAddresses } from '../crowd/options.js';
import { makeLine, type BenchLine } from './json-line.js';
import { adminCall, BENCH_BUYER_SECRET, benchPrefix, ownDatabase, stackEnv } from './infra.js';
import { collectGarbage, cpuMs, INSPECT_ARGV, rssBytes, startChild, type Child } from './child-processes.js';
import { BUCKET_MS, figures, mergeSparse, type HistogramFigures } from './ms-histogram.js';
import { PrivateCluster } from './private-cluster.js';
import type { FromHerd, ToHerd } from './waiter-herd.js';

/**
 * waiters: what a very large waiting room costs and whether it still works — 100,000 buyers waiting
 * at once on this box, where one process may open 20,000 files. The buyers are spread over several
 * gateway processes (each holds its share of the sockets) and as many load-generator processes
 * ("herds", each from several 127.0.0.x source addresses), on a Redis Cluster (a private one by
 * default), with the admitter in a process of its own that holds no socket (RUN_ADMITTER=0 on the
 * socket gateways). Two sales, one after the other, on the same processes:
 *
 *   few   — `few` waiters join a paused sale; it resumes at `rate` admissions/s for `window` s;
 *   many  — `waiters` buyers join a paused sale, the memory is read, it resumes the same way.
 *
 * Figures: gateway RSS (after a full GC) and V8 heap, and Redis used_memory (summed over the
 * masters), per waiter; the age of each waiting buyer's last position frame, sampled every second of
 * the window, and the interval between pushes (the gateway pushes a moved position at most once a
 * second, so ~1 s is the goal); admissions/s counted by the sale and admitted frames received by the
 * buyers. Each "many" figure is printed with the "few" one as its baseline.
 */
export interface WaitersOptions {
  waiters: number;
  few: number;
  gateways: number;
  herds: number;
  sources: number;
  rate: number;
  windowS: number;
  /** A Redis (Cluster) URL to use instead of a private Cluster of 3 masters. */
  redis?: string;
  databaseUrl: string;
  note(msg: string): void;
}

export interface PhaseFigures {
  waiters: number;
  joinSeconds: number;
  joinToQueuedMs: HistogramFigures;
  failed: number;
  memory: { gatewayRssPerWaiter: number; gatewayHeapPerWaiter: number; redisPerWaiter: number; gatewayRssMB: number[]; redisUsedMB: number };
  /** Ages of the last position frame of every waiting buyer, every sample of the window together. */
  positionAgeMs: HistogramFigures;
  /** Intervals between two position frames of one buyer during the window. */
  pushIntervalMs: HistogramFigures;
  positionFramesPerSecond: number;
  /** Admissions/s as the sale counts them, and admitted frames received by buyers per second. */
  admissionsPerSecond: number;
  admittedFramesPerSecond: number;
  errorFrames: number;
  /** The window's error frames by code. */
  errorCodes: Record<string, number>;
  /** Times a gateway lost its sale events subscription and resynced every buyer, during the whole phase. */
  resyncs: number;
  stillWaiting: number;
  /**
   * At the window's end, per load process (herd h talks to gateway h mod G): waiting buyers whose last
   * position frame is older than 5 s, and the p99 age — a gateway that stopped pushing shows here.
   */
  lastSampleByHerd: { stale: number; p99: number }[];
  /** Sockets closed by the other side (not by the bench), by close code, from joining to the window's end. */
  droppedSockets: Record<string, number>;
  /**
   * Where the time went during the window: cores used by all gateways together and by all load
   * processes together (CPU s per s), the worst gateway event-loop delay p99, and the machine's
   * 1-minute load average (2 cores here, shared: above 2, every process waits for a core).
   */
  window: { gatewayCores: number; herdCores: number; gatewayLoopLagP99Ms: number; admitterLoopLagP99Ms: number; loadAverage: number };
}

class Herd {
  readonly child: ChildProcess;
  private readonly inbox: FromHerd[] = [];
  private waiter: ((m: FromHerd) => void) | undefined;
  progress = { open: 0, queued: 0, failed: 0 };

  constructor(readonly index: number) {
    this.child = fork(fileURLToPath(new URL('./waiter-herd.ts', import.meta.url)), [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.child.on('message', (m: FromHerd) => {
      if (m.type === 'progress') return void (this.progress = m);
      if (this.waiter) {
        const w = this.waiter;
        this.waiter = undefined;
        w(m);
      } else this.inbox.push(m);
    });
    this.child.once('exit', (code, signal) => this.waiter?.({ type: 'failed', error: `herd ${index} exited (${code ?? signal})` }));
  }

  async ask<T extends FromHerd['type']>(m: ToHerd | null, type: T): Promise<Extract<FromHerd, { type: T }>> {
    if (m) this.child.send(m);
    const r = this.inbox.shift() ?? await new Promise<FromHerd>((res) => (this.waiter = res));
    if (r.type === 'failed') throw new Error(`herd ${this.index}: ${r.error}`);
    if (r.type !== type) throw new Error(`herd ${this.index}: expected ${type}, got ${r.type}`);
    return r as Extract<FromHerd, { type: T }>;
  }
}

/** used_memory summed over the masters (a Cluster) or of the one server. */
async function usedMemory(redis: RedisClient): Promise<number> {
  const nodes = isCluster(redis) ? redis.nodes('master') : [redis];
  const each = await Promise.all(nodes.map(async (n) => Number(/used_memory:(\d+)/.exec(await n.info('memory'))![1])));
  return each.reduce((a, x) => a + x, 0);
}

/** One of the gateway's default Node metrics (prom-client); the event-loop delay ones restart at each read. */
async function gatewayGauge(g: Child, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${g.port}/metrics`)).text();
  return Number(new RegExp(`^${name} ([0-9.e+-]+)`, 'm').exec(text)?.[1] ?? 0);
}
const gatewayHeapUsed = (g: Child) => gatewayGauge(g, 'nodejs_heap_size_used_bytes');

/** Every gateway's RSS after a full GC (as the memory bench reads it) and V8 heap used. */
async function gatewayMemory(gateways: Child[]): Promise<{ rss: number[]; heap: number[] }> {
  const rss: number[] = [];
  const heap: number[] = [];
  for (const g of gateways) {
    await collectGarbage(g);
    await new Promise((r) => setTimeout(r, 500));
    rss.push(await rssBytes(g.pid));
    heap.push(await gatewayHeapUsed(g));
  }
  return { rss, heap };
}

const sum = (xs: number[]) => xs.reduce((a, x) => a + x, 0);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function waitersBench(o: WaitersOptions): Promise<{ lines: BenchLine[]; few: PhaseFigures; many: PhaseFigures }> {
  const stops: (() => Promise<unknown>)[] = [];
  try {
    let redisUrl = o.redis;
    if (!redisUrl) {
      const cluster = await new PrivateCluster({ masters: 3 }).start();
      stops.push(() => cluster.stop());
      redisUrl = cluster.url;
      o.note(`waiters: private Redis Cluster of 3 masters on ${cluster.ports.join(', ')}`);
    }
    const prefix = benchPrefix('waiters');
    const redis = createRedis(redisUrl, { name: 'bench-waiters' });
    stops.push(async () => {
      if (o.redis) await deleteKeys(redis, await scanKeys(redis, `${prefix}*`));
      redis.disconnect();
    });
    const db = await ownDatabase(o.databaseUrl, 'waiters');
    stops.push(() => db.drop());
    const env = stackEnv({ redisUrl, databaseUrl: db.url, prefix, standInUrl: 'http://127.0.0.1:9', extra: { TICK_MS: '100' } });
    const gateways: Child[] = [];
    stops.push(() => Promise.all(gateways.map((g) => g.stop())));
    // The socket gateways run no admitter; one process of its own admits, holding no socket (as the
    // capacity model deploys it, docs/performance.md): its ticks do not wait behind 17,000 sockets' pushes.
    for (let g = 0; g < o.gateways; g++) gateways.push(await startChild('../../gateway/main.ts', { ...env, RUN_ADMITTER: '0' }, INSPECT_ARGV));
    const admitter = await startChild('../../gateway/main.ts', { ...env, RUN_ADMITTER: '1' }, INSPECT_ARGV);
    stops.push(() => admitter.stop());
    const herds = Array.from({ length: o.herds }, (_, i) => new Herd(i));
    stops.push(async () => herds.forEach((h) => h.child.kill('SIGKILL')));
    await Promise.all(herds.map((h) => h.ask(null, 'ready')));
    o.note(`waiters: ${o.gateways} gateways (pids ${gateways.map((g) => g.pid).join(', ')}), an admitter (pid ${admitter.pid}), ${o.herds} load processes`);
    const base = `http://127.0.0.1:${admitter.port}`;
    // Memory is measured from fresh processes: after a phase's sockets close, a gateway's RSS does not
    // go back to where it was (V8 and the allocator keep pages), and a delta from there reads low or
    // even negative. What the few phase leaves on gateway 0 counts in the many phase's figure (a few MB).
    const start = { gw: await gatewayMemory(gateways) };

    /** One sale with `n` waiters on the first `on` gateways; memory is read on those gateways only. */
    const phase = async (label: string, n: number, on: number): Promise<PhaseFigures> => {
      const used = gateways.slice(0, on);
      const resyncs0 = sum(await Promise.all(gateways.map((g) => gatewayGauge(g, 'fs_sale_event_resyncs_total'))));
      const saleId = `waiters-${label}-${randomBytes(3).toString('hex')}`;
      // Stock and holds far beyond what the window admits: only the rate limits admissions.
      await adminCall(base, 'POST', '/v1/admin/sales', {
        id: saleId, name: 'waiters bench', sku: 'W', price: { amount: 100, currency: 'eur' }, stock: Math.max(10_000, o.rate * (o.windowS + 10) * 2), pools: 6,
        admitPerSecond: o.rate, maxActiveHolds: Math.max(10_000, o.rate * (o.windowS + 10) * 2), holdSeconds: 600,
      });
      await adminCall(base, 'POST', `/v1/admin/sales/${saleId}/pause`);
      const mem0 = { rss: sum(start.gw.rss.slice(0, on)), heap: sum(start.gw.heap.slice(0, on)), redis: await usedMemory(redis) };
      // Herd h connects to used gateway h mod G, from every source address (~28k ports each towards one gateway).
      const sources = sourceAddresses(o.sources);
      const t0 = Date.now();
      const ticker = setInterval(() => {
        const p = herds.reduce((a, h) => ({ open: a.open + h.progress.open, queued: a.queued + h.progress.queued, failed: a.failed + h.progress.failed }), { open: 0, queued: 0, failed: 0 });
        o.note(`waiters ${label}: ${p.queued} of ${n} queued, ${p.open} open, ${p.failed} failed, ${Math.round((Date.now() - t0) / 1000)} s`);
      }, 10_000);
      const joined = await Promise.all(herds.map((h, i) => {
        const ids = Array.from({ length: n }, (_, k) => k).filter((k) => k % o.herds === i).map((k) => `w-${label}-${k}`);
        return h.ask({ cmd: 'connect', wsUrl: `ws://127.0.0.1:${used[i % used.length]!.port}/v1/sales/${saleId}/ws`, secret: BENCH_BUYER_SECRET, ids, sources, inFlight: 64 }, 'connected');
      })).finally(() => clearInterval(ticker));
      const joinSeconds = (Date.now() - t0) / 1000;
      const queued = sum(joined.map((j) => j.queued));
      const failed = sum(joined.map((j) => j.failed));
      o.note(`waiters ${label}: ${queued} of ${n} queued in ${joinSeconds.toFixed(1)} s (${failed} sockets failed${failed ? `: ${joined.flatMap((j) => j.errors).slice(0, 3).join('; ')}` : ''})`);
      let memory: PhaseFigures['memory'] | undefined;
      {
        const gw1 = await gatewayMemory(used);
        const redis1 = await usedMemory(redis);
        memory = {
          gatewayRssPerWaiter: Math.round((sum(gw1.rss) - mem0.rss) / queued),
          gatewayHeapPerWaiter: Math.round((sum(gw1.heap) - mem0.heap) / queued),
          redisPerWaiter: Math.round((redis1 - mem0.redis) / queued),
          gatewayRssMB: gw1.rss.map((b) => Math.round(b / 1e6)),
          redisUsedMB: Math.round(redis1 / 1e6),
        };
        o.note(`waiters ${label}: memory per waiter: gateway RSS ${memory.gatewayRssPerWaiter} B, heap ${memory.gatewayHeapPerWaiter} B, Redis ${memory.redisPerWaiter} B`);
      }

      // Admissions: resume, let the first second's pushes pass, then measure the window.
      const admittedNow = async () => Number((await adminCall(base, 'GET', `/v1/admin/sales/${saleId}`)).stats.admitted);
      await adminCall(base, 'POST', `/v1/admin/sales/${saleId}/resume`);
      await sleep(2000);
      for (const h of herds) h.child.send({ cmd: 'measure' } satisfies ToHerd);
      const pids = { gateways: gateways.map((g) => g.pid), herds: herds.map((h) => h.child.pid!) };
      const cpu = async (ps: number[]) => sum(await Promise.all(ps.map(cpuMs)));
      await Promise.all([...gateways, admitter].map((g) => gatewayGauge(g, 'nodejs_eventloop_lag_p99_seconds')));
      const cpu0 = { gateways: await cpu(pids.gateways), herds: await cpu(pids.herds) };
      const loadAverage = loadavg()[0]!;
      const a0 = await admittedNow();
      const w0 = Date.now();
      const samples: Extract<FromHerd, { type: 'sample' }>[] = [];
      let last: Extract<FromHerd, { type: 'sample' }>[] = [];
      for (let s = 0; s < o.windowS; s++) {
        await sleep(Math.max(0, w0 + (s + 1) * 1000 - Date.now()));
        last = await Promise.all(herds.map((h) => h.ask({ cmd: 'sample' }, 'sample')));
        samples.push(...last);
      }
      const a1 = await admittedNow();
      const spanS = (Date.now() - w0) / 1000;
      const cores = (ms: number) => Math.round((ms / 1000 / spanS) * 100) / 100;
      const window = {
        gatewayCores: cores((await cpu(pids.gateways)) - cpu0.gateways), herdCores: cores((await cpu(pids.herds)) - cpu0.herds),
        gatewayLoopLagP99Ms: Math.round(Math.max(...await Promise.all(gateways.map((g) => gatewayGauge(g, 'nodejs_eventloop_lag_p99_seconds')))) * 1000),
        admitterLoopLagP99Ms: Math.round((await gatewayGauge(admitter, 'nodejs_eventloop_lag_p99_seconds')) * 1000),
        loadAverage: Math.round(loadAverage * 10) / 10,
      };
      await adminCall(base, 'POST', `/v1/admin/sales/${saleId}/end`);
      await Promise.all(herds.map((h) => h.ask({ cmd: 'close' }, 'closed')));
      return {
        waiters: queued, joinSeconds: Math.round(joinSeconds * 10) / 10, failed,
        joinToQueuedMs: figures(mergeSparse(joined.map((j) => j.joinToQueued)), 1000),
        memory,
        positionAgeMs: figures(mergeSparse(samples.map((x) => x.ages)), 1000),
        pushIntervalMs: figures(mergeSparse(last.map((x) => x.gaps)), 1100),
        positionFramesPerSecond: Math.round(sum(last.map((x) => x.positionFrames)) / spanS),
        admissionsPerSecond: Math.round(((a1 - a0) / spanS) * 10) / 10,
        admittedFramesPerSecond: Math.round((sum(last.map((x) => x.admitted)) / spanS) * 10) / 10,
        errorFrames: sum(last.map((x) => x.errorFrames)),
        errorCodes: last.reduce<Record<string, number>>((a, x) => {
          for (const [k, v] of Object.entries(x.errorCodes)) a[k] = (a[k] ?? 0) + v;
          return a;
        }, {}),
        resyncs: sum(await Promise.all(gateways.map((g) => gatewayGauge(g, 'fs_sale_event_resyncs_total')))) - resyncs0,
        stillWaiting: sum(last.map((x) => x.waiting)),
        lastSampleByHerd: last.map((x) => {
          const h = mergeSparse([x.ages]);
          return { stale: x.ages.filter(([b]) => b * BUCKET_MS >= 5000).reduce((a, [, c]) => a + c, 0), p99: figures(h, 1000).p99 };
        }),
        droppedSockets: last.reduce<Record<string, number>>((a, x) => {
          for (const [code, n] of Object.entries(x.closes)) a[code] = (a[code] ?? 0) + n;
          return a;
        }, {}),
        window,
      };
    };

    // A few thousand waiters on one gateway: a per-waiter figure spread over six processes would drown
    // in each one's own RSS noise.
    const few = await phase('few', o.few, 1);
    o.note(`waiters few: ${JSON.stringify(few)}`);
    const many = await phase('many', o.waiters, gateways.length);
    o.note(`waiters many: ${JSON.stringify(many)}`);
    const at = `at ${many.waiters} waiters on ${o.gateways} gateways`;
    const vs = `the same at ${few.waiters} waiters on 1 gateway`;
    const lines = [
      makeLine('waiters-gateway-rss', many.memory.gatewayRssPerWaiter, `gateway RSS bytes per waiter ${at} (after a full GC)`, vs, few.memory.gatewayRssPerWaiter),
      makeLine('waiters-gateway-heap', many.memory.gatewayHeapPerWaiter, `gateway V8 heap bytes per waiter ${at}`, vs, few.memory.gatewayHeapPerWaiter),
      makeLine('waiters-redis', many.memory.redisPerWaiter, `Redis used_memory bytes per waiter ${at}`, vs, few.memory.redisPerWaiter),
      makeLine('waiters-position-age-p99', many.positionAgeMs.p99, `ms since the last position frame, p99 over every waiting buyer, sampled each second, ${at}`, vs, few.positionAgeMs.p99),
      makeLine('waiters-push-interval-p99', many.pushIntervalMs.p99, `ms between two position frames of one buyer, p99, ${at}`, vs, few.pushIntervalMs.p99),
      makeLine('waiters-admissions', many.admissionsPerSecond, `admissions/s ${at} (sale set to ${o.rate}/s)`, vs, few.admissionsPerSecond),
    ];
    return { lines, few, many };
  } finally {
    for (const stop of stops.reverse()) await stop().catch((err: Error) => o.note(`waiters cleanup: ${err.message}`));
  }
}
