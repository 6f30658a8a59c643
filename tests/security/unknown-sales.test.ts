import { describe, expect, it } from 'vitest';
import { mintBuyerToken } from '../../shared/buyer-token.js';
import { uniqueId } from '../helpers/env.js';
import { BUYER_SECRET, type Stack } from '../helpers/stack.js';
import { Buyers, createSale, expectCleanAudit, metricValue } from '../e2e/kit.js';
import { gatewayMetrics, Inspector, useInspectedStack, pooled, rssBytes, tryUpgrade } from './door-kit.js';

/**
 * WebSockets for sale ids that do not exist (valid syntax, so they reach the lookup): each is refused
 * 404 sale_not_found, and the gateway keeps nothing for them. Measured: the gateway's own count of
 * entries kept by sale id (fs_gateway_sale_entries: sale cache, open frames, sockets by sale, queue and
 * window state), which must come back to what the real sales need; and the V8 heap in use after a full
 * GC (run through the gateway's inspector), which must grow by less than 20 MB. The resident set (VmRSS
 * of /proc/<pid>/status, after the same GCs) is reported, not bounded: it moves by several MB as the
 * allocator keeps or returns pages, whatever the test does.
 */
let stack: Stack;
let buyers: Buyers;
let inspector: Inspector;
useInspectedStack((s, b, i) => ((stack = s), (buyers = b), (inspector = i)));

const UNKNOWN = 3000;
const CONCURRENCY = 50;

/** Upgrades to every id, CONCURRENCY at once, each worker its own buyer (so no buyer hits its socket limit). */
async function upgradeAll(ids: string[]): Promise<{ status: number; body: any }[]> {
  const tokens = await Promise.all(Array.from({ length: CONCURRENCY }, () => mintBuyerToken(BUYER_SECRET, uniqueId('prober'))));
  return pooled(ids, CONCURRENCY, async (id, worker) => {
    const r = await tryUpgrade(stack.wsUrl(id, tokens[worker]!));
    if (r.open) r.ws.close();
    return { status: r.status, body: r.open ? null : r.body };
  });
}

/**
 * fs_gateway_sale_entries once the reads of the last second have expired (polled: there is no event
 * for "an entry expired"): at most MAX_REAL_ENTRIES for the one real sale of this file (known id, its
 * cached read, its open frame, its sockets, its served and window state).
 */
const MAX_REAL_ENTRIES = 6;
async function settledEntries(): Promise<number> {
  const until = Date.now() + 10_000;
  for (;;) {
    const n = metricValue(await gatewayMetrics(stack), 'fs_gateway_sale_entries');
    if (n <= MAX_REAL_ENTRIES || Date.now() > until) {
      expect(n).toBeLessThanOrEqual(MAX_REAL_ENTRIES);
      return n;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe('unknown sale ids', () => {
  it(`${UNKNOWN} distinct unknown sale ids: all 404, nothing kept for them, memory flat, a real sale still works`, async () => {
    const sale = await createSale(stack, { stock: 2 });
    const early = await buyers.holding(sale.id);
    await early.b.close();
    // Warm-up (JIT, pools, buffers), then the baseline.
    const warm = await upgradeAll(Array.from({ length: 300 }, () => uniqueId('nosale')));
    expect(warm.every((r) => r.status === 404)).toBe(true);
    // The warm-up's answers expire too: the baseline is what the one real sale needs.
    const entriesBefore = await settledEntries();
    const heapBefore = await inspector.heapAfterGc();
    const rssBefore = rssBytes(stack.gateways[0]!);

    const ids = Array.from({ length: UNKNOWN }, (_, i) => `no-such-sale-${i}-${uniqueId('x').replace(/[^a-z0-9-]/g, '')}`.slice(0, 64));
    expect(new Set(ids).size).toBe(UNKNOWN);
    for (const id of ids) expect(id).toMatch(/^[a-z0-9-]{1,64}$/);
    const results = await upgradeAll(ids);
    const statuses = new Map<number, number>();
    for (const r of results) statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
    expect(Object.fromEntries(statuses)).toEqual({ 404: UNKNOWN });
    for (const r of results) expect(r.body).toEqual({ error: { code: 'sale_not_found', message: expect.any(String) } });

    // The negative answers expire after a second; then nothing is left of the 3,000 ids.
    const entries = await settledEntries();
    expect(entries).toBeLessThanOrEqual(entriesBefore);

    const heapGrowth = (await inspector.heapAfterGc()) - heapBefore;
    const rssGrowth = rssBytes(stack.gateways[0]!) - rssBefore;
    console.log(`unknown sale ids: ${UNKNOWN} upgrades refused 404; sale entries ${entriesBefore} -> ${entries}; heap in use after a full GC: growth ${(heapGrowth / 2 ** 20).toFixed(2)} MB; RSS ${(rssBefore / 2 ** 20).toFixed(1)} MB, growth ${(rssGrowth / 2 ** 20).toFixed(1)} MB`);
    expect(heapGrowth).toBeLessThan(20 * 2 ** 20);

    // The real sale still works: a reconnect gets the hold back, a second buyer gets the other unit.
    const back = await buyers.connect(sale.id, early.b.buyer);
    expect((await back.next('admitted')).holdId).toBe(early.holdId);
    await buyers.holding(sale.id);
    await expectCleanAudit(stack, sale.id, { held: 2, available: 0 });
  });
});
