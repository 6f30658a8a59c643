import { afterAll, beforeAll, expect, it } from 'vitest';
import { createSale, endedAt, expectAllAlive, expectClosingCheck, expectEveryHoldTold, expectNobodyStuck, outcomes, printFigures, runBuyers, settledLedger, sleep, startChaos, type Chaos } from './chaos-kit.js';

// Every process (two gateways, two settlement workers) reaches Postgres through one proxy; once the
// sale has some orders, Postgres becomes unreachable for 30 s: open connections reset, new ones
// refused. Payments in flight, joins, the sale cache and reconciliation all lose their ledger at once.
// Afterwards every process is still alive, every buyer has an end within 60 s of the return, and the
// money matches the ledger.
const BUYERS = 600;
const STOCK = 150;
const OUTAGE_MS = 30_000;
const ENDED_WITHIN_MS = 60_000;

let c: Chaos | undefined;
beforeAll(async () => {
  c = await startChaos({
    gateways: 2, workers: 2, dbProxy: true,
    workerEnv: { PAYMENT_LOCK_MS: '5000', RECONCILE_AFTER_MS: '3000', RECONCILE_INTERVAL_MS: '1000' },
  });
}, 120_000);
afterAll(async () => {
  await c?.close();
}, 60_000);

it(`Postgres unreachable for ${OUTAGE_MS / 1000} s mid-sale: every process alive, nobody stuck ${ENDED_WITHIN_MS / 1000} s after, charges == orders, audit ok`, async () => {
  const { stack, dbProxy, db } = c!;
  const sale = await createSale(stack, { stock: STOCK, pools: 4, admitPerSecond: 10, maxActiveHolds: 40, holdSeconds: 20 });
  let finished = 0;
  let crowdDone = false;
  const crowd = runBuyers(stack, sale.id, {
    buyers: BUYERS, rampMs: 2000, timeoutMs: 180_000, label: 'pgdown', onFinished: (n) => (finished = n),
  }).finally(() => (crowdDone = true));

  // The outage starts once the ledger has some orders (bounded wait), while most of the stock is unsold.
  const orders = async () => Number((await db.query('SELECT count(*) AS n FROM orders WHERE sale_id = $1', [sale.id])).rows[0].n);
  for (let i = 0; i < 300 && !crowdDone && (await orders()) < 20; i++) await sleep(100);
  const ordersBefore = await orders();
  const cutAt = Date.now();
  await dbProxy!.outage(OUTAGE_MS); // the outage itself is what is simulated
  const restoredAt = Date.now();
  const ordersAtReturn = await orders();
  // Every buyer must have an end within 60 s of the return: watched here, judged on the frames below.
  for (let t = 0; t < ENDED_WITHIN_MS && !crowdDone && finished < BUYERS; t += 250) await sleep(250);
  const results = await crowd;

  const ledger = await settledLedger(c!, sale.id);
  const late = results.filter((r) => (endedAt(r) ?? Infinity) > restoredAt + ENDED_WITHIN_MS);
  const lastEnd = Math.max(...results.map((r) => endedAt(r) ?? 0));
  printFigures({
    case: 'postgres-down', buyers: BUYERS, stock: STOCK, outageMs: restoredAt - cutAt, socketsReset: dbProxy!.counts.reset, connectionsRefused: dbProxy!.counts.refused,
    ordersBefore, ordersAtReturn, lastEndAfterReturnMs: lastEnd - restoredAt, outcomes: outcomes(results),
    errorFrames: results.reduce((a, r) => a + (r.errors ?? 0), 0), reconnects: results.reduce((a, r) => a + r.reconnects, 0),
    orders: ledger.orders, charges: ledger.charges, oversold: ledger.oversold, doubleCharges: ledger.doubleCharges, auditOk: ledger.audit.ok,
    stuck: results.filter((r) => r.outcome === 'stuck').length, late: late.length,
  }, results, stack);

  expect(ordersBefore, 'the outage began after some orders').toBeGreaterThanOrEqual(20);
  expectAllAlive(stack);
  await expectNobodyStuck(results, c);
  expectEveryHoldTold(results);
  expect(late.length, `ended more than ${ENDED_WITHIN_MS} ms after the return: ${JSON.stringify(late.slice(0, 3).map((r) => ({ id: r.id, frames: r.frames?.slice(-6) })))}`).toBe(0);
  await expectClosingCheck(c!, sale.id, ledger, results);
}, 400_000);
