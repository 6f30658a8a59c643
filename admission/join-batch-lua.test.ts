import { describe, expect, it } from 'vitest';
import { uniqueId } from '../tests/helpers/env.js';
import { checkedServices, expectBalanced } from '../inventory/lua-test-support.js';
import { saleKeys } from './keys.js';
import type { JoinItem } from './scripts.js';
import { admitAndHold, admitWhenFilled, hashOrder, joinAll, makeSale, record, type TestSale, type TestSaleOptions, waitingLine } from './lua-test-support.js';
import { recordOrder } from './waiting-room.js';

// join-4 with many buyers in one call: each item answered as the same calls one by one would be.
const s = checkedServices();
const scripts = s.room.scripts;

const item = (buyer: string, mode: 'join' | 'status' = 'join', endedHoldId = ''): JoinItem => ({ buyer, mode, endedHoldId });

/** Everything of a sale's waiting room that a join can change, to compare two sales. */
async function roomState(sale: TestSale) {
  const buyers = await s.redis.hgetall(sale.k.buyers);
  return {
    buyers,
    line: await waitingLine(s, sale.k),
    rawLine: await s.redis.lrange(sale.k.line, 0, -1),
    pre: await s.redis.zrange(sale.k.pre, 0, -1),
    sale: await s.redis.hmget(sale.k.sale, 'seq', 'waiting', 'served'),
  };
}

/** Hold ids end in a random nonce per admit call: the two sales differ only there. */
const sameNonce = (x: unknown) => JSON.parse(JSON.stringify(x).replace(/(hold_\d+_\d+)_[0-9a-f]+/g, '$1_N'));

/**
 * Runs `setup` on two equal sales, then the items as one batch on the first and one call each on
 * the second: replies and the resulting state must be the same.
 */
async function batchEqualsOneByOne(over: Partial<TestSaleOptions>, setup: (sale: TestSale) => Promise<void>, items: JoinItem[]) {
  const [batched, single] = [await makeSale(s, over), await makeSale(s, over)];
  // Both sales share the pre-queue key, so a shuffle gives the same order in both.
  await scripts.putSale(single.k, 'update', { prequeueKey: batched.prequeueKey });
  single.prequeueKey = batched.prequeueKey;
  await setup(batched);
  await setup(single);
  const replies = await scripts.joinMany(batched.k, items);
  const one: unknown[] = [];
  for (const it of items) one.push(await scripts.join(single.k, it.buyer, it.mode, it.endedHoldId));
  expect(sameNonce(replies)).toEqual(sameNonce(one));
  expect(sameNonce(await roomState(batched))).toEqual(sameNonce(await roomState(single)));
  return { replies: replies as unknown[], sale: batched };
}

describe('join-4.lua, a batch of buyers', () => {
  it('-1 for the whole batch when the sale is missing; nothing is created', async () => {
    const k = saleKeys(s.prefix, uniqueId('sale'));
    expect(await scripts.joinMany(k, [item('a'), item('b', 'status')])).toBe(-1);
    expect(await s.redis.exists(k.sale, k.buyers, k.line, k.pre)).toBe(0);
  });

  it('mixed states in one batch: new, waiting, admitting, holding, left, done, unknown; each its own answer', async () => {
    const holds: Record<string, string> = {};
    const admitting: Record<string, string> = {};
    const setup = async (sale: TestSale) => {
      await joinAll(s, sale, ['hold', 'adm', 'w1', 'gone']);
      // 'hold' is admitted and holds; then 'adm' is admitted and stays admitting.
      holds[sale.id] = (await admitAndHold(s, sale, 1)).list[0]!.holdId;
      const adm = await admitWhenFilled(s, sale, 1);
      expect(adm.list[0]!.buyer).toBe('adm');
      admitting[sale.id] = adm.list[0]!.holdId;
      await scripts.leave(sale.k, 'gone');
      await recordOrder(s.redis, s.prefix, sale.id, 'bought', 'hold_0_bought');
    };
    const { replies, sale } = await batchEqualsOneByOne({ perBuyerLimit: 1 }, setup, [
      item('new1'), item('w1'), item('adm'), item('hold'), item('gone', 'status'), item('gone'), item('bought'),
      item('nobody', 'status'), item('new2'), item('w1', 'status'),
    ]);
    expect(replies).toEqual([
      ['waiting', 5, 2], ['waiting', 3, 2], ['admitting', admitting[sale.id], 2], ['holding', holds[sale.id]], ['left'], ['waiting', 6, 2], ['done', 1],
      ['none'], ['waiting', 7, 2], ['waiting', 3, 2],
    ]);
    expect(await waitingLine(s, sale.k)).toEqual(['w1', '3', 'new1', '5', 'gone', '6', 'new2', '7']);
    await expectBalanced(s.inventory, sale.id, sale.pools);
  });

  it('the holder of an ended hold takes a new place in a batch only by naming that hold', async () => {
    const sale = await makeSale(s, { perBuyerLimit: 1 });
    await joinAll(s, sale, ['h']);
    const { holdId } = (await admitAndHold(s, sale, 1)).list[0]!;
    await s.inventory.release(sale.id, holdId, 'h');
    expect(await scripts.joinMany(sale.k, [item('h'), item('h', 'join', 'hold_0_other'), item('h', 'join', holdId), item('h', 'join', holdId)]))
      .toEqual([['holding', holdId], ['holding', holdId], ['waiting', 2, 1], ['waiting', 2, 1]]);
    expect(await waitingLine(s, sale.k)).toEqual(['h', '2']);
  });

  it('one buyer named many times in one batch gets one place, the same answer every time', async () => {
    const { replies, sale } = await batchEqualsOneByOne({}, async () => {}, [
      item('dup', 'status'), item('dup'), item('x'), item('dup'), item('dup', 'status'), item('dup'),
    ]);
    expect(replies).toEqual([['none'], ['waiting', 1, 0], ['waiting', 2, 0], ['waiting', 1, 0], ['waiting', 1, 0], ['waiting', 1, 0]]);
    expect(await s.redis.lrange(sale.k.line, 0, -1)).toEqual(['1:dup', '2:x']);
    expect(await s.redis.hget(sale.k.sale, 'waiting')).toBe('2');
    expect(await record(s, sale.k, 'dup')).toEqual({ state: 'waiting', ticket: '1' });
  });

  it('sold out: waiters are told so, new buyers get -6 in their own slot, statuses still answer', async () => {
    const { replies } = await batchEqualsOneByOne({}, async (sale) => {
      await joinAll(s, sale, ['w']);
      await scripts.markSoldOut(sale.k, true);
    }, [item('late'), item('w'), item('late', 'status'), item('w', 'status'), item('late2')]);
    expect(replies).toEqual([-6, ['sold_out'], ['none'], ['sold_out'], -6]);
  });

  it('ended: waiters get ended, new buyers -2, nobody gets a place', async () => {
    const { replies, sale } = await batchEqualsOneByOne({}, async (sale) => {
      await joinAll(s, sale, ['w']);
      await scripts.putSale(sale.k, 'update', { status: 'ended' });
    }, [item('new'), item('w'), item('w', 'status'), item('new', 'status')]);
    expect(replies).toEqual([-2, ['ended'], ['ended'], ['none']]);
    expect(await s.redis.hexists(sale.k.buyers, 'new')).toBe(0);
  });

  it('pre-queue: each buyer answered with their rank at their turn in the batch; the order is the keyed hash', async () => {
    const future = Date.now() + 600_000;
    const buyers = Array.from({ length: 12 }, (_, i) => `pq-${i}`);
    const { replies, sale } = await batchEqualsOneByOne({ startsAt: future, endsAt: future + 60_000 }, async (sale) => {
      await joinAll(s, sale, ['early']);
    }, [...buyers.map((b) => item(b)), item('early'), item('pq-3'), item('pq-3', 'status')]);
    expect(replies.every((r) => Array.isArray(r) && r[0] === 'pre')).toBe(true);
    expect(await s.redis.zrange(sale.k.pre, 0, -1)).toEqual(hashOrder(sale.prequeueKey, [...buyers, 'early']));
    const final = hashOrder(sale.prequeueKey, [...buyers, 'early']);
    expect(replies.at(-1)).toEqual(['pre', final.indexOf('pq-3') + 1]);
    expect(await s.redis.hget(sale.k.sale, 'seq')).toBeNull();
  });

  it('a batch larger than one HSET/RPUSH slice (2,500 buyers) is written whole and in order', async () => {
    const sale = await makeSale(s);
    const buyers = Array.from({ length: 2500 }, (_, i) => `big-${i}`);
    const replies = (await scripts.joinMany(sale.k, buyers.map((b) => item(b)))) as unknown[];
    expect(replies).toEqual(buyers.map((_, i) => ['waiting', i + 1, 0]));
    expect(await s.redis.hlen(sale.k.buyers)).toBe(2500);
    expect(await s.redis.llen(sale.k.line)).toBe(2500);
    expect(await s.redis.lrange(sale.k.line, 2499, 2499)).toEqual(['2500:big-2499']);
    expect(await s.redis.hmget(sale.k.sale, 'seq', 'waiting')).toEqual(['2500', '2500']);
  });
});
