import { Redis } from 'ioredis';
import { SocketFleet } from '../crowd/threads.js';
import { makeLine, type BenchLine } from './json-line.js';
import { benchPrefix, deletePrefix, fdLimit, ownDatabase, privateRedis, rssBytes, type BenchContext } from './infra.js';
import { FLEET_THREADS, joinRound, startEcho, startGatewayWithPausedSale } from './gateway-bench-kit.js';

/**
 * memory: what one waiting buyer costs — gateway RSS and Redis bytes — at N waiters. Redis is a
 * private redis-server of this bench, so nobody else's keys move the figure. Baselines, measured on
 * the same sockets and server: a bare uWS echo server holding the same idle sockets, and the least
 * any waiting room stores in Redis (one sorted-set member per buyer).
 */
async function usedMemory(r: Redis): Promise<number> {
  const info = await r.info('memory');
  return Number(/used_memory:(\d+)/.exec(info)![1]);
}

// Long enough for the last frames and Redis replies to be freed; RSS is read right after.
/** The gateway's own V8 heap figures (prom-client default metrics), to tell live objects from RSS. */
async function heap(port: number): Promise<{ used: number; total: number }> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const read = (name: string) => Number(new RegExp(`^${name} (\\d+)`, 'm').exec(text)?.[1] ?? 0);
  return { used: read('nodejs_heap_size_used_bytes'), total: read('nodejs_heap_size_total_bytes') };
}

const settle = () => new Promise((r) => setTimeout(r, 500));

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
    const { gateway, wsUrl } = await startGatewayWithPausedSale({ redisUrl, databaseUrl: db.url, prefix });
    let gatewayPerWaiter: number;
    let redisPerWaiter: number;
    try {
      await joinRound(fleet, { wsUrl, n: 50, secret: true, frame: '{"type":"join"}', answer: 'queued' });
      await fleet.close();
      await settle();
      const rss0 = await rssBytes(gateway.pid);
      const heap0 = await heap(gateway.port);
      const mem0 = await usedMemory(r);
      const round = await joinRound(fleet, { wsUrl, n, secret: true, frame: '{"type":"join"}', answer: 'queued' });
      if (round.missing > 0 || round.failed > 0) throw new Error(`memory: ${round.failed} sockets failed (${round.errors.join('; ')}), ${round.missing} joins unanswered`);
      await settle();
      gatewayPerWaiter = ((await rssBytes(gateway.pid)) - rss0) / n;
      const heap1 = await heap(gateway.port);
      ctx.note(`memory: gateway V8 heap per waiter: used ${Math.round((heap1.used - heap0.used) / n)} B, total ${Math.round((heap1.total - heap0.total) / n)} B (the rest of RSS: uWS, buffers, allocator)`);
      redisPerWaiter = ((await usedMemory(r)) - mem0) / n;
      await fleet.close();
    } finally {
      await gateway.stop();
    }
    const echo = await startEcho();
    let echoPerSocket: number;
    try {
      await settle();
      const rss0 = await rssBytes(echo.pid);
      await joinRound(fleet, { wsUrl: `ws://127.0.0.1:${echo.port}/`, n, frame: '{"type":"join"}', answer: 'join' });
      await settle();
      echoPerSocket = ((await rssBytes(echo.pid)) - rss0) / n;
      await fleet.close();
    } finally {
      await echo.stop();
    }
    const zkey = `${prefix}baseline-zset`;
    const m0 = await usedMemory(r);
    for (let i = 0; i < n; i += 1000) await r.zadd(zkey, ...Array.from({ length: Math.min(1000, n - i) }, (_, j) => [i + j, `bb-${i + j}`]).flat());
    const zsetPerMember = ((await usedMemory(r)) - m0) / n;
    ctx.note(`memory: ${n} waiters; gateway ${Math.round(gatewayPerWaiter)} B (goal 4096), echo ${Math.round(echoPerSocket)} B; redis ${Math.round(redisPerWaiter)} B (goal 200), bare zset member ${Math.round(zsetPerMember)} B`);
    return [
      makeLine('memory-gateway', gatewayPerWaiter, `gateway RSS bytes per waiting buyer at ${n}`, 'uws-echo-rss-per-socket', echoPerSocket),
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
