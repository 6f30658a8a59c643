import { describe, expect, it } from 'vitest';
import {
  HEALED, LOSS_DETECTED, createSale, expectAllAlive, expectClosingCheck, expectEveryHoldTold, expectNobodyStuck, healFigures, isLog, outcomes, printFigures, runBuyers,
  seedOrders, settledLedger, useChaos, waitAnyLog,
} from './chaos-kit.js';
import type { BuyerResult } from '../../loadtest/crowd/stats.js';

// Two races of the rebuild from the ledger. (1) The process healing a sale is killed with SIGKILL
// half-way: the pools it had not rebuilt yet must be rebuilt by another process, never counted
// twice nor left out. (2) Three gateways start at once on an empty Redis while the ledger holds a
// sale with units sold: one rebuild, not three. Either way buyers get holds up to the units the
// ledger has free (no sold_out while units are free, no phantom unit refused by the fence), and the
// audit is clean.

/** Refusals by the stock fence the buyers saw: each one is a unit Redis had that the ledger had not. */
const fenceRefusals = (results: BuyerResult[]) => results.flatMap((r) => (r.frames ?? []).filter((f) => f.type === 'payment_failed' && f.reason === 'sold_out')).length;

describe('a heal killed half-way', () => {
  // A big ledger, so rebuilding it takes a while: many orders over many pools.
  const SEEDED = 30_000;
  const FREE = 100;
  const POOLS = 16;
  const chaos = useChaos({ gateways: 1, workers: 0, env: { LOG_LEVEL: 'info' } });

  it(`SIGKILL to the only process healing a sale of ${SEEDED} orders: another heals it, holds up to the ${FREE} free units, audit ok`, async () => {
    const { stack } = chaos();
    const sale = await createSale(stack, { stock: SEEDED + FREE, pools: POOLS, admitPerSecond: 200, maxActiveHolds: 200, holdSeconds: 60 });
    const healer = stack.gateways[0]!;
    // Orders Redis never saw: the guard finds Redis behind the ledger and heals the sale.
    const seededAt = Date.now();
    await seedOrders(chaos().db, sale.id, POOLS, SEEDED, { fence: true });
    const detected = await healer.waitLog(isLog(LOSS_DETECTED, sale.id), 15_000);
    await healer.kill('SIGKILL');
    const killedAt = Date.now();
    const killedMidHeal = !healer.logs.some(isLog(HEALED, sale.id));

    // Its successors: a gateway (the buyers' and the admitter's) and a settlement worker.
    await Promise.all([stack.addGateway(), stack.addWorker()]);
    const healed = await waitAnyLog(stack, isLog(HEALED, sale.id), killedAt, 30_000);
    const results = await runBuyers(stack, sale.id, { buyers: FREE + 50, rampMs: 1000, timeoutMs: 90_000, label: 'after-kill' });
    const ledger = await settledLedger(chaos(), sale.id, 60_000, SEEDED);
    const heal = healFigures(stack, sale.id, killedAt);
    printFigures({
      case: 'rebuild-races/heal-killed', seeded: SEEDED, free: FREE, pools: POOLS, detectAfterSeedMs: detected.time - seededAt, killAfterDetectMs: killedAt - detected.time,
      killedMidHeal, healAfterKillMs: heal.healMs, healLogMs: heal.healLogMs, outcomes: outcomes(results), fenceRefusals: fenceRefusals(results),
      orders: ledger.orders, charges: ledger.charges, oversold: ledger.oversold, doubleCharges: ledger.doubleCharges, auditOk: ledger.audit.ok,
      stuck: results.filter((r) => r.outcome === 'stuck').length,
    }, results, stack);

    expect(killedMidHeal, 'the kill landed before the healer logged its heal (else this case tests nothing: ask for a slower heal or a hook)').toBe(true);
    expect(healed, `no "${HEALED}" log after the kill`).toBeDefined();
    expectAllAlive({ ...stack, gateways: stack.gateways.slice(1) });
    await expectNobodyStuck(results, chaos());
    expectEveryHoldTold(results);
    expect(outcomes(results)).toEqual({ confirmed: FREE, sold_out: 50 });
    expect(fenceRefusals(results), 'no unit offered that the ledger did not have').toBe(0);
    await expectClosingCheck(chaos(), sale.id, ledger, results, SEEDED);
  }, 300_000);
});

describe('three gateways starting at once on an empty Redis', () => {
  const STOCK = 100;
  const SOLD_BEFORE = 30;
  const chaos = useChaos({ gateways: 1, workers: 1, env: { LOG_LEVEL: 'info' } });

  it(`the ledger has ${SOLD_BEFORE} of ${STOCK} units sold: one rebuild, holds up to the ${STOCK - SOLD_BEFORE} free, no sold_out before, audit ok`, async () => {
    const { stack, redis } = chaos();
    const sale = await createSale(stack, { stock: STOCK, pools: 4, admitPerSecond: 200, maxActiveHolds: 200, holdSeconds: 60 });
    const first = await runBuyers(stack, sale.id, { buyers: SOLD_BEFORE, timeoutMs: 30_000, label: 'first' });
    expect(outcomes(first)).toEqual({ confirmed: SOLD_BEFORE });
    await settledLedger(chaos(), sale.id, 30_000);
    // Everything stops; Redis comes back empty; three gateways and a worker start at the same moment.
    await Promise.all([...stack.gateways, ...stack.workers].map((p) => p.kill('SIGKILL')));
    await redis.flushAll();
    const startedAt = Date.now();
    await Promise.all([stack.addGateway(), stack.addGateway(), stack.addGateway(), stack.addWorker()]);
    const readyMs = Date.now() - startedAt;
    const live = stack.gateways.map((_, i) => i).filter((i) => stack.gateways[i]!.alive());
    expect(live).toHaveLength(3);
    const results = await runBuyers(stack, sale.id, { buyers: STOCK, rampMs: 1000, timeoutMs: 90_000, label: 'second', gateways: live });
    const ledger = await settledLedger(chaos(), sale.id);
    const heal = healFigures(stack, sale.id, startedAt);
    printFigures({
      case: 'rebuild-races/three-gateways', stock: STOCK, soldBefore: SOLD_BEFORE, readyMs, healLines: heal.healLines, reasons: heal.reasons,
      outcomes: outcomes(results), fenceRefusals: fenceRefusals(results),
      orders: ledger.orders, charges: ledger.charges, oversold: ledger.oversold, doubleCharges: ledger.doubleCharges, auditOk: ledger.audit.ok,
      stuck: results.filter((r) => r.outcome === 'stuck').length,
    }, results, stack);

    expectAllAlive({ ...stack, gateways: live.map((i) => stack.gateways[i]!), workers: stack.workers.slice(1) });
    await expectNobodyStuck(results, chaos());
    expectEveryHoldTold(results);
    // STOCK buyers for STOCK - SOLD_BEFORE units: each unit to one of them, the rest told sold_out only then.
    expect(outcomes(results)).toEqual({ confirmed: STOCK - SOLD_BEFORE, sold_out: SOLD_BEFORE });
    expect(fenceRefusals(results), 'no unit offered twice by a double rebuild').toBe(0);
    expect(ledger.orders).toBe(STOCK);
    await expectClosingCheck(chaos(), sale.id, ledger, [...first, ...results]);
  }, 300_000);
});
