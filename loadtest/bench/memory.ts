import { Redis } from 'ioredis';
import { SocketFleet } from '../crowd/threads.js';
import { makeLine, type BenchLine } from './json-line.js';
import { benchPrefix, deletePrefix, ownDatabase, privateRedis, type BenchContext } from './infra.js';
import { collectGarbage, fdLimit, INSPECT_ARGV, rssBytes, type Child } from './child-processes.js';
import { FLEET_THREADS, joinRound, startEcho, startGatewayWithPausedSale } from './gateway-bench-kit.js';

/**
 * memory: what one waiting buyer costs — gateway RSS and Redis bytes — at N waiters. Redis is a
 * private redis-server of this bench, so nobody else's keys move the figure. Baselines, measured on
 * the same sockets and server: a bare uWS echo server holding the same idle sockets, and the least
 * any waiting room stores in Redis (one sorted-set member per buyer).
 *
 * Node collects no garbage while idle, so RSS read after a burst holds the burst's garbage too (V8
 * heap "used" grew more per waiter than RSS did). Each RSS reading is therefore taken twice: as the
 * process stands, and after a full GC forced through the inspector (both children, gateway and echo,
 * run with --inspect and get the same treatment). The JSON line reports the retained, after-GC figure.
 */
async function usedMemory(r: Redis): Promise<number> {
  const info = await r.info('memory');
  return Number(/used_memory:(\d+)/.exec(info)![1]);
}

/** The gateway's own V8 heap figures (prom-client default metrics), to tell live objects from RSS. */
async function heap(port: number): Promise<{ used: number; total: number }> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const read = (name: string) => Number(new RegExp(`^${name} (\\d+)`, 'm').exec(text)?.[1] ?? 0);
  return { used: read('nodejs_heap_size_used_bytes'), total: read('nodejs_heap_size_total_bytes') };
}

// Long enough for the last frames and Redis replies to be freed, and for V8 to hand freed pages back.
const settle = () => new Promise((r) => setTimeout(r, 500));

/**
 * RSS of a settled child as it stands (what this bench read before it forced GCs, so comparable with
 * older figures), then after a full GC: the figure that counts, retained memory only.
 */
async function rssReading(child: Child): Promise<{ asIs: number; afterGc: number }> {
  await settle();
  const asIs = await rssBytes(child.pid);
  await collectGarbage(child);
  await settle();
  return { asIs, afterGc: await steadyRss(child.pid) };
}

/**
 * RSS once it stops moving: V8 hands freed pages back on background threads, which a loaded machine
 * may run late (a baseline read too early made the echo's figure negative in one run).
 */
async function steadyRss(pid: number): Promise<number> {
  let last = await rssBytes(pid);
  for (let i = 0; i < 30; i++) {
    await new Promise((r) => setTimeout(r, 100));
    const now = await rssBytes(pid);
    if (Math.abs(now - last) < 64 * 1024) return now;
    last = now;
  }
  return last;
}

const perSocket = (a: { asIs: number; afterGc: number }, b: { asIs: number; afterGc: number }, n: number) => ({ asIs: (b.asIs - a.asIs) / n, afterGc: (b.afterGc - a.afterGc) / n });

export async function memoryBench(ctx: BenchContext): Promise<BenchLine[]> {
  // Each side of the loopback holds one descriptor per socket: where the hard limit cannot be raised
  // past 20,000 (this machine), measure at what fits and say so in the unit.
  const n = ctx.quick ? 3000 : Math.min(20_000, (await fdLimit()) - 2000);
  const own = await privateRedis();
  const redisUrl = own?.url ?? ctx.redisUrl;
  if (!own) ctx.note('memory: no redis-server binary, measuring on REDIS_URL (other keys may move the Redis figure)');
  if (!ctx.quick && n < 20_000) ctx.note(`memory: open-file limit ${await fdLimit()}: measuring at ${n} waiters instead of 20,000 (raise ulimit -n for the full figure)`);
  const prefix = benchPrefix('memory');
  const db = await ownDatabase(ctx.databaseUrl, 'memory');
  const fleet = new SocketFleet(FLEET_THREADS);
  const r = new Redis(redisUrl);
  try {
    const { gateway, wsUrl } = await startGatewayWithPausedSale({ redisUrl, databaseUrl: db.url, prefix, execArgv: INSPECT_ARGV });
    let gatewayPerWaiter: { asIs: number; afterGc: number };
    let redisPerWaiter: number;
    try {
      await joinRound(fleet, { wsUrl, n: 50, secret: true, frame: '{"type":"join"}', answer: 'queued' });
      await fleet.close();
      const rss0 = await rssReading(gateway);
      const heap0 = await heap(gateway.port);
      const mem0 = await usedMemory(r);
      const round = await joinRound(fleet, { wsUrl, n, secret: true, frame: '{"type":"join"}', answer: 'queued' });
      if (round.missing > 0 || round.failed > 0) throw new Error(`memory: ${round.failed} sockets failed (${round.errors.join('; ')}), ${round.missing} joins unanswered`);
      const rss1 = await rssReading(gateway);
      gatewayPerWaiter = perSocket(rss0, rss1, n);
      const heap1 = await heap(gateway.port);
      ctx.note(`memory: gateway V8 heap per waiter after GC: used ${Math.round((heap1.used - heap0.used) / n)} B, total ${Math.round((heap1.total - heap0.total) / n)} B (the rest of RSS: uWS, buffers, allocator)`);
      redisPerWaiter = ((await usedMemory(r)) - mem0) / n;
      await fleet.close();
    } finally {
      await gateway.stop();
    }
    const echo = await startEcho(INSPECT_ARGV);
    let echoPerSocket: { asIs: number; afterGc: number };
    try {
      const rss0 = await rssReading(echo);
      await joinRound(fleet, { wsUrl: `ws://127.0.0.1:${echo.port}/`, n, frame: '{"type":"join"}', answer: 'join' });
      echoPerSocket = perSocket(rss0, await rssReading(echo), n);
      await fleet.close();
    } finally {
      await echo.stop();
    }
    const zkey = `${prefix}baseline-zset`;
    const m0 = await usedMemory(r);
    for (let i = 0; i < n; i += 1000) await r.zadd(zkey, ...Array.from({ length: Math.min(1000, n - i) }, (_, j) => [i + j, `bb-${i + j}`]).flat());
    const zsetPerMember = ((await usedMemory(r)) - m0) / n;
    const b = (x: number) => `${Math.round(x)} B`;
    ctx.note(`memory: ${n} waiters; RSS per socket after a full GC: gateway ${b(gatewayPerWaiter.afterGc)} (goal 4096), echo ${b(echoPerSocket.afterGc)}; as it stood before (garbage included, the method of older runs): gateway ${b(gatewayPerWaiter.asIs)}, echo ${b(echoPerSocket.asIs)}; redis ${b(redisPerWaiter)} (goal 200), bare zset member ${b(zsetPerMember)}`);
    return [
      makeLine('memory-gateway', gatewayPerWaiter.afterGc, `gateway RSS bytes per waiting buyer at ${n}, after a full GC`, 'uws-echo-rss-per-socket', echoPerSocket.afterGc),
      makeLine('memory-redis', redisPerWaiter, `Redis bytes per waiting buyer at ${n}`, 'zset-member-bytes', zsetPerMember),
    ];
  } finally {
    r.disconnect();
    await fleet.terminate();
    if (own) await own.stop();
    else await deletePrefix(redisUrl, prefix);
    await db.drop();
  }
}
