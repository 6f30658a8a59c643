import { afterAll, beforeAll, expect, it } from 'vitest';
import { saleKeys } from '../../admission/keys.js';
import { admittersTicking, createSale, expectAllAlive, expectClosingCheck, expectEveryHoldTold, expectNobodyStuck, outcomes, printFigures, runBuyers, settledLedger, sleep, startChaos, untoldHolds, type Chaos } from './chaos-kit.js';

// Every process's link to Redis is reset for 3 s every 10 s while 2,000 buyers go for 200 units:
// commands in flight fail, pub/sub and BullMQ's blocking connections drop, admitter leases lapse.
// Afterwards every buyer has an end, nothing is left half-admitted, and the money matches the ledger.
// On a Redis Cluster a proxy sits in front of every node and each node announces its proxy's address
// (chaos-redis.ts, cutLinks): a Cluster client follows those, so every link of every process is cut.
const BUYERS = 2000;
const STOCK = 200;
const DOWN_MS = 3000;
const PERIOD_MS = 10_000;

let c: Chaos | undefined;
beforeAll(async () => {
  c = await startChaos({
    gateways: 2, workers: 1, redisProxy: true,
    // Payments caught by a reset are picked up by reconciliation in seconds, not minutes.
    workerEnv: { PAYMENT_LOCK_MS: '5000', RECONCILE_AFTER_MS: '3000', RECONCILE_INTERVAL_MS: '1000' },
  });
}, 120_000);
afterAll(async () => {
  await c?.close();
}, 60_000);

it(`${BUYERS} buyers, ${STOCK} units, the Redis link reset for ${DOWN_MS / 1000} s every ${PERIOD_MS / 1000} s: everyone ends, charges == orders, audit ok`, async () => {
  const { stack, redis, redisProxy } = c!;
  // Admissions spread over at least 33 s (200 units at 6/s), so at least three resets hit the sale
  // however fast the machine pays (at 10/s a quiet machine finished in 27 s, between two resets).
  const sale = await createSale(stack, { stock: STOCK, pools: 4, admitPerSecond: 6, maxActiveHolds: 40, holdSeconds: 20 });
  const began = Date.now();
  let crowdDone = false;
  const crowd = runBuyers(stack, sale.id, { buyers: BUYERS, rampMs: 3000, timeoutMs: 150_000, label: 'reset' }).finally(() => (crowdDone = true));
  const resetsAt: number[] = [];
  // The fault schedule (sleeps are the outages and the time between them): up 7 s, down 3 s, while the sale runs.
  for (let i = 0; i < 20 && !crowdDone; i++) {
    for (let t = 0; t < PERIOD_MS - DOWN_MS && !crowdDone; t += 250) await sleep(250);
    if (crowdDone) break;
    resetsAt.push(Date.now() - began);
    await redisProxy!.outage(DOWN_MS);
  }
  const results = await crowd;
  const crowdMs = Date.now() - began;

  const ledger = await settledLedger(c!, sale.id);
  const admitting = await redis.client.hlen(saleKeys(stack.prefix, sale.id).admitting);
  const ticking = await admittersTicking(stack);
  printFigures({
    case: `redis-link-reset/${redis.mode}`, buyers: BUYERS, stock: STOCK, resets: resetsAt.length, resetsAtMs: resetsAt, socketsReset: redisProxy!.counts.reset,
    crowdMs, outcomes: outcomes(results), errorFrames: results.reduce((a, r) => a + (r.errors ?? 0), 0), reconnects: results.reduce((a, r) => a + r.reconnects, 0),
    orders: ledger.orders, charges: ledger.charges, oversold: ledger.oversold, doubleCharges: ledger.doubleCharges, auditOk: ledger.audit.ok,
    stuck: results.filter((r) => r.outcome === 'stuck').length, admitting, admitterTicking: ticking.some(Boolean), untoldHolds: untoldHolds(results).length,
  }, results, stack);

  expect(resetsAt.length, 'the sale outlasted at least three resets').toBeGreaterThanOrEqual(3);
  expectAllAlive(stack);
  await expectNobodyStuck(results, c);
  expectEveryHoldTold(results);
  // Nothing is left between "popped from the line" and "given a hold".
  expect(admitting).toBe(0);
  await expectClosingCheck(c!, sale.id, ledger, results);
}, 300_000);
