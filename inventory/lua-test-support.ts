import { afterAll, afterEach, expect } from 'vitest';
import type { RedisClient } from '../shared/redis.js';
import { services, uniqueId, type Services } from '../tests/helpers/env.js';
import type { Inventory, PoolStats } from './inventory-service.js';
import type { PoolKeys } from './keys.js';
import type { InventoryScripts } from './scripts.js';

/**
 * Test support for the Lua script tests (not a test file itself). The pool equation is asserted
 * per pool, not only per sale: a unit leaking from one pool into another would cancel out in a sum.
 */
export async function expectBalanced(inv: Inventory, saleId: string, pools: number): Promise<PoolStats[]> {
  const stats = await inv.poolStats(saleId, pools);
  const holds = await inv.listHolds(saleId, pools);
  for (let p = 0; p < pools; p++) {
    const s = stats[p]!;
    expect(await inv.redis.exists(inv.keys(saleId, p).pool), `pool ${p} exists`).toBe(1);
    for (const f of ['stock', 'available', 'held', 'paying', 'sold'] as const) {
      expect(s[f], `pool ${p} ${f} >= 0`).toBeGreaterThanOrEqual(0);
    }
    expect(s.available + s.held + s.paying + s.sold, `pool ${p}: stock == available + held + paying + sold`).toBe(s.stock);
    // The counters agree with the holds themselves (paying/sold may also count ledger units without a hold).
    const mine = holds.filter((h) => h.pool === p);
    expect(s.held, `pool ${p} held == holds in state held`).toBe(mine.filter((h) => h.state === 'held').length);
    expect(s.paying, `pool ${p} paying >= holds in state paying`).toBeGreaterThanOrEqual(mine.filter((h) => h.state === 'paying').length);
    expect(s.sold, `pool ${p} sold >= holds in state sold`).toBeGreaterThanOrEqual(mine.filter((h) => h.state === 'sold').length);
  }
  return stats;
}

/**
 * Makes every inventory script call of `inv` (and so of every service using it) check its pool's
 * equation right after it returns, so the invariant is asserted after every step of every test, not
 * only at the end. One HMGET is atomic, so the check is sound even while other calls race.
 * Returns a report to assert at the end of the file: how many steps were checked and what failed
 * (a failure also rejects the call itself).
 */
export function checkEveryStep(inv: Inventory): { steps: number; violations: string[] } {
  const report = { steps: 0, violations: [] as string[] };
  const scripts = inv.scripts as unknown as Record<string, unknown>;
  const names: (keyof InventoryScripts)[] = ['rebuildPool', 'healPool', 'take', 'voidHold', 'beginPay', 'settle', 'payFailed', 'release', 'expireDue', 'restock'];
  for (const name of names) {
    const orig = (scripts[name] as (k: PoolKeys, ...rest: unknown[]) => Promise<unknown>).bind(inv.scripts);
    Object.defineProperty(scripts, name, {
      configurable: true,
      value: async (k: PoolKeys, ...rest: unknown[]) => {
        const reply = await orig(k, ...rest);
        const [counters, indexed] = (await inv.redis.multi().hmget(k.pool, 'stock', 'available', 'held', 'paying', 'sold').zcard(k.paying).exec())!;
        const [stock, available, held, paying, sold] = (counters![1] as (string | null)[]).map(Number);
        report.steps++;
        // Reconciliation's worklist must hold exactly the paying holds, or a stuck payment goes unseen.
        if (Number(indexed![1]) !== paying) {
          const msg = `${name} broke ${k.paying}: ${indexed![1]} indexed, ${paying} paying`;
          report.violations.push(msg);
          throw new Error(msg);
        }
        // A missing pool (a -1 reply) has nothing to check: every field reads as 0.
        const terms = [available!, held!, paying, sold!];
        if (stock !== available! + held! + paying + sold! || terms.some((t) => t < 0 || Number.isNaN(t))) {
          const msg = `${name} broke ${k.pool}: stock ${stock} != available ${available} + held ${held} + paying ${paying} + sold ${sold}`;
          report.violations.push(msg);
          throw new Error(msg);
        }
        return reply;
      },
    });
  }
  return report;
}

/** A one-pool sale with `units` units and one hold per buyer named, each held for `holdSeconds`. */
export async function saleWithHolds(inv: Inventory, units: number, buyers: string[], holdSeconds = 60) {
  const saleId = uniqueId('sale');
  await inv.initPools(saleId, units, 1);
  const ids: Record<string, string> = {};
  const deadlines: Record<string, number> = {};
  for (const b of buyers) {
    ids[b] = inv.holdId(0, b.replace(/-/g, '_'));
    const t = await inv.take(saleId, 0, ids[b], b, holdSeconds);
    deadlines[b] = t!.deadline;
  }
  return { saleId, k: inv.keys(saleId, 0), ids, deadlines };
}

/** Redis' own clock in ms: the scripts compare deadlines with it, so tests wait on it too. */
export async function redisNow(redis: RedisClient): Promise<number> {
  const [s, us] = await redis.time();
  return Number(s) * 1000 + Math.floor(Number(us) / 1000);
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * Waits until Redis' own clock is strictly past `ms`: for the few tests whose code under test does not
 * run on a test clock (reconciliation with the settlement fixture, a second client). Everything else
 * moves a test clock instead (checkedServices({ clockMs })).
 */
export async function waitPast(redis: RedisClient, ms: number, timeoutMs = 5000): Promise<void> {
  await expect.poll(() => redisNow(redis), { timeout: timeoutMs, interval: 20, message: `redis clock past ${ms}` }).toBeGreaterThan(ms);
}

/**
 * The services of one Lua test file, with the pool equation checked after every inventory script
 * call of every test (and a check at the end that some steps were checked at all). `clockMs`: the
 * scripts run on a test clock (tests/helpers/test-clock.ts) instead of Redis' own.
 */
export function checkedServices(o: { clockMs?: number } = {}): Services {
  const s = services(undefined, undefined, o);
  const steps = checkEveryStep(s.inventory);
  afterEach(() => expect(steps.violations).toEqual([]));
  afterAll(async () => {
    await s.close();
    expect(steps.steps).toBeGreaterThan(0);
  });
  return s;
}
