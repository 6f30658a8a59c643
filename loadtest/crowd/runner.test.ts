import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, BUYER_SECRET, startStack, type Stack } from '../../tests/helpers/stack.js';
import { metricValue } from '../../tests/e2e/kit.js';
import { crowdOptions, sourceAddresses } from './options.js';
import { runStampede } from './run.js';
import { SocketFleet } from './threads.js';

/**
 * The stampede runner at a small scale against a real stack (two gateways, a worker, the stand-in as
 * child processes): sockets really spread over worker threads, loopback source addresses and both
 * gateways (`--url A,B`), every buyer reaches an outcome, and the oversell check agrees with the audit.
 */
let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ gateways: 2, workers: 1 });
}, 60_000);
afterAll(async () => {
  await stack?.close();
});

const joinsOf = async (g: number) => metricValue(await (await fetch(stack.url('/metrics', g))).text(), 'fs_joins_total');

const options = (over: Record<string, unknown>) => crowdOptions.parse({
  url: stack.url(), standIn: stack.standIn.url, adminToken: ADMIN_TOKEN, secret: BUYER_SECRET, progress: false,
  threads: 2, sources: 3, rampMs: 300, holdSeconds: 2, rate: 200, timeout: 60, ...over,
});

describe('stampede runner', () => {
  it('spreads a crowd over threads, source addresses and two gateways and sells exactly the stock', async () => {
    const progress: number[] = [];
    const joins0 = await Promise.all([0, 1].map(joinsOf));
    const { summary, results, threadIds } = await runStampede(options({ buyers: 60, stock: 20, url: `${stack.url('', 0)},${stack.url('', 1)}` }), { onProgress: (p) => progress.push(p.finished) });
    // Round-robin: half the crowd started on each gateway, and each gateway really answered their joins.
    expect(summary.gateways).toMatchObject({ urls: [stack.url('', 0), stack.url('', 1)], buyers: [30, 30], switches: 0 });
    const joins1 = await Promise.all([0, 1].map(joinsOf));
    for (const g of [0, 1]) expect(joins1[g]! - joins0[g]!, `joins answered by gateway ${g}`).toBeGreaterThanOrEqual(30);
    expect(new Set(threadIds).size, 'two worker threads').toBe(2);
    expect(new Set(results.map((r) => r.localAddress))).toEqual(new Set(sourceAddresses(3)));
    expect(summary.counts.stuck, JSON.stringify(results.filter((r) => r.outcome === 'stuck'))).toBe(0);
    expect(summary.counts.joined).toBe(60);
    expect(summary.counts.paid).toBe(20);
    expect(summary.counts.paid + summary.counts.soldOut + summary.counts.expired + summary.counts.left).toBe(60);
    expect(summary.oversell).toMatchObject({ ok: true, oversoldBy: 0, sold: 20, orders: 20, charges: 20, confirmationsSeen: 20 });
    expect(summary.latencyMs.joinToQueued.n).toBe(60);
    expect(summary.ok).toBe(true);
    expect(progress.length).toBeGreaterThan(0);
  });

  it('with a join challenge (--challenge-bits 12) every buyer solves it and joins with its proof', async () => {
    const { summary, results } = await runStampede(options({ buyers: 30, stock: 10, challengeBits: 12 }));
    expect(summary.latencyMs.solve.n, JSON.stringify(summary)).toBe(30);
    expect(results.filter((r) => (r.errors ?? 0) > 0)).toEqual([]);
    expect(summary.counts.joined).toBe(30);
    expect(summary.counts.paid).toBe(10);
    expect(summary.oversell).toMatchObject({ ok: true, sold: 10, orders: 10 });
    expect(summary.ok).toBe(true);
  });

  it('with a pre-queue and a lottery window, every buyer verifies their place against the published draw', async () => {
    // Arrivals over 2.5 s after t0: the first 2 s before the start (pre-queue), the rest in the 1 s lottery window.
    const { summary, results } = await runStampede(options({ buyers: 40, stock: 10, rate: 20, prequeueSeconds: 2, lotterySeconds: 1, rampMs: 2500 }));
    const d = summary.draw!;
    expect(d, JSON.stringify(summary)).toMatchObject({ published: true, keyMatches: true, sorted: true, commitmentMismatch: 0, mismatched: [], noTicket: 0 });
    // Everybody arrived before the seal, so everybody is in the draw and found their score at their ticket.
    expect(d.drawn).toBe(40);
    expect(d.verified).toBe(40);
    expect(new Set(results.map((r) => r.ticket)).size).toBe(40);
    expect(summary.ok).toBe(true);
  });

  it('reconnect-storm: every dropped buyer gets their state back without joining again', async () => {
    const { summary } = await runStampede(options({ scenario: 'reconnect-storm', buyers: 40, stock: 10, rate: 2, holdSeconds: 30, abandon: 0, leave: 0, decline: 0, stormAfter: 0.5 }));
    expect(summary.restoredAfterDrop?.dropped, JSON.stringify(summary)).toBeGreaterThan(20);
    expect(summary.restoredAfterDrop?.restored).toBe(summary.restoredAfterDrop?.dropped);
    expect(summary.reconnects).toBeGreaterThanOrEqual(summary.restoredAfterDrop!.dropped);
    expect(summary.ok, JSON.stringify(summary)).toBe(true);
  });

  it('a socket fleet (the benches) holds sockets from every thread and address and times one frame on each', async () => {
    const created = await stack.admin('POST', '/v1/admin/sales', {
      id: `fleet-${Date.now().toString(36)}`, name: 'fleet', sku: 'F', price: { amount: 100, currency: 'eur' }, stock: 5, pools: 1, admitPerSecond: 1,
    });
    expect(created.status).toBe(201);
    expect((await stack.admin('POST', `/v1/admin/sales/${created.body.id}/pause`)).status).toBe(200);
    const fleet = new SocketFleet(2);
    try {
      const c = await fleet.connect({ wsUrl: stack.wsUrl(created.body.id, '').replace(/\?token=$/, ''), secret: BUYER_SECRET, ids: Array.from({ length: 30 }, (_, i) => `fleet-${i}`), sources: sourceAddresses(3) });
      expect(c).toMatchObject({ failed: 0, localAddresses: sourceAddresses(3) });
      expect(new Set(c.threadIds).size).toBe(2);
      const a = await fleet.sendAll('{"type":"join"}', 'queued', 20_000);
      expect(a).toMatchObject({ missing: 0 });
      expect(a.latencies).toHaveLength(30);
      await fleet.close();
    } finally {
      await fleet.terminate();
    }
  });
});
