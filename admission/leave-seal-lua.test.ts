import { describe, expect, it } from 'vitest';
import { uniqueId } from '../tests/helpers/env.js';
import { checkedServices, expectBalanced } from '../inventory/lua-test-support.js';
import { AdmissionError } from './errors.js';
import { saleKeys } from './keys.js';
import { runScript } from '../shared/redis.js';
import { admitAndHold, admitWhenFilled, hashOrder, joinAll, makeSale, record, recordField, scoreHex, waitingBuyers, waitingLine, waitingSize } from './lua-test-support.js';
import { recordOrder } from './waiting-room.js';
import { InventoryError } from '../inventory/errors.js';

// leave-4 and seal-4 against the real Redis; every code their headers list.
// The pool equation is checked after every inventory script call of every test.
const s = checkedServices();
const scripts = s.room.scripts;

const code = (p: Promise<unknown>) =>
  p.then(() => 'resolved', (e: unknown) => (e instanceof AdmissionError || e instanceof InventoryError ? e.code : String(e)));

describe('leave-4.lua', () => {
  it('-1 for a missing sale; {none} for a buyer with no record (nothing written)', async () => {
    expect(await scripts.leave(saleKeys(s.prefix, uniqueId('sale')), 'b1')).toBe(-1);
    const sale = await makeSale(s);
    expect(await scripts.leave(sale.k, 'b1')).toEqual(['none']);
    expect(await s.redis.hexists(sale.k.buyers, 'b1')).toBe(0);
  });

  it('pre: leaves the pre-queue and gets no ticket at the seal', async () => {
    const future = Date.now() + 600_000;
    const sale = await makeSale(s, { startsAt: future, endsAt: future + 60_000 });
    await joinAll(s, sale, ['p1', 'p2']);
    expect(await scripts.leave(sale.k, 'p1')).toEqual(['left']);
    expect(await s.redis.zrange(sale.k.pre, 0, -1)).toEqual(['p2']);
    expect(await scripts.join(sale.k, 'p1', 'status')).toEqual(['left']);
    await scripts.putSale(sale.k, 'update', { startsAt: Date.now() - 1 });
    expect(await scripts.seal(sale.k, 100)).toBe(1);
    expect(await waitingLine(s, sale.k)).toEqual(['p2', '1']);
    expect(await recordField(s, sale.k, 'p1', 'state')).toBe('left');
  });

  it('waiting: leaves the queue; leaving again is still {left}; a later join is a new place at the back', async () => {
    const sale = await makeSale(s);
    await joinAll(s, sale, ['w1', 'w2']);
    expect(await scripts.leave(sale.k, 'w1')).toEqual(['left']);
    expect(await waitingBuyers(s, sale.k)).toEqual(['w2']);
    expect(await scripts.join(sale.k, 'w1', 'status')).toEqual(['left']);
    expect(await scripts.leave(sale.k, 'w1')).toEqual(['left']);
    expect(await s.room.leave(sale.id, 'w1')).toEqual({ kind: 'left' });
    expect(await scripts.join(sale.k, 'w1', 'join')).toEqual(['waiting', 3, 0]);
  });

  it('admitting: marked left at once; the admitter then sees left and gives the unit back', async () => {
    const sale = await makeSale(s, { stock: 2 });
    await joinAll(s, sale, ['a1']);
    const r = await admitWhenFilled(s, sale, 1);
    const a = r.list[0]!;
    expect(await scripts.join(sale.k, 'a1', 'status')).toEqual(['admitting', a.holdId, a.ticket]);
    expect(await scripts.leave(sale.k, 'a1')).toEqual(['left']);
    expect(await s.inventory.take(sale.id, a.pool, a.holdId, 'a1', 60)).toMatchObject({ created: true });
    expect(await scripts.admitDone(sale.k, sale.lease, 'a1', a.holdId, 'held')).toBe('left');
    expect(await s.inventory.release(sale.id, a.holdId, '')).toBe('released');
    expect(await s.inventory.stats(sale.id, sale.pools)).toMatchObject({ available: 2, held: 0 });
    await expectBalanced(s.inventory, sale.id, sale.pools);
  });

  it('holding: {holding, holdId} until called with that (released) hold id; nothing changes before', async () => {
    const sale = await makeSale(s);
    await joinAll(s, sale, ['h1']);
    const { holdId } = (await admitAndHold(s, sale, 1)).list[0]!;
    const before = await record(s, sale.k, 'h1');
    expect(await scripts.leave(sale.k, 'h1')).toEqual(['holding', holdId]);
    expect(await scripts.leave(sale.k, 'h1', 'hold_0_other')).toEqual(['holding', holdId]);
    expect(await record(s, sale.k, 'h1')).toEqual(before);
    expect(await s.inventory.release(sale.id, holdId, 'h1')).toBe('released');
    expect(await scripts.leave(sale.k, 'h1', holdId)).toEqual(['left']);
    expect(await recordField(s, sale.k, 'h1', 'state')).toBe('left');
    await expectBalanced(s.inventory, sale.id, sale.pools);
  });

  it('WaitingRoom.leave of a held unit releases it first, then marks the buyer left', async () => {
    const sale = await makeSale(s, { stock: 1, pools: 1 });
    await joinAll(s, sale, ['h2']);
    const { holdId } = (await admitAndHold(s, sale, 1)).list[0]!;
    expect(await s.room.leave(sale.id, 'h2')).toEqual({ kind: 'left' });
    expect((await s.inventory.getHold(sale.id, holdId))?.state).toBe('released');
    expect(await s.inventory.stats(sale.id, 1)).toMatchObject({ available: 1, held: 0 });
    await expectBalanced(s.inventory, sale.id, 1);
  });

  it('leave while paying: payment_in_progress, and neither the buyer, the hold nor the pool changes', async () => {
    const sale = await makeSale(s, { stock: 1, pools: 1 });
    await joinAll(s, sale, ['pay1']);
    const { holdId } = (await admitAndHold(s, sale, 1)).list[0]!;
    await s.inventory.beginPay(sale.id, holdId, 'pay1');
    const pk = s.inventory.keys(sale.id, 0);
    const snap = async () => [await record(s, sale.k, 'pay1'), await s.redis.hgetall(pk.hold(holdId)), await s.redis.hgetall(pk.pool)];
    const before = await snap();
    expect(await code(s.room.leave(sale.id, 'pay1'))).toBe('payment_in_progress');
    expect(await snap()).toEqual(before);
    expect(await s.room.status(sale.id, 'pay1')).toEqual({ kind: 'paying', holdId });
    await expectBalanced(s.inventory, sale.id, 1);
  });

  it('WaitingRoom.leave after the hold was sold answers sold and leaves the record as it is', async () => {
    const sale = await makeSale(s, { stock: 1, pools: 1 });
    await joinAll(s, sale, ['sold1']);
    const { holdId } = (await admitAndHold(s, sale, 1)).list[0]!;
    await s.inventory.beginPay(sale.id, holdId, 'sold1');
    await recordOrder(s.redis, s.prefix, sale.id, 'sold1', holdId);
    await s.inventory.settle(sale.id, holdId, 'ord_1');
    expect(await s.room.leave(sale.id, 'sold1')).toEqual({ kind: 'sold', holdId, orderId: 'ord_1' });
    expect(await recordField(s, sale.k, 'sold1', 'state')).toBe('holding');
    await expectBalanced(s.inventory, sale.id, 1);
  });
});

describe('seal-5.lua', () => {
  const buyers = Array.from({ length: 7 }, (_, i) => `pq-${i}`);

  it('does nothing before startsAt (0): the pre-queue stays, no tickets', async () => {
    const future = Date.now() + 600_000;
    const sale = await makeSale(s, { startsAt: future, endsAt: future + 60_000 });
    await joinAll(s, sale, buyers);
    for (let i = 0; i < 3; i++) expect(await scripts.seal(sale.k, 100)).toBe(0);
    expect(await s.redis.zcard(sale.k.pre)).toBe(7);
    expect(await waitingSize(s, sale.k)).toBe(0);
    expect(await s.redis.hmget(sale.k.sale, 'sealed', 'seq')).toEqual([null, null]);
    expect(await recordField(s, sale.k, 'pq-0', 'state')).toBe('pre');
  });

  it('moves the pre-queue in chunks, giving tickets 1..N in the keyed-hash order, then seals (1)', async () => {
    const future = Date.now() + 600_000;
    const sale = await makeSale(s, { startsAt: future, endsAt: future + 60_000 });
    await joinAll(s, sale, [...buyers].reverse());
    const order = hashOrder(sale.prequeueKey, buyers);
    await scripts.putSale(sale.k, 'update', { startsAt: Date.now() - 1 });
    expect(await scripts.seal(sale.k, 3)).toBe(0);
    expect(await waitingLine(s, sale.k)).toEqual(order.slice(0, 3).flatMap((b, i) => [b, String(i + 1)]));
    expect(await s.redis.zrange(sale.k.pre, 0, -1)).toEqual(order.slice(3));
    expect(await s.redis.hget(sale.k.sale, 'sealed')).toBeNull();
    expect(await scripts.seal(sale.k, 3)).toBe(0);
    expect(await scripts.seal(sale.k, 3)).toBe(1);
    expect(await waitingLine(s, sale.k)).toEqual(order.flatMap((b, i) => [b, String(i + 1)]));
    for (const [i, b] of order.entries()) {
      expect(await record(s, sale.k, b)).toEqual({ state: 'waiting', ticket: String(i + 1) });
      expect(await scripts.join(sale.k, b, 'status')).toEqual(['waiting', i + 1, 0]);
    }
    expect(await s.redis.exists(sale.k.pre)).toBe(0);
    expect(await s.redis.hget(sale.k.sale, 'sealed')).toBe('1');
    // The published order: ticket t's score at t - 1, by the contract's formula, ascending.
    const published = await scripts.prequeueOrder(sale.k);
    expect(published).toEqual(order.map((b) => scoreHex(sale.prequeueKey, b)));
    expect([...published].sort()).toEqual(published);
    // Sealed: again is 1 and changes nothing; new joins get arrival-order tickets after the pre-queue.
    expect(await scripts.seal(sale.k, 3)).toBe(1);
    expect(await s.redis.hget(sale.k.sale, 'seq')).toBe('7');
    expect(await scripts.join(sale.k, 'after', 'join')).toEqual(['waiting', 8, 0]);
  });

  it('a lottery window (sealAt after startsAt): joins after the start still shuffle, the seal waits for sealAt', async () => {
    const startsAt = Date.now() - 1000;
    const sale = await makeSale(s, { startsAt, endsAt: startsAt + 600_000, seal: false });
    await scripts.putSale(sale.k, 'update', { sealAt: Date.now() + 600_000 });
    await joinAll(s, sale, [...buyers].reverse());
    expect(await scripts.seal(sale.k, 100)).toBe(0);
    expect(await s.redis.zcard(sale.k.pre)).toBe(7);
    expect(await scripts.prequeueOrder(sale.k)).toEqual([]);
    await scripts.putSale(sale.k, 'update', { sealAt: Date.now() - 1 });
    expect(await scripts.seal(sale.k, 100)).toBe(1);
    const order = hashOrder(sale.prequeueKey, buyers);
    expect(await waitingLine(s, sale.k)).toEqual(order.flatMap((b, i) => [b, String(i + 1)]));
    expect(await scripts.prequeueOrder(sale.k)).toEqual(order.map((b) => scoreHex(sale.prequeueKey, b)));
    expect(await scripts.join(sale.k, 'late', 'join')).toEqual(['waiting', 8, 0]);
    expect(await scripts.prequeueOrder(sale.k)).toHaveLength(7);
  });

  it('a join without its score is refused before anything is written', async () => {
    const future = Date.now() + 600_000;
    const sale = await makeSale(s, { startsAt: future, endsAt: future + 60_000 });
    await expect(runScript(s.redis, 'admJoin', [sale.k.sale, sale.k.buyers, sale.k.pre, sale.k.line],
      [sale.k.ordersPrefix, 'x', 'join', '', scoreHex(sale.prequeueKey, 'x'), 'y', 'join', '', 'not-a-score'])).rejects.toThrow(/pre-queue score/);
    expect(await s.redis.exists(sale.k.pre, sale.k.buyers)).toBe(0);
  });

  it('seals in the call that moves the last chunk exactly', async () => {
    const future = Date.now() + 600_000;
    const sale = await makeSale(s, { startsAt: future, endsAt: future + 60_000 });
    await joinAll(s, sale, buyers.slice(0, 4));
    await scripts.putSale(sale.k, 'update', { startsAt: Date.now() - 1 });
    expect(await scripts.seal(sale.k, 2)).toBe(0);
    expect(await scripts.seal(sale.k, 2)).toBe(1);
    expect(await waitingSize(s, sale.k)).toBe(4);
  });

  it('seals only once startsAt has passed by the Redis clock', async () => {
    const startsAt = Date.now() + 800;
    const sale = await makeSale(s, { startsAt, endsAt: startsAt + 60_000 });
    await joinAll(s, sale, buyers.slice(0, 3));
    const calls: { before: number; after: number; r: number; pre: number }[] = [];
    await expect.poll(async () => {
      const before = Date.now();
      const r = await scripts.seal(sale.k, 100);
      const after = Date.now();
      calls.push({ before, after, r, pre: await s.redis.zcard(sale.k.pre) });
      return r;
    }, { timeout: 5000, interval: 20 }).toBe(1);
    const zeros = calls.filter((c) => c.r === 0);
    expect(zeros.length).toBeGreaterThan(0);
    for (const c of zeros) {
      expect(c.before).toBeLessThan(startsAt + 50);
      expect(c.pre).toBe(3);
    }
    expect(calls.at(-1)!.after).toBeGreaterThanOrEqual(startsAt);
    expect(await waitingSize(s, sale.k)).toBe(3);
  });
});
