import { afterAll, describe, expect, it } from 'vitest';
import { createRedis } from '../shared/redis.js';
import { redisUrl, uniqueId } from '../tests/helpers/env.js';
import { useTestClock } from '../tests/helpers/test-clock.js';
import { Inventory } from './inventory-service.js';
import { checkedServices, checkEveryStep, expectBalanced, redisNow, saleWithHolds } from './lua-test-support.js';

// expire-due-2 (the sweeper) against the real Redis, with 1 s holds and Redis' own clock.
// The pool equation is checked after every inventory script call of every test.
// The scripts run on a test clock (tests/helpers/test-clock.ts): deadlines pass when a test moves it.
const s = checkedServices({ clockMs: Date.now() });
const clock = s.clock!;
/** Moves the scripts' clock strictly past `ms` (never back). */
const passed = (ms: number) => clock.set(Math.max(clock.now(), ms + 1));
const inv = s.inventory;

const sale = (units: number, buyers: string[], holdSeconds = 60) => saleWithHolds(inv, units, buyers, holdSeconds);

describe('expire-due-2.lua', () => {
  it('returns nothing before the deadline', async () => {
    const { saleId, k } = await sale(2, ['b1', 'b2']);
    expect(await inv.scripts.expireDue(k, 100)).toEqual([]);
    expect(await inv.stats(saleId, 1)).toMatchObject({ held: 2, available: 0 });
  });

  it('expires each overdue held hold exactly once and never a paying or released one', async () => {
    const { saleId, k, ids, deadlines } = await sale(5, ['b1', 'b2', 'b3', 'b4'], 1);
    await inv.beginPay(saleId, ids.b3!, 'b3');
    await inv.release(saleId, ids.b4!, 'b4');
    await expectBalanced(inv, saleId, 1);
    passed(Math.max(...Object.values(deadlines)));
    const first = await inv.scripts.expireDue(k, 100);
    // Flat {holdId, buyer, ...} in deadline order.
    expect(first).toEqual([ids.b1, 'b1', ids.b2, 'b2']);
    expect(await inv.scripts.expireDue(k, 100)).toEqual([]);
    expect((await inv.getHold(saleId, ids.b3!))?.state).toBe('paying');
    expect((await inv.getHold(saleId, ids.b4!))?.state).toBe('released');
    expect(await inv.stats(saleId, 1)).toMatchObject({ available: 4, held: 0, paying: 1, expired: 2, released: 1 });
    await expectBalanced(inv, saleId, 1);
  });

  it('concurrent sweepers: every overdue hold is returned by exactly one of them', async () => {
    const buyers = Array.from({ length: 6 }, (_, i) => `c${i}`);
    const { saleId, deadlines } = await sale(6, buyers, 1);
    passed(Math.max(...Object.values(deadlines)));
    const runs = await Promise.all(Array.from({ length: 4 }, () => inv.expireDue(saleId, 1, 2)));
    const all = runs.flat().map((e) => e.buyer).sort();
    const rest = (await inv.expireDue(saleId, 1)).map((e) => e.buyer);
    expect([...all, ...rest].sort()).toEqual(buyers);
    expect((await inv.stats(saleId, 1)).available).toBe(6);
    await expectBalanced(inv, saleId, 1);
  });

  it('takes at most ARGV[2] holds per call', async () => {
    const { saleId, k, deadlines } = await sale(3, ['l1', 'l2', 'l3'], 1);
    passed(Math.max(...Object.values(deadlines)));
    expect(await inv.scripts.expireDue(k, 2)).toHaveLength(4);
    expect(await inv.stats(saleId, 1)).toMatchObject({ held: 1, available: 2 });
    await expectBalanced(inv, saleId, 1);
    expect(await inv.scripts.expireDue(k, 2)).toHaveLength(2);
    await expectBalanced(inv, saleId, 1);
  });

  it('a paying hold is never expired by the sweeper, even long past its deadline; a decline then expires it', async () => {
    const { saleId, k, ids, deadlines } = await sale(1, ['b1'], 1);
    await inv.beginPay(saleId, ids.b1!, 'b1');
    passed(deadlines.b1! + 200);
    expect(await inv.scripts.expireDue(k, 100)).toEqual([]);
    // Even a deadline entry left behind (say, by an older script version) does not expire it.
    await inv.redis.zadd(k.deadlines, deadlines.b1!, ids.b1!);
    expect(await inv.scripts.expireDue(k, 100)).toEqual([]);
    expect(await inv.redis.zcard(k.deadlines)).toBe(0);
    expect((await inv.getHold(saleId, ids.b1!))?.state).toBe('paying');
    expect(await inv.stats(saleId, 1)).toMatchObject({ paying: 1, available: 0 });
    await expectBalanced(inv, saleId, 1);
    expect(await inv.payFailed(saleId, ids.b1!, 1)).toEqual({ state: 'expired', changed: true });
    expect(await inv.expireDue(saleId, 1)).toEqual([]);
    expect((await inv.stats(saleId, 1)).available).toBe(1);
    await expectBalanced(inv, saleId, 1);
  });

  it('a declined payment before the deadline is swept once the deadline passes', async () => {
    const { saleId, ids, deadlines } = await sale(1, ['b1'], 1);
    await inv.beginPay(saleId, ids.b1!, 'b1');
    expect(await inv.payFailed(saleId, ids.b1!, 1)).toEqual({ state: 'held', changed: true });
    expect(await inv.expireDue(saleId, 1)).toEqual([]);
    passed(deadlines.b1!);
    expect(await inv.expireDue(saleId, 1)).toEqual([{ holdId: ids.b1, buyer: 'b1' }]);
    expect(await inv.expireDue(saleId, 1)).toEqual([]);
    await expectBalanced(inv, saleId, 1);
  });
});

describe('expire-due-2.lua with a test clock (no sleeping)', () => {
  // A client of its own whose clock-reading scripts take the test's time (tests/helpers/test-clock.ts).
  const redis = createRedis(redisUrl(), { name: 'test-clock' });
  afterAll(() => redis.disconnect());
  const clockInv = (start: number) => {
    const clock = useTestClock(redis, start);
    const own = new Inventory(redis, inv.prefix);
    const report = checkEveryStep(own);
    return { clock, own, report };
  };

  it('a deadline is the test clock\'s time plus the hold; the hold expires exactly when the clock passes it, and once', async () => {
    const { clock, own, report } = clockInv(1_000_000);
    const saleId = uniqueId('sale');
    await own.initPools(saleId, 3, 1);
    const k = own.keys(saleId, 0);
    const a = own.holdId(0, 'ta');
    const b = own.holdId(0, 'tb');
    expect(await own.take(saleId, 0, a, 'ta', 30)).toEqual({ deadline: 1_030_000, created: true });
    clock.advance(10_000);
    expect(await own.take(saleId, 0, b, 'tb', 30)).toEqual({ deadline: 1_040_000, created: true });
    clock.set(1_029_999);
    expect(await own.scripts.expireDue(k, 100)).toEqual([]);
    clock.set(1_030_000);
    expect(await own.scripts.expireDue(k, 100)).toEqual([a, 'ta']);
    expect(await own.scripts.expireDue(k, 100)).toEqual([]);
    // A payment begun past the deadline finds the hold expired and gives the unit back.
    clock.advance(20_000);
    await expect(own.beginPay(saleId, b, 'tb')).rejects.toMatchObject({ code: 'hold_ended' });
    expect(await own.stats(saleId, 1)).toMatchObject({ available: 3, held: 0, expired: 2 });
    await expectBalanced(own, saleId, 1);
    expect(report.violations).toEqual([]);
    // Not Redis' clock: these deadlines are decades in the past for Redis, yet nothing expired early.
    expect(1_030_000).toBeLessThan(await redisNow(inv.redis));
  });

  it('a declined payment before the deadline is swept once the clock passes it; a paying hold never is', async () => {
    const { clock, own } = clockInv(5_000_000);
    const saleId = uniqueId('sale');
    await own.initPools(saleId, 2, 1);
    const k = own.keys(saleId, 0);
    const [x, y] = [own.holdId(0, 'dx'), own.holdId(0, 'dy')];
    await own.take(saleId, 0, x, 'dx', 1);
    await own.take(saleId, 0, y, 'dy', 1);
    await own.beginPay(saleId, x, 'dx');
    await own.beginPay(saleId, y, 'dy');
    expect(await own.payFailed(saleId, x, 1)).toEqual({ state: 'held', changed: true });
    clock.advance(60_000);
    expect(await own.scripts.expireDue(k, 100)).toEqual([x, 'dx']);
    expect((await own.getHold(saleId, y))?.state).toBe('paying');
    // Reconciliation's worklist is measured with the same clock.
    expect(await own.payingLongerThan(saleId, 1, 60_000)).toEqual([y]);
    expect(await own.payingLongerThan(saleId, 1, 60_001)).toEqual([]);
    expect(await own.payFailed(saleId, y, 1)).toEqual({ state: 'expired', changed: true });
    await expectBalanced(own, saleId, 1);
  });
});
