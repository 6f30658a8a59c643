import { describe, expect, it } from 'vitest';
import { uniqueId } from '../tests/helpers/env.js';
import { checkedServices } from '../inventory/lua-test-support.js';
import { runScript } from '../shared/redis.js';
import { saleKeys } from './keys.js';
import { makeSale } from './lua-test-support.js';

// mark-sold-out-1, the one writer of a sale's soldOut flag: every return its header lists, and
// put-sale-1's refusal to write the flag.
const s = checkedServices();
const scripts = s.room.scripts;
const raw = (key: string, arg: string) => runScript<number>(s.redis, 'admMarkSoldOut', [key], [arg]);

describe('mark-sold-out-1.lua', () => {
  it('-1 for a missing sale, and no stub hash is made', async () => {
    const k = saleKeys(s.prefix, uniqueId('sale'));
    expect(await raw(k.sale, '1')).toBe(-1);
    expect(await scripts.markSoldOut(k, true)).toBe(false);
    expect(await s.redis.exists(k.sale)).toBe(0);
  });

  it('1 when the flag changes, 0 when it already says so; an absent flag reads as not sold out', async () => {
    const sale = await makeSale(s);
    expect(await s.redis.hexists(sale.k.sale, 'soldOut')).toBe(0);
    expect(await raw(sale.k.sale, '0')).toBe(0);
    expect(await s.redis.hexists(sale.k.sale, 'soldOut')).toBe(0);
    expect(await raw(sale.k.sale, '1')).toBe(1);
    expect(await s.redis.hget(sale.k.sale, 'soldOut')).toBe('1');
    expect(await raw(sale.k.sale, '1')).toBe(0);
    expect(await scripts.markSoldOut(sale.k, false)).toBe(true);
    expect(await s.redis.hget(sale.k.sale, 'soldOut')).toBe('0');
    expect(await scripts.markSoldOut(sale.k, false)).toBe(false);
  });

  it('an argument other than 1 or 0 is an error reply, and nothing is written', async () => {
    const sale = await makeSale(s);
    const before = await s.redis.hgetall(sale.k.sale);
    for (const bad of ['true', '', '2']) await expect(raw(sale.k.sale, bad)).rejects.toThrow(/mark-sold-out-1: ARGV\[1\] must be 1 or 0/);
    expect(await s.redis.hgetall(sale.k.sale)).toEqual(before);
  });

  it('put-sale-1 refuses a field list naming soldOut, in every mode, and writes none of it', async () => {
    const sale = await makeSale(s);
    const before = await s.redis.hgetall(sale.k.sale);
    for (const mode of ['create', 'update', 'heal'] as const) {
      await expect(scripts.putSale(sale.k, mode, { status: 'paused', soldOut: '1' })).rejects.toThrow(/soldOut is written only by mark-sold-out-1/);
    }
    expect(await s.redis.hgetall(sale.k.sale)).toEqual(before);
  });
});
