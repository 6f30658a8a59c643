import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { saleKeys } from '../../admission/keys.js';
import { poolKeys } from '../../inventory/keys.js';
import { PrivateCluster } from '../../loadtest/bench/private-cluster.js';
import type { Plan } from '../../loadtest/crowd/buyer.js';
import { runCrowd } from '../../loadtest/crowd/threads.js';
import type { BuyerResult } from '../../loadtest/crowd/stats.js';
import { uniqueId } from '../helpers/env.js';
import { BUYER_SECRET, startStack, type Stack } from '../helpers/stack.js';
import {
  createSale, expectAllAlive, expectClosingCheck, expectEveryHoldTold, expectNobodyStuck, outcomes, printFigures, settledLedger, statsUntil,
} from './chaos-kit.js';

// Parts 4 and 5 of issue 13: three gateways and two settlement workers on a private Redis Cluster
// (3 masters, 1 replica each), a crowd of real WebSocket buyers spread round-robin over the gateways.
// Mid-sale, one after the other: kill -9 of gateway 1 (its buyers reconnect to the next gateway), a
// CLUSTER FAILOVER of the master serving the sale's waiting-room slot, and kill -9 of the master
// serving one pool's slot (the Cluster promotes its replica itself). Afterwards nothing is oversold,
// charges at the stand-in == orders in Postgres, every buyer has an end, and the audit is clean.
const GATEWAYS = 3;
const BUYERS = 240;
const STOCK = 120;
const POOLS = 3;
const RATE = 8;

let cluster: PrivateCluster | undefined;
let stack: Stack | undefined;
let db: pg.Pool | undefined;
beforeAll(async () => {
  cluster = await new PrivateCluster({ masters: 3, replicas: 1 }).start();
  stack = await startStack({
    gateways: GATEWAYS, workers: 2, redisUrl: cluster.url,
    // A payment cut by a failover is reconciliation's: thresholds short enough to finish it in seconds.
    workerEnv: { RECONCILE_AFTER_MS: '3000', RECONCILE_INTERVAL_MS: '1000' },
  });
  db = new pg.Pool({ connectionString: stack.databaseUrl, max: 3 });
}, 120_000);
afterAll(async () => {
  await db?.end();
  await stack?.close();
  await cluster?.stop();
}, 60_000);

const END_FRAMES = new Set(['order_confirmed', 'sold_out', 'hold_expired', 'left']);
/** Buyers without an end at `t` (epoch ms). */
const openAt = (results: BuyerResult[], t: number) => results.filter((r) => !(r.frames ?? []).some((f) => f.at <= t && END_FRAMES.has(f.type)));
/** Ms from `t` to the first `admitted` frame any buyer got after it (admissions going on again). */
const nextAdmissionMs = (results: BuyerResult[], t: number) => {
  const first = Math.min(...results.flatMap((r) => (r.frames ?? []).filter((f) => f.type === 'admitted' && f.at > t).map((f) => f.at)));
  return Number.isFinite(first) ? first - t : undefined;
};

/** Until `key`'s slot is served by a master other than `port` (the Cluster promoted a replica). */
async function promotedAway(key: string, port: number, timeoutMs = 30_000): Promise<number> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const now = await cluster!.masterOf(key).catch(() => port);
    if (now !== port) return now;
    if (Date.now() > end) throw new Error(`no replica took over ${key} from ${port} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

it(`${GATEWAYS} gateways, 2 workers, a Redis Cluster with replicas: kill -9 of a gateway, a master failover and a master kill -9 mid-sale; nothing oversold, charges == orders, everyone ends`, async () => {
  const s = stack!;
  const c = { stack: s, db: db! };
  const sale = await createSale(s, { stock: STOCK, pools: POOLS, admitPerSecond: RATE, maxActiveHolds: 30, holdSeconds: 30 });
  const waitingRoom = saleKeys(s.prefix, sale.id).line;
  const label = uniqueId('cl');
  const t0 = Date.now() + 1000;
  const plan = (i: number): Plan => (i % 10 === 0 ? 'decline' : 'pay');
  const crowd = runCrowd({
    wsUrl: s.gateways.map((g) => `ws://127.0.0.1:${g.port}/v1/sales/${sale.id}/ws`), secret: BUYER_SECRET,
    buyers: Array.from({ length: BUYERS }, (_, i) => ({ id: `${label}-${i}`, plan: plan(i), startAt: t0 + Math.random() * 1500 })),
    threads: 2, sources: ['127.0.0.1'], deadline: t0 + 240_000, keepFrames: true,
  });

  // 1. kill -9 of gateway 1 once the sale is selling.
  const atGatewayKill = await statsUntil(c, sale.id, (x) => x.sold >= STOCK / 8, 60_000);
  const gatewayKilledAt = Date.now();
  await s.gateways[1]!.kill('SIGKILL');

  // 2. CLUSTER FAILOVER of the master that serves the waiting room's slot.
  const atFailover = await statsUntil(c, sale.id, (x) => x.sold >= (3 * STOCK) / 8, 60_000);
  const roomMaster = await cluster!.masterOf(waitingRoom);
  const failoverAt = Date.now();
  const roomMasterAfter = await cluster!.failover(roomMaster);
  const failoverMs = Date.now() - failoverAt;

  // 3. kill -9 of a master serving a pool's slot (one on another shard than the waiting room, if any).
  const atMasterKill = await statsUntil(c, sale.id, (x) => x.sold >= (5 * STOCK) / 8, 60_000);
  const pools = await Promise.all(Array.from({ length: POOLS }, async (_, p) => ({ key: poolKeys(s.prefix, sale.id, p).pool, master: await cluster!.masterOf(poolKeys(s.prefix, sale.id, p).pool) })));
  const victim = pools.find((p) => p.master !== roomMasterAfter) ?? pools[0]!;
  const masterKilledAt = Date.now();
  await cluster!.kill9(victim.master);
  const promoted = await promotedAway(victim.key, victim.master);
  const promotionMs = Date.now() - masterKilledAt;
  await cluster!.waitHealthy(30_000);

  const run = await crowd;
  const results = run.results;
  const ledger = await settledLedger(c, sale.id, 90_000);
  // Gateway 1's buyers still without an end when it died: each had to reconnect to another gateway.
  const strandedByKill = openAt(results.filter((r) => r.gateway === 1), gatewayKilledAt);
  const admittedAt = results.flatMap((r) => (r.frames ?? []).filter((f) => f.type === 'admitted').map((f) => f.at)).sort((a, b) => a - b);
  // The longest time no buyer heard of an admission while units were left (a lost subscription shows here).
  const lastConfirmed = Math.max(...results.flatMap((r) => (r.frames ?? []).filter((f) => f.type === 'order_confirmed').map((f) => f.at)));
  const gaps = admittedAt.filter((t) => t <= lastConfirmed).map((t, i, a) => (i === 0 ? 0 : t - a[i - 1]!));
  const since = (t: number) => t - t0;
  printFigures({
    case: 'cluster-many-gateways', gateways: GATEWAYS, workers: 2, redis: '3 masters + 3 replicas', buyers: BUYERS, stock: STOCK, pools: POOLS, admitPerSecond: RATE,
    soldAt: { gatewayKill: atGatewayKill.sold, failover: atFailover.sold, masterKill: atMasterKill.sold },
    buyersPerGateway: [0, 1, 2].map((g) => results.filter((r) => r.gateway === g).length),
    strandedByGatewayKill: strandedByKill.length, movedToAnotherGateway: strandedByKill.filter((r) => (r.gatewaySwitches ?? 0) > 0).length,
    reconnects: results.reduce((n, r) => n + r.reconnects, 0), errorFrames: results.reduce((n, r) => n + (r.errors ?? 0), 0),
    faultsAtMs: { gatewayKill: since(gatewayKilledAt), failover: since(failoverAt), masterKill: since(masterKilledAt) },
    failover: { from: roomMaster, to: roomMasterAfter, ms: failoverMs }, masterKill9: { port: victim.master, promoted, ms: promotionMs },
    longestAdmissionGapMs: Math.max(0, ...gaps),
    nextAdmissionMs: { gatewayKill: nextAdmissionMs(results, gatewayKilledAt), failover: nextAdmissionMs(results, failoverAt), masterKill: nextAdmissionMs(results, masterKilledAt) },
    admissionsPerSecond: admittedAt.length > 1 ? Math.round(((admittedAt.length - 1) / (admittedAt.at(-1)! - admittedAt[0]!)) * 10_000) / 10 : 0,
    outcomes: outcomes(results), orders: ledger.orders, charges: ledger.charges, oversold: ledger.oversold, doubleCharges: ledger.doubleCharges,
    auditOk: ledger.audit.ok, problems: ledger.audit.problems, stuck: results.filter((r) => r.outcome === 'stuck').length,
  }, results, s);

  // The faults landed mid-sale, and each really moved what it was meant to.
  for (const at of [atGatewayKill, atFailover, atMasterKill]) expect(at.sold, 'units left when the fault hit').toBeLessThan(STOCK);
  expect(roomMasterAfter).not.toBe(roomMaster);
  expect(await cluster!.masterOf(waitingRoom)).toBe(roomMasterAfter);
  expect(promoted).not.toBe(victim.master);
  expect(strandedByKill.length, 'buyers of gateway 1 still waiting or paying when it died').toBeGreaterThan(0);
  expect(strandedByKill.filter((r) => r.outcome !== 'stuck' && !(r.gatewaySwitches! > 0)), 'ended without another gateway').toEqual([]);
  expect(s.gateways[1]!.alive()).toBe(false);
  s.gateways.splice(1, 1);
  expectAllAlive(s);
  await expectNobodyStuck(results, c);
  expectEveryHoldTold(results);
  await expectClosingCheck(c, sale.id, ledger, results);
  expect(ledger.orders, 'orders').toBeLessThanOrEqual(STOCK);
}, 420_000);
