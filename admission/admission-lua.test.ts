import { describe, expect, it } from 'vitest';
import { uniqueId } from '../tests/helpers/env.js';
import { checkedServices, expectBalanced, redisNow } from '../inventory/lua-test-support.js';
import { runScript } from '../shared/redis.js';
import { AdmissionError } from './errors.js';
import { saleKeys } from './keys.js';
import { admitAndHold, hashOrder, joinAll, makeSale, recordField, waitingLine, waitingSize, waitingTicket } from './lua-test-support.js';
import { recordOrder } from './waiting-room.js';

// join-4, put-sale-1 and lease-2 against the real Redis; every code their headers list.
// The pool equation is checked after every inventory script call of every test.
const s = checkedServices();
const scripts = s.room.scripts;

const code = (p: Promise<unknown>) => p.then(() => 'resolved', (e: unknown) => (e instanceof AdmissionError ? e.code : String(e)));

describe('join-4.lua', () => {
  it('-1 for a missing sale in both modes, and nothing is created', async () => {
    const k = saleKeys(s.prefix, uniqueId('sale'));
    expect(await scripts.join(k, 'b1', 'join')).toBe(-1);
    expect(await scripts.join(k, 'b1', 'status')).toBe(-1);
    expect(await code(s.room.join(uniqueId('sale'), 'b1'))).toBe('sale_not_found');
    expect(await s.redis.exists(k.sale, k.buyers, k.line, k.pre, k.requeued)).toBe(0);
  });

  it("status of a buyer with no record is {'none'} and gives no place", async () => {
    const sale = await makeSale(s);
    expect(await scripts.join(sale.k, 'b1', 'status')).toEqual(['none']);
    expect(await s.redis.hexists(sale.k.buyers, 'b1')).toBe(0);
    expect(await waitingSize(s, sale.k)).toBe(0);
  });

  it('a new place after the start is an arrival-order ticket; a second join returns the same place', async () => {
    const sale = await makeSale(s);
    expect(await joinAll(s, sale, ['a', 'b', 'c'])).toEqual([['waiting', 1, 0], ['waiting', 2, 0], ['waiting', 3, 0]]);
    expect(await scripts.join(sale.k, 'b', 'join')).toEqual(['waiting', 2, 0]);
    expect(await scripts.join(sale.k, 'b', 'status')).toEqual(['waiting', 2, 0]);
    expect(await waitingLine(s, sale.k)).toEqual(['a', '1', 'b', '2', 'c', '3']);
    expect(await s.redis.hget(sale.k.sale, 'seq')).toBe('3');
    expect(await s.room.join(sale.id, 'c')).toEqual({ kind: 'waiting', ticket: 3, served: 0 });
  });

  it('concurrent joins of one buyer give one place', async () => {
    const sale = await makeSale(s);
    const r = await Promise.all(Array.from({ length: 8 }, () => scripts.join(sale.k, 'dup', 'join')));
    expect(new Set(r.map((x) => JSON.stringify(x))).size).toBe(1);
    expect(await waitingSize(s, sale.k)).toBe(1);
  });

  it('before startsAt: the pre-queue order is a keyed hash of the buyer, not the arrival order', async () => {
    const key = 'a'.repeat(32);
    const buyers = Array.from({ length: 12 }, (_, i) => `buyer-${i}`);
    const future = Date.now() + 600_000;
    const inOrder = await makeSale(s, { startsAt: future, endsAt: future + 60_000, prequeueKey: key });
    const reversed = await makeSale(s, { startsAt: future, endsAt: future + 60_000, prequeueKey: key });
    const otherKey = await makeSale(s, { startsAt: future, endsAt: future + 60_000, prequeueKey: 'b'.repeat(32) });
    for (const r of await joinAll(s, inOrder, buyers)) expect(r[0]).toBe('pre');
    await joinAll(s, reversed, [...buyers].reverse());
    await joinAll(s, otherKey, buyers);
    const expected = hashOrder(key, buyers);
    expect(await s.redis.zrange(inOrder.k.pre, 0, -1)).toEqual(expected);
    expect(await s.redis.zrange(reversed.k.pre, 0, -1)).toEqual(expected);
    expect(await s.redis.zrange(otherKey.k.pre, 0, -1)).toEqual(hashOrder('b'.repeat(32), buyers));
    expect(await s.redis.zrange(otherKey.k.pre, 0, -1)).not.toEqual(expected);
    // The rank is the place in that order; joining again keeps it; nobody has a ticket yet.
    for (const [i, b] of expected.entries()) {
      expect(await scripts.join(inOrder.k, b, 'status')).toEqual(['pre', i + 1]);
      expect(await scripts.join(inOrder.k, b, 'join')).toEqual(['pre', i + 1]);
    }
    expect(await s.redis.zcard(inOrder.k.pre)).toBe(12);
    expect(await waitingSize(s, inOrder.k)).toBe(0);
    expect(await s.redis.hget(inOrder.k.sale, 'seq')).toBeNull();
  });

  it('sold_out: waiters are told so, new buyers get -6, and clearing the flag gives places back', async () => {
    const sale = await makeSale(s);
    const future = Date.now() + 600_000;
    const early = await makeSale(s, { startsAt: future, endsAt: future + 60_000 });
    await joinAll(s, sale, ['w1']);
    await joinAll(s, early, ['p1']);
    for (const x of [sale, early]) expect(await scripts.markSoldOut(x.k, true)).toBe(true);
    expect(await scripts.join(sale.k, 'w1', 'join')).toEqual(['sold_out']);
    expect(await scripts.join(sale.k, 'w1', 'status')).toEqual(['sold_out']);
    expect(await scripts.join(early.k, 'p1', 'join')).toEqual(['sold_out']);
    expect(await scripts.join(sale.k, 'late', 'join')).toBe(-6);
    expect(await s.room.join(sale.id, 'late')).toEqual({ kind: 'sold_out' });
    expect(await scripts.join(sale.k, 'late', 'status')).toEqual(['none']);
    expect(await waitingSize(s, sale.k)).toBe(1);
    // A restock clears the flag: the waiter is waiting again with the same ticket.
    await scripts.markSoldOut(sale.k, false);
    expect(await scripts.join(sale.k, 'w1', 'join')).toEqual(['waiting', 1, 0]);
  });

  it("{'done', orders} once the buyer's orders reach perBuyerLimit: no new place", async () => {
    const sale = await makeSale(s, { perBuyerLimit: 2 });
    await recordOrder(s.redis, s.prefix, sale.id, 'full', 'hold_0_x1');
    await recordOrder(s.redis, s.prefix, sale.id, 'full', 'hold_1_x2');
    await recordOrder(s.redis, s.prefix, sale.id, 'half', 'hold_0_y1');
    expect(await scripts.join(sale.k, 'full', 'join')).toEqual(['done', 2]);
    expect(await s.room.join(sale.id, 'full')).toEqual({ kind: 'limit_reached', orders: 2 });
    expect(await s.redis.hexists(sale.k.buyers, 'full')).toBe(0);
    expect(await scripts.join(sale.k, 'half', 'join')).toEqual(['waiting', 1, 0]);
  });

  it('-2 when the sale has ended, by status or by endsAt; no place is given', async () => {
    const byStatus = await makeSale(s, { status: 'ended' });
    const byTime = await makeSale(s, { startsAt: Date.now() - 5000, endsAt: Date.now() - 1 });
    for (const sale of [byStatus, byTime]) {
      expect(await scripts.join(sale.k, 'b1', 'join')).toBe(-2);
      expect(await code(s.room.join(sale.id, 'b1'))).toBe('sale_ended');
      expect(await s.redis.hexists(sale.k.buyers, 'b1')).toBe(0);
      expect(await waitingSize(s, sale.k)).toBe(0);
    }
  });

  it("{'ended'} for waiters (queued or pre-queued) once the sale ends, in both modes; their place is kept", async () => {
    const sale = await makeSale(s);
    await joinAll(s, sale, ['w1']);
    const pre = await makeSale(s, { startsAt: Date.now() + 60_000 });
    await joinAll(s, pre, ['p1']);
    for (const [x, buyer] of [[sale, 'w1'], [pre, 'p1']] as const) {
      await scripts.putSale(x.k, 'update', { status: 'ended' });
      expect(await scripts.join(x.k, buyer, 'status')).toEqual(['ended']);
      expect(await scripts.join(x.k, buyer, 'join')).toEqual(['ended']);
      expect(await s.room.status(x.id, buyer)).toEqual({ kind: 'ended' });
    }
    expect(await waitingTicket(s, sale.k, 'w1')).toBe('1');
  });

  it('a holding buyer gets a new place only with the id of the hold that ended', async () => {
    const sale = await makeSale(s, { perBuyerLimit: 1 });
    await joinAll(s, sale, ['a']);
    const { holdId } = (await admitAndHold(s, sale, 1)).list[0]!;
    expect(await scripts.join(sale.k, 'a', 'join')).toEqual(['holding', holdId]);
    expect(await scripts.join(sale.k, 'a', 'join', 'hold_0_someother')).toEqual(['holding', holdId]);
    expect(await scripts.join(sale.k, 'a', 'status', holdId)).toEqual(['holding', holdId]);
    expect(await s.room.status(sale.id, 'a')).toMatchObject({ kind: 'held', holdId });
    expect(await s.inventory.release(sale.id, holdId, 'a')).toBe('released');
    expect(await scripts.join(sale.k, 'a', 'join', holdId)).toEqual(['waiting', 2, 1]);
    expect(await recordField(s, sale.k, 'a', 'holdId')).toBeNull();
    await expectBalanced(s.inventory, sale.id, sale.pools);
  });

  it('WaitingRoom.join: a released hold gives a new place; a sold hold at the limit stays sold', async () => {
    const sale = await makeSale(s, { perBuyerLimit: 1 });
    await joinAll(s, sale, ['r', 'p']);
    const adm = (await admitAndHold(s, sale, 2)).list;
    const hr = adm.find((a) => a.buyer === 'r')!.holdId;
    const hp = adm.find((a) => a.buyer === 'p')!.holdId;
    await s.inventory.release(sale.id, hr, 'r');
    expect(await s.room.join(sale.id, 'r')).toEqual({ kind: 'waiting', ticket: 3, served: 2 });
    await s.inventory.beginPay(sale.id, hp, 'p');
    expect(await s.room.join(sale.id, 'p')).toEqual({ kind: 'paying', holdId: hp });
    await recordOrder(s.redis, s.prefix, sale.id, 'p', hp);
    await s.inventory.settle(sale.id, hp, 'ord_p');
    expect(await scripts.join(sale.k, 'p', 'join', hp)).toEqual(['done', 1]);
    expect(await s.room.join(sale.id, 'p')).toEqual({ kind: 'sold', holdId: hp, orderId: 'ord_p' });
    expect(await waitingTicket(s, sale.k, 'p')).toBeNull();
    await expectBalanced(s.inventory, sale.id, sale.pools);
  });
});

describe('put-sale-1.lua', () => {
  it("'update' of a missing sale writes nothing (0); 'create' writes once (1, then 0)", async () => {
    const k = saleKeys(s.prefix, uniqueId('sale'));
    expect(await scripts.putSale(k, 'update', { status: 'paused' })).toBe(0);
    expect(await s.redis.exists(k.sale)).toBe(0);
    expect(await scripts.putSale(k, 'create', { status: 'active', admitPerSecond: 5, pools: 2 })).toBe(1);
    expect(await scripts.putSale(k, 'create', { status: 'ended', admitPerSecond: 9, pools: 2 })).toBe(0);
    expect(await s.redis.hgetall(k.sale)).toEqual({ status: 'active', admitPerSecond: '5', pools: '2' });
  });

  it("'update' of an existing sale changes only the fields given (1)", async () => {
    const sale = await makeSale(s, { admitPerSecond: 7 });
    const before = await s.redis.hgetall(sale.k.sale);
    expect(await scripts.putSale(sale.k, 'update', { status: 'paused', maxActiveHolds: 3 })).toBe(1);
    expect(await s.redis.hgetall(sale.k.sale)).toEqual({ ...before, status: 'paused', maxActiveHolds: '3' });
  });
});

describe('lease-2.lua', () => {
  it('one owner at a time: the holder renews under the same token, others are refused (0)', async () => {
    const k = saleKeys(s.prefix, uniqueId('sale'));
    const a = await scripts.lease(k, 'host:1:owner-a', 3000);
    expect(a!.token).toBeGreaterThanOrEqual(1);
    expect(a!.value).toBe(`host:1:owner-a:${a!.token}`);
    // The raw code of a refusal, under the wrapper's null.
    expect(await runScript(s.redis, 'admLease', [k.lease, k.leaseToken], ['host:2:owner-b', 3000])).toBe(0);
    expect(await scripts.lease(k, 'host:2:owner-b', 3000)).toBeNull();
    // The value names the owner first (hostname:pid:...), then the token.
    expect(await s.redis.get(k.lease)).toBe(a!.value);
    expect(await scripts.lease(k, 'host:1:owner-a', 10_000)).toEqual(a);
    expect(await s.redis.pttl(k.lease)).toBeGreaterThan(5000);
    expect(await scripts.lease(k, 'host:2:owner-b', 3000)).toBeNull();
  });

  it('racing owners: exactly one gets the lease', async () => {
    const k = saleKeys(s.prefix, uniqueId('sale'));
    const r = await Promise.all(Array.from({ length: 6 }, (_, i) => scripts.lease(k, `owner-${i}`, 5000)));
    expect(r.filter((x) => x !== null)).toHaveLength(1);
    expect(await s.redis.get(k.lease)).toBe(r.find((x) => x !== null)!.value);
  });

  it('each new holding gets a larger token, the same owner taking it again included; the old holder is refused', async () => {
    const k = saleKeys(s.prefix, uniqueId('sale'));
    const a1 = (await scripts.lease(k, 'owner-a', 300))!;
    expect(await scripts.lease(k, 'owner-b', 5000)).toBeNull();
    await expect.poll(() => s.redis.exists(k.lease), { timeout: 3000, interval: 20 }).toBe(0);
    const b = (await scripts.lease(k, 'owner-b', 300))!;
    expect(b.token).toBeGreaterThan(a1.token);
    expect(await scripts.lease(k, 'owner-a', 5000)).toBeNull();
    expect(await s.redis.get(k.lease)).toBe(b.value);
    await expect.poll(() => s.redis.exists(k.lease), { timeout: 3000, interval: 20 }).toBe(0);
    // owner-a again, after its own holding ended: a new token, so what it read under a1 stays fenced.
    const a2 = (await scripts.lease(k, 'owner-a', 5000))!;
    expect(a2.token).toBeGreaterThan(b.token);
    expect(a2.value).not.toBe(a1.value);
  });

  it('a counter Redis lost starts again from its clock (ms), above the tokens handed out before', async () => {
    const k = saleKeys(s.prefix, uniqueId('sale'));
    const before = await redisNow(s.redis);
    const first = (await scripts.lease(k, 'owner-a', 5000))!;
    expect(first.token).toBeGreaterThan(before);
    // The design's premise: Redis is not lost and back within the millisecond of a holding (the new
    // counter starts at the clock). The test is that fast, so it waits for the next millisecond first.
    await expect.poll(() => redisNow(s.redis), { timeout: 1000, interval: 1 }).toBeGreaterThanOrEqual(first.token);
    await s.redis.del(k.lease, k.leaseToken);
    const again = (await scripts.lease(k, 'owner-b', 5000))!;
    expect(again.token).toBeGreaterThan(first.token);
  });

  it("a lease value without a token (an older admitter's) is another owner's until it expires", async () => {
    const k = saleKeys(s.prefix, uniqueId('sale'));
    await s.redis.set(k.lease, 'host:7:0a1b2c3d', 'PX', 300);
    expect(await scripts.lease(k, 'host:8:owner', 5000)).toBeNull();
    await expect.poll(() => s.redis.exists(k.lease), { timeout: 3000, interval: 20 }).toBe(0);
    expect(await scripts.lease(k, 'host:8:owner', 5000)).not.toBeNull();
  });
});
