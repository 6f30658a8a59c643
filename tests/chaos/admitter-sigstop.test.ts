import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { createRedis, type RedisClient } from '../../shared/redis.js';
import { Inventory } from '../../inventory/inventory-service.js';
import { saleKeys } from '../../admission/keys.js';
import { redisUrl, uniqueId } from '../helpers/env.js';
import { startStack, type Proc, type Stack } from '../helpers/stack.js';
import { sampleHolds } from '../helpers/hold-sampler.js';
import { StoppingProxy, stopAfterAny } from '../helpers/stopping-proxy.js';
import { clusterOf, redisMode, startChaosRedis, type ChaosRedis } from './chaos-redis.js';
import { printFigures } from './chaos-kit.js';
import { sleep } from '../../inventory/lua-test-support.js';
import { Buyers, createSale, expectCleanAudit, shop, waitSettled, type ShopOutcome } from '../e2e/kit.js';

// A real stack of two gateways, each running an admitter. The gateway whose admitter holds the sale's
// lease is stopped with SIGSTOP for 3 s (the lease lasts 2 s), then continued, while a crowd joins.
// The stop is placed, not random: a proxy between the gateways and Redis stops the holder the moment
// it has sent its tick's read of the pools (maxNew = maxActiveHolds, nobody held yet), so it wakes
// with that read in hand after the other gateway has taken the lease and filled the holds. Payments
// wait until after the stop, so the holds stay full meanwhile. A separate Redis client samples the
// pools all along.
// On a Redis Cluster (a private one): a StoppingProxy in front of every node, each node announcing its
// proxy, so every process reaches the Cluster through them; the workers too, which the proxies never stop.

const STOP_MS = 3000;
const MAX_ACTIVE = 5;
const STOCK = 30;
const BUYERS = 40;

let stack: Stack;
let proxies: StoppingProxy[] = [];
let redis: RedisClient;
let cluster: ChaosRedis | undefined;
beforeAll(async () => {
  if (redisMode() === 'cluster') {
    cluster = await startChaosRedis();
    proxies = await clusterOf(cluster)!.proxyEvery((host, port) => new StoppingProxy(host, port));
    stack = await startStack({ gateways: 2, redisUrl: cluster.url });
    redis = cluster.client;
    return;
  }
  const direct = new URL(redisUrl());
  proxies = [await new StoppingProxy(direct.hostname, Number(direct.port || 6379)).start()];
  // Only the gateways (and so their admitters) talk to Redis through the proxy.
  stack = await startStack({ gateways: 2, env: { REDIS_URL: proxies[0]!.urlFor(redisUrl()) }, workerEnv: { REDIS_URL: redisUrl() } });
  redis = createRedis(redisUrl(), { name: 'test-chaos-sampler' });
}, 120_000);
afterAll(async () => {
  // A test that failed between SIGSTOP and SIGCONT must not leave a stopped process behind.
  for (const g of stack?.gateways ?? []) g.child.kill('SIGCONT');
  await stack?.close();
  if (cluster) {
    await cluster.stop();
  } else {
    redis?.disconnect();
    for (const p of proxies) await p.close();
  }
}, 60_000);

/** The gateway whose admitter holds the sale's lease: its value is '<hostname>:<pid>:<random>:<token>'. */
async function leaseHolder(saleId: string): Promise<Proc | undefined> {
  const v = await redis.get(saleKeys(stack.prefix, saleId).lease);
  const pid = Number(v?.split(':')[1]);
  return stack.gateways.find((g) => g.child.pid === pid);
}

describe('the gateway holding the admitter lease is SIGSTOPped past its lease', () => {
  it('held + paying never passes maxActiveHolds, every buyer ends, nothing is left admitting', async () => {
    const sale = await createSale(stack, { stock: STOCK, pools: 2, maxActiveHolds: MAX_ACTIVE, admitPerSecond: 20, holdSeconds: 60 });
    const inventory = new Inventory(redis, stack.prefix);
    const sampling = sampleHolds(redis, inventory, sale.id, 2);
    const buyers = new Buyers(stack);
    let openGate!: () => void;
    const payGate = new Promise<void>((r) => (openGate = r));
    try {
      const sockets = await Promise.all(Array.from({ length: BUYERS }, (_, i) => buyers.connect(sale.id, uniqueId('buyer'), i % 2)));
      const holder = await vi.waitFor(async () => {
        const g = await leaseHolder(sale.id);
        expect(g).toBeDefined();
        return g!;
      }, { timeout: 10_000, interval: 10 });
      const other = stack.gateways.find((g) => g !== holder)!;

      // SIGSTOP the holder at its next read of the pools; then the crowd joins.
      const poolRead = new RegExp(`hmget\\r\\n\\$\\d+\\r\\n${inventory.keys(sale.id, 0).pool.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}\\r\\n`, 'i');
      const stoppedAt = await stopAfterAny(proxies, holder.child.pid!, poolRead);
      let outcomes: Promise<ShopOutcome[]> | undefined;
      try {
        // Shoppers who pay once admitted, but not before the gate opens, and take a refusal as final.
        outcomes = Promise.all(sockets.map((b) => shop(b, { timeoutMs: 90_000, payGate, repayOn: [] })));
        // The other gateway's admitter takes the lease once the stopped one's expires, and fills the holds.
        await expect.poll(() => leaseHolder(sale.id), { timeout: STOP_MS - 200, interval: 10 }).toBe(other);
        await expect.poll(() => sampling.seen.maxActive, { timeout: Math.max(1, STOP_MS - (Date.now() - stoppedAt)), interval: 10 }).toBeGreaterThanOrEqual(MAX_ACTIVE);
        await sleep(Math.max(0, STOP_MS - (Date.now() - stoppedAt)));
      } finally {
        holder.child.kill('SIGCONT');
      }
      // The woken admitter's tick runs with its read from before the stop, holds still full.
      await sleep(1000);
      openGate();

      const ends = (await outcomes).map((o) => o.end);
      await waitSettled(stack, sale.id);
      const seen = await sampling.stop();
      const count = (end: ShopOutcome['end']) => ends.filter((e) => e === end).length;
      printFigures({
        case: `admitter-sigstop/${redisMode()}`, stopMs: STOP_MS, maxActiveHolds: MAX_ACTIVE, samples: seen.samples, maxActive: seen.maxActive, minAvailable: seen.minAvailable,
        orders: count('order_confirmed'), soldOut: count('sold_out'), expired: count('hold_expired'), stuck: count('stuck'),
      });

      expect(seen.broken).toEqual([]);
      expect(seen.maxActive).toBeLessThanOrEqual(MAX_ACTIVE);
      expect(seen.minAvailable).toBeGreaterThanOrEqual(0);
      expect(count('stuck')).toBe(0);
      expect(count('order_confirmed')).toBe(STOCK);
      expect(count('sold_out')).toBe(BUYERS - STOCK);
      expect(await redis.hlen(saleKeys(stack.prefix, sale.id).admitting)).toBe(0);
      await expectCleanAudit(stack, sale.id, { sold: STOCK, held: 0, paying: 0 });
    } finally {
      openGate();
      await sampling.stop();
      await buyers.closeAll();
    }
  });
});
