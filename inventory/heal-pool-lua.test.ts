import { describe, expect, it } from 'vitest';
import { uniqueId } from '../tests/helpers/env.js';
import { checkedServices, expectBalanced, redisNow } from './lua-test-support.js';
import type { LedgerHold } from './scripts.js';

// heal-pool-4.lua against the real Redis: every code its header lists, and each rule of what is kept.
// The pool equation is checked after every inventory script call.
const s = checkedServices();
const inv = s.inventory;

const sold = (id: string, buyer = id): LedgerHold => ({ holdId: `hold_0_${id}`, buyer, state: 'sold', orderId: `ord_${id}` });
const paying = (id: string, buyer = id, attempts = 1): LedgerHold => ({ holdId: `hold_0_${id}`, buyer, state: 'paying', attempts });

async function poolWithHolds(units: number, buyers: string[]) {
  const saleId = uniqueId('sale');
  await inv.initPools(saleId, units, 1);
  for (const b of buyers) await inv.take(saleId, 0, `hold_0_${b}`, b, 60);
  return { saleId, k: inv.keys(saleId, 0) };
}

describe('heal-pool-4.lua', () => {
  it('builds a lost pool from the ledger alone: sold and paying units, the generation, the paying index', async () => {
    const saleId = uniqueId('sale');
    const k = inv.keys(saleId, 0);
    const r = await inv.scripts.healPool(k, 5, 7, [sold('a'), paying('b', 'b', 2)]);
    expect(r).toEqual([1]);
    const [p] = await expectBalanced(inv, saleId, 1);
    expect(p).toMatchObject({ stock: 5, available: 3, held: 0, paying: 1, sold: 1 });
    expect(await inv.redis.hget(k.pool, 'gen')).toBe('7');
    expect(await inv.getHold(saleId, 'hold_0_a')).toMatchObject({ state: 'sold', orderId: 'ord_a', buyer: 'a' });
    expect(await inv.getHold(saleId, 'hold_0_b')).toMatchObject({ state: 'paying', attempts: 2 });
    expect(await inv.redis.zrange(k.paying, 0, -1)).toEqual(['hold_0_b']);
  });

  it('the ledger wins over an older copy: units Redis still shows held are sold, and cannot be sold twice', async () => {
    // A snapshot taken before a and b paid: Redis shows them held; the ledger has their orders.
    const { saleId, k } = await poolWithHolds(2, ['a', 'b']);
    expect(await inv.scripts.healPool(k, 2, 2, [sold('a'), sold('b')])).toEqual([1]);
    const [p] = await expectBalanced(inv, saleId, 1);
    expect(p).toMatchObject({ stock: 2, available: 0, held: 0, sold: 2 });
    expect(await inv.redis.zcard(k.deadlines)).toBe(0);
    // Nothing is left to take: the old copy's holds did not come back as free units.
    expect(await inv.take(saleId, 0, 'hold_0_c', 'c', 60)).toBeNull();
  });

  it('keeps holds only Redis knows while units remain (nothing lost: no buyer disturbed)', async () => {
    const { saleId, k } = await poolWithHolds(4, ['a', 'b']);
    await inv.beginPay(saleId, 'hold_0_b', 'b');
    expect(await inv.scripts.healPool(k, 4, 2, [])).toEqual([1]);
    const [p] = await expectBalanced(inv, saleId, 1);
    expect(p).toMatchObject({ stock: 4, available: 2, held: 1, paying: 1, sold: 0 });
    expect(await inv.getHold(saleId, 'hold_0_a')).toMatchObject({ state: 'held' });
    expect(await inv.redis.zrange(k.deadlines, 0, -1)).toEqual(['hold_0_a']);
  });

  it('expires what does not fit, paying kept before held, and returns each expired hold with its buyer', async () => {
    const { saleId, k } = await poolWithHolds(3, ['a', 'b', 'c']);
    await inv.beginPay(saleId, 'hold_0_c', 'c');
    // The ledger sold two units Redis lost track of (x, y): one unit is left, for the paying hold c.
    const r = await inv.scripts.healPool(k, 3, 2, [sold('x'), sold('y')]);
    expect(Array.isArray(r)).toBe(true);
    const out = r as (string | number)[];
    expect(out[0]).toBe(1);
    const expired = new Map<string, string>();
    for (let i = 1; i + 1 < out.length; i += 2) expired.set(String(out[i]), String(out[i + 1]));
    expect(expired).toEqual(new Map([['hold_0_a', 'a'], ['hold_0_b', 'b']]));
    const [p] = await expectBalanced(inv, saleId, 1);
    expect(p).toMatchObject({ stock: 3, available: 0, held: 0, paying: 1, sold: 2, expired: 2 });
    expect(await inv.getHold(saleId, 'hold_0_a')).toMatchObject({ state: 'expired' });
    expect(await inv.redis.zcard(k.deadlines)).toBe(0);
  });

  it('expires held holds whose deadline passed, and gives back a unit Redis shows sold without an order', async () => {
    const { saleId, k } = await poolWithHolds(3, ['a', 'b']);
    await inv.redis.hset(k.hold('hold_0_a'), 'deadline', (await redisNow(inv.redis)) - 1);
    // b sold in Redis, but the ledger has no order for it (a copy not to be believed).
    await inv.beginPay(saleId, 'hold_0_b', 'b');
    await inv.settle(saleId, 'hold_0_b', 'ord_b');
    const r = (await inv.scripts.healPool(k, 3, 2, [])) as (string | number)[];
    expect(r).toEqual([1, 'hold_0_a', 'a']);
    const [p] = await expectBalanced(inv, saleId, 1);
    expect(p).toMatchObject({ stock: 3, available: 3, held: 0, sold: 0, released: 1, expired: 1 });
  });

  it('-1 when the ledger has more sold and paying units than the stock, and writes nothing', async () => {
    const { saleId, k } = await poolWithHolds(2, ['a']);
    const before = await inv.redis.hgetall(k.pool);
    expect(await inv.scripts.healPool(k, 2, 9, [sold('x'), sold('y'), paying('z')])).toBe(-1);
    expect(await inv.redis.hgetall(k.pool)).toEqual(before);
    expect(await inv.redis.exists(k.hold('hold_0_x'))).toBe(0);
    await expectBalanced(inv, saleId, 1);
  });

  it('is repeatable: healing a healed pool again changes nothing', async () => {
    const { saleId, k } = await poolWithHolds(4, ['a']);
    const ledger = [sold('x'), paying('y')];
    await inv.scripts.healPool(k, 4, 3, ledger);
    const once = await inv.redis.hgetall(k.pool);
    expect(await inv.scripts.healPool(k, 4, 3, ledger)).toEqual([1]);
    expect(await inv.redis.hgetall(k.pool)).toEqual(once);
    await expectBalanced(inv, saleId, 1);
  });
});
