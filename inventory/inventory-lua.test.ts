import { describe, expect, it } from 'vitest';
import { createRedis } from '../shared/redis.js';
import { redisUrl, testPrefix, uniqueId } from '../tests/helpers/env.js';
import { Inventory } from './inventory-service.js';
import { checkEveryStep, checkedServices, expectBalanced, redisNow, waitPast } from './lua-test-support.js';

// rebuild-pool-3 (which also creates new pools), take-4, void-hold-1 and restock-1 against the real Redis; every code their headers list.
// The pool equation is checked after every inventory script call of every test.
const s = checkedServices();
const inv = s.inventory;

async function pool(units: number) {
  const saleId = uniqueId('sale');
  const k = inv.keys(saleId, 0);
  expect(await inv.scripts.rebuildPool(k, units, [])).toBe(1);
  return { saleId, k };
}

describe('creating a pool (rebuild-pool-3.lua with an empty ledger)', () => {
  it('creates the pool once (1) and changes nothing when called again (0)', async () => {
    const { saleId, k } = await pool(5);
    expect(await inv.redis.hgetall(k.pool)).toEqual({
      stock: '5', available: '5', held: '0', paying: '0', sold: '0', expired: '0', released: '0',
    });
    await inv.take(saleId, 0, inv.holdId(0, 'a'), 'buyer-a', 60);
    expect(await inv.scripts.rebuildPool(k, 99, [])).toBe(0);
    expect(await inv.stats(saleId, 1)).toMatchObject({ stock: 5, available: 4, held: 1, sold: 0, paying: 0 });
    await expectBalanced(inv, saleId, 1);
  });

  it('Inventory.initPools splits the stock over the pools, once', async () => {
    const saleId = uniqueId('sale');
    await inv.initPools(saleId, 5, 2);
    const [p0, p1] = await expectBalanced(inv, saleId, 2);
    expect(p0).toMatchObject({ stock: 3, available: 3 });
    expect(p1).toMatchObject({ stock: 2, available: 2 });
    await inv.initPools(saleId, 50, 2);
    expect(await inv.stats(saleId, 2)).toMatchObject({ stock: 5, available: 5 });
  });
});

describe('rebuild-pool-3.lua', () => {
  const ledger = [
    { holdId: 'hold_0_s1', buyer: 'b1', state: 'sold' as const, orderId: 'ord_1' },
    { holdId: 'hold_0_s2', buyer: 'b2', state: 'sold' as const, orderId: 'ord_2' },
    { holdId: 'hold_0_p1', buyer: 'b3', state: 'paying' as const },
  ];

  it('recreates the pool with the ledger numbers (1): sold and paying units out of available, each with its hold', async () => {
    const saleId = uniqueId('sale');
    const k = inv.keys(saleId, 0);
    expect(await inv.scripts.rebuildPool(k, 10, ledger)).toBe(1);
    expect(await inv.stats(saleId, 1)).toMatchObject({ stock: 10, available: 7, held: 0, paying: 1, sold: 2 });
    expect(await inv.getHold(saleId, 'hold_0_s1')).toMatchObject({ buyer: 'b1', state: 'sold', orderId: 'ord_1' });
    expect(await inv.getHold(saleId, 'hold_0_p1')).toMatchObject({ buyer: 'b3', state: 'paying' });
    expect((await inv.redis.smembers(k.holds)).sort()).toEqual(['hold_0_p1', 'hold_0_s1', 'hold_0_s2']);
    expect(await inv.redis.zcard(k.deadlines)).toBe(0);
    // Paying holds go into the paying index at score 0: reconciliation looks at them first.
    expect(await inv.redis.zrange(k.paying, 0, -1, 'WITHSCORES')).toEqual(['hold_0_p1', '0']);
    await expectBalanced(inv, saleId, 1);
    // The restored holds finish like any other: settled is idempotent, a failed payment gives the unit back.
    expect(await inv.settle(saleId, 'hold_0_s1', 'ord_other')).toEqual({ orderId: 'ord_1', changed: false });
    expect(await inv.payFailed(saleId, 'hold_0_p1', 1)).toEqual({ state: 'expired', changed: true });
    expect(await inv.redis.zcard(k.paying)).toBe(0);
    expect(await inv.stats(saleId, 1)).toMatchObject({ available: 8, paying: 0, sold: 2 });
    await expectBalanced(inv, saleId, 1);
  });

  it('changes nothing when the pool exists (0)', async () => {
    const { k } = await pool(4);
    const before = await inv.redis.hgetall(k.pool);
    expect(await inv.scripts.rebuildPool(k, 10, ledger)).toBe(0);
    expect(await inv.redis.hgetall(k.pool)).toEqual(before);
    expect(await inv.redis.exists(k.hold('hold_0_s1'), k.holds)).toBe(0);
  });

  it('-1 when the ledger has more units than the stock, and writes nothing', async () => {
    const k = inv.keys(uniqueId('sale'), 0);
    expect(await inv.scripts.rebuildPool(k, 2, ledger)).toBe(-1);
    expect(await inv.redis.exists(k.pool, k.holds, k.hold('hold_0_s1'), k.hold('hold_0_p1'))).toBe(0);
  });

  it('Inventory.healPools places each ledger unit in the pool its hold id names', async () => {
    const saleId = uniqueId('sale');
    await inv.healPools(saleId, [5, 3], [
      { holdId: 'hold_1_a', buyer: 'a', state: 'sold', orderId: 'ord_a' },
      { holdId: 'hold_1_b', buyer: 'b', state: 'paying' },
      { holdId: 'hold_0_c', buyer: 'c', state: 'sold', orderId: 'ord_c' },
    ], 1);
    const [p0, p1] = await expectBalanced(inv, saleId, 2);
    expect(p0).toMatchObject({ stock: 5, sold: 1, paying: 0, available: 4 });
    expect(p1).toMatchObject({ stock: 3, sold: 1, paying: 1, available: 1 });
  });
});

describe('take-4.lua', () => {
  it('-1 when the pool is missing, and creates nothing', async () => {
    const k = inv.keys(uniqueId('sale'), 0);
    expect(await inv.scripts.take(k, 'hold_0_x', 'buyer', 60)).toBe(-1);
    expect(await inv.redis.exists(k.pool, k.hold('hold_0_x'), k.deadlines, k.holds)).toBe(0);
  });

  it('{deadline, 1}: one unit moves available -> held, with a hold, a deadline entry and an audit entry', async () => {
    const { saleId, k } = await pool(3);
    const id = inv.holdId(0, 'h1');
    const before = await redisNow(inv.redis);
    const r = await inv.scripts.take(k, id, 'buyer-1', 2);
    const after = await redisNow(inv.redis);
    expect(Array.isArray(r)).toBe(true);
    const [deadline, created] = r as [number, number];
    expect(created).toBe(1);
    expect(deadline).toBeGreaterThanOrEqual(before + 2000);
    expect(deadline).toBeLessThanOrEqual(after + 2000);
    expect(await inv.getHold(saleId, id)).toEqual({ holdId: id, pool: 0, buyer: 'buyer-1', state: 'held', deadline, attempts: 0 });
    expect(Number(await inv.redis.zscore(k.deadlines, id))).toBe(deadline);
    expect(await inv.redis.smembers(k.holds)).toEqual([id]);
    expect(await inv.stats(saleId, 1)).toMatchObject({ stock: 3, available: 2, held: 1 });
    await expectBalanced(inv, saleId, 1);
  });

  it('is idempotent per hold id: a retried take returns {same deadline, 0} and takes nothing twice', async () => {
    const { saleId, k } = await pool(1);
    const id = inv.holdId(0, 'retry');
    const first = (await inv.scripts.take(k, id, 'buyer-1', 60)) as [number, number];
    // The pool is empty now, yet the retry answers with the existing hold, not -2.
    const again = (await inv.scripts.take(k, id, 'buyer-1', 60)) as [number, number];
    expect(again).toEqual([first[0], 0]);
    expect(await inv.take(saleId, 0, id, 'buyer-1', 60)).toEqual({ deadline: first[0], created: false });
    expect(await inv.stats(saleId, 1)).toMatchObject({ available: 0, held: 1 });
    expect(await inv.redis.zcard(k.deadlines)).toBe(1);
    await expectBalanced(inv, saleId, 1);
  });

  it('-2 on a pool of zero units: nothing changes and Inventory.take answers null', async () => {
    const { saleId, k } = await pool(0);
    expect(await inv.scripts.take(k, inv.holdId(0, 'z'), 'buyer', 60)).toBe(-2);
    expect(await inv.take(saleId, 0, inv.holdId(0, 'z2'), 'buyer', 60)).toBeNull();
    expect(await inv.redis.exists(k.hold(inv.holdId(0, 'z')), k.deadlines, k.holds)).toBe(0);
    expect(await inv.stats(saleId, 1)).toMatchObject({ stock: 0, available: 0, held: 0 });
    await expectBalanced(inv, saleId, 1);
  });

  it('-2 for a hold id voided after an earlier take of it found the pool empty, even once units are back', async () => {
    const { saleId, k } = await pool(0);
    const id = inv.holdId(0, 'late');
    expect(await inv.take(saleId, 0, id, 'buyer', 60)).toBeNull();
    expect(await inv.voidHold(saleId, 0, id)).toBeNull();
    await inv.restock(saleId, 1, 2);
    // A paused admitter retrying this take after the buyer was re-queued gets nothing.
    expect(await inv.scripts.take(k, id, 'buyer', 60)).toBe(-2);
    expect(await inv.stats(saleId, 1)).toMatchObject({ stock: 2, available: 2, held: 0 });
    // Other ids take the units as usual.
    expect((await inv.take(saleId, 0, inv.holdId(0, 'other'), 'buyer-2', 60))?.created).toBe(true);
    await expectBalanced(inv, saleId, 1);
  });

  it('last unit: two takers on two connections race for one unit and exactly one wins', async () => {
    const { saleId, k } = await pool(1);
    const other = createRedis(redisUrl(), { name: 'test-racer' });
    try {
      const inv2 = new Inventory(other, inv.prefix);
      const steps2 = checkEveryStep(inv2);
      const results = await Promise.allSettled([
        inv.scripts.take(k, inv.holdId(0, 'a'), 'buyer-a', 60),
        inv2.scripts.take(k, inv.holdId(0, 'b'), 'buyer-b', 60),
      ]);
      const values = results.map((r) => (r.status === 'fulfilled' ? r.value : r.reason));
      expect(values.filter((v) => Array.isArray(v) && v[1] === 1)).toHaveLength(1);
      expect(values.filter((v) => v === -2)).toHaveLength(1);
      expect((await inv.listHolds(saleId, 1)).map((h) => h.state)).toEqual(['held']);
      expect(await inv.stats(saleId, 1)).toMatchObject({ available: 0, held: 1 });
      await expectBalanced(inv, saleId, 1);
      expect(steps2).toEqual({ steps: 1, violations: [] });
    } finally {
      other.disconnect();
    }
  });

  it('many takers, few units: exactly `units` holds are created', async () => {
    const { saleId } = await pool(3);
    const results = await Promise.allSettled(
      Array.from({ length: 25 }, (_, i) => inv.take(saleId, 0, inv.holdId(0, `m${i}`), `buyer-${i}`, 60)),
    );
    const won = results.filter((r) => r.status === 'fulfilled' && r.value?.created === true);
    const empty = results.filter((r) => r.status === 'fulfilled' && r.value === null);
    expect(won).toHaveLength(3);
    expect(empty).toHaveLength(22);
    await expectBalanced(inv, saleId, 1);
  });

  it('works with a key prefix that itself contains ":h:" (the hold id is the last key segment)', async () => {
    const inv2 = new Inventory(inv.redis, `${testPrefix()}h:`);
    const steps2 = checkEveryStep(inv2);
    const saleId = uniqueId('sale');
    const k = inv2.keys(saleId, 0);
    await inv2.initPools(saleId, 2, 1);
    const id = inv2.holdId(0, 'p');
    await inv2.take(saleId, 0, id, 'buyer', 60);
    expect(await inv2.redis.zrange(k.deadlines, 0, -1)).toEqual([id]);
    expect(await inv2.redis.smembers(k.holds)).toEqual([id]);
    expect(await inv2.release(saleId, id, 'buyer')).toBe('released');
    expect(await inv2.redis.zcard(k.deadlines)).toBe(0);
    // The sweeper finds the hold from its id: a wrong id would leave the unit held for ever.
    const short = inv2.holdId(0, 'q');
    const t = await inv2.take(saleId, 0, short, 'buyer-q', 1);
    await waitPast(inv2.redis, t!.deadline);
    expect(await inv2.expireDue(saleId, 1)).toEqual([{ holdId: short, buyer: 'buyer-q' }]);
    expect(await inv2.stats(saleId, 1)).toMatchObject({ available: 2, held: 0, expired: 1, released: 1 });
    await expectBalanced(inv2, saleId, 1);
    expect(steps2.violations).toEqual([]);
  });
});

describe('void-hold-1.lua', () => {
  it('0: the id is void, and nothing else changes (no counter, no deadline, not a hold anyone sees)', async () => {
    const { saleId, k } = await pool(1);
    const id = inv.holdId(0, 'gone');
    const before = await inv.stats(saleId, 1);
    expect(await inv.scripts.voidHold(k, id)).toBe(0);
    expect(await inv.redis.hgetall(k.hold(id))).toEqual({ state: 'void' });
    expect(await inv.stats(saleId, 1)).toEqual(before);
    expect(await inv.getHold(saleId, id)).toBeNull();
    expect(await inv.listHolds(saleId, 1)).toEqual([]);
    expect(await inv.redis.exists(k.deadlines, k.holds)).toBe(0);
    expect(await inv.scripts.take(k, id, 'buyer', 60)).toBe(-2);
    // Already void: 0 again.
    expect(await inv.scripts.voidHold(k, id)).toBe(0);
    await expectBalanced(inv, saleId, 1);
  });

  it('{deadline, 0} when a unit was taken under the id first: the hold stays, as a repeated take would answer', async () => {
    const { saleId, k } = await pool(1);
    const id = inv.holdId(0, 'first');
    const [deadline] = (await inv.scripts.take(k, id, 'buyer', 60)) as [number, number];
    expect(await inv.scripts.voidHold(k, id)).toEqual([deadline, 0]);
    expect(await inv.voidHold(saleId, 0, id)).toEqual({ deadline, created: false });
    expect(await inv.getHold(saleId, id)).toMatchObject({ state: 'held', buyer: 'buyer', deadline });
    expect(await inv.stats(saleId, 1)).toMatchObject({ available: 0, held: 1 });
    await expectBalanced(inv, saleId, 1);
  });
});

describe('the equation check itself', () => {
  it('rejects a script call that leaves a pool unbalanced, and expectBalanced fails on it', async () => {
    const own = new Inventory(inv.redis, inv.prefix);
    const report = checkEveryStep(own);
    const saleId = uniqueId('sale');
    await own.initPools(saleId, 2, 1);
    // Corrupt the pool behind the scripts' back: one unit too many.
    await own.redis.hincrby(own.keys(saleId, 0).pool, 'available', 1);
    await expect(own.restock(saleId, 1, 1)).rejects.toThrow(/stock 3 != available 4/);
    expect(report.violations).toHaveLength(1);
    await expect(expectBalanced(own, saleId, 1)).rejects.toThrow(/stock == available/);
  });
});

describe('restock-1.lua', () => {
  it('-1 when the pool is missing, and creates nothing', async () => {
    const k = inv.keys(uniqueId('sale'), 0);
    expect(await inv.scripts.restock(k, 5)).toBe(-1);
    expect(await inv.redis.exists(k.pool)).toBe(0);
  });

  it('-7 for zero, negative or fractional units, and nothing changes', async () => {
    const { saleId, k } = await pool(2);
    for (const bad of [0, -3, 1.5]) expect(await inv.scripts.restock(k, bad)).toBe(-7);
    expect(await inv.stats(saleId, 1)).toMatchObject({ stock: 2, available: 2 });
  });

  it('restock while sold out grows available and stock together and the new units can be taken', async () => {
    const { saleId, k } = await pool(2);
    for (const b of ['a', 'b']) {
      const id = inv.holdId(0, b);
      await inv.take(saleId, 0, id, b, 60);
      await inv.beginPay(saleId, id, b);
      await inv.settle(saleId, id, `ord_${b}`);
      await expectBalanced(inv, saleId, 1);
    }
    expect(await inv.take(saleId, 0, inv.holdId(0, 'c'), 'c', 60)).toBeNull();
    expect(await inv.scripts.restock(k, 3)).toBe(3);
    expect(await inv.stats(saleId, 1)).toMatchObject({ stock: 5, available: 3, sold: 2 });
    await expectBalanced(inv, saleId, 1);
    expect((await inv.take(saleId, 0, inv.holdId(0, 'c'), 'c', 60))?.created).toBe(true);
    await expectBalanced(inv, saleId, 1);
  });

  it('returns the available count after, with held and paying units untouched', async () => {
    const { saleId, k } = await pool(3);
    await inv.take(saleId, 0, inv.holdId(0, 'h'), 'h', 60);
    await inv.take(saleId, 0, inv.holdId(0, 'p'), 'p', 60);
    await inv.beginPay(saleId, inv.holdId(0, 'p'), 'p');
    expect(await inv.scripts.restock(k, 4)).toBe(5);
    expect(await inv.stats(saleId, 1)).toMatchObject({ stock: 7, available: 5, held: 1, paying: 1 });
    await expectBalanced(inv, saleId, 1);
  });

  it('Inventory.restock splits the units over the pools', async () => {
    const saleId = uniqueId('sale');
    await inv.initPools(saleId, 4, 3);
    await inv.restock(saleId, 3, 5);
    const stats = await expectBalanced(inv, saleId, 3);
    expect(stats.map((p) => p.stock)).toEqual([4, 3, 2]);
    expect(stats.map((p) => p.available)).toEqual([4, 3, 2]);
  });
});
