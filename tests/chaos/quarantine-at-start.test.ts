import { expect, it } from 'vitest';
import {
  createSale, expectAllAlive, expectClosingCheck, expectEveryHoldTold, expectNobodyStuck, gatewayMetric, outcomes, printFigures, runBuyers, seedOrders, settledLedger,
  useChaos,
} from './chaos-kit.js';

// A ledger that cannot be reconciled: one sale holds more orders than stock (written straight into
// Postgres, past the stock fence, as a bug or a hand-made fix could leave it). A gateway starting on
// an empty Redis must not refuse to start nor stop the other sales: /readyz answers 200, that sale
// is quarantined (paused, flagged, resume refused with 409 `quarantined`), and another sale sells.
const BAD_STOCK = 5;
const BAD_ORDERS = 8;
const GOOD_STOCK = 20;

const chaos = useChaos({ gateways: 1, workers: 0, env: { LOG_LEVEL: 'info' } });

it(`a sale with ${BAD_ORDERS} orders for ${BAD_STOCK} units in the ledger: the gateway starts, that sale is quarantined, another sells`, async () => {
  const { stack, redis, db } = chaos();
  const bad = await createSale(stack, { stock: BAD_STOCK, pools: 1, admitPerSecond: 100, holdSeconds: 60 });
  const good = await createSale(stack, { stock: GOOD_STOCK, pools: 2, admitPerSecond: 100, holdSeconds: 60 });
  // No process runs while the ledger is made inconsistent and Redis is emptied: the next start finds it so.
  await stack.gateways[0]!.kill('SIGKILL');
  await seedOrders(db, bad.id, 1, BAD_ORDERS, { fence: false });
  await redis.flushAll();

  const startedAt = Date.now();
  const gateway = await stack.addGateway();
  const startMs = Date.now() - startedAt;
  const readyz = await fetch(`http://127.0.0.1:${gateway.port}/readyz`);
  await stack.addWorker();

  const badSale = await stack.admin('GET', `/v1/admin/sales/${bad.id}`);
  const resume = await stack.admin('POST', `/v1/admin/sales/${bad.id}/resume`);
  const badAudit = await stack.admin('GET', `/v1/admin/sales/${bad.id}/audit`);
  const quarantined = await gatewayMetric(stack, 'fs_sales_quarantined');
  const results = await runBuyers(stack, good.id, { buyers: GOOD_STOCK + 10, rampMs: 500, timeoutMs: 60_000, label: 'good' });
  const ledger = await settledLedger(chaos(), good.id);
  printFigures({
    case: 'quarantine-at-start', badStock: BAD_STOCK, badOrders: BAD_ORDERS, startMs, readyz: readyz.status, quarantine: badSale.body?.quarantine,
    badState: badSale.body?.stats?.state ?? badSale.body?.status, resume: resume.status, resumeCode: resume.body?.error?.code, badAuditOk: badAudit.body?.ok,
    quarantinedMetric: quarantined, goodOutcomes: outcomes(results), goodOrders: ledger.orders, goodCharges: ledger.charges, doubleCharges: ledger.doubleCharges,
    auditOk: ledger.audit.ok, stuck: results.filter((r) => r.outcome === 'stuck').length,
  }, results, stack);

  expect(readyz.status).toBe(200);
  expect(badSale.status).toBe(200);
  expect(badSale.body.quarantine, JSON.stringify(badSale.body)).toMatchObject({ reason: expect.any(String), since: expect.any(String) });
  expect(Number.isNaN(Date.parse(badSale.body.quarantine.since))).toBe(false);
  expect(badSale.body.stats.state).toBe('paused');
  expect(resume.status, JSON.stringify(resume.body)).toBe(409);
  expect(resume.body.error.code).toBe('quarantined');
  // The audit says what is wrong with it, rather than nothing.
  expect(badAudit.body.ok).toBe(false);
  expect(quarantined, 'fs_sales_quarantined').toBe(1);
  // Still quarantined after the other sale's run: nothing resumed it behind the operator's back.
  expect((await stack.admin('GET', `/v1/admin/sales/${bad.id}`)).body.stats.state).toBe('paused');

  expectAllAlive({ ...stack, gateways: [gateway] });
  await expectNobodyStuck(results, chaos());
  expectEveryHoldTold(results);
  expect(outcomes(results)).toEqual({ confirmed: GOOD_STOCK, sold_out: 10 });
  await expectClosingCheck(chaos(), good.id, ledger, results);
}, 200_000);
