import { describe, expect, it } from 'vitest';
import { InventoryError } from './errors.js';
import { checkedServices, expectBalanced, saleWithHolds } from './lua-test-support.js';

// begin-pay-4, settle-3, pay-failed-4 and release-3 against the real Redis (expire-due-2: expire-due-lua.test.ts).
// The pool equation is checked after every inventory script call of every test.
// The scripts run on a test clock (tests/helpers/test-clock.ts): deadlines pass when a test moves it.
const s = checkedServices({ clockMs: Date.now() });
const clock = s.clock!;
/** Moves the scripts' clock strictly past `ms` (never back). */
const passed = (ms: number) => clock.set(Math.max(clock.now(), ms + 1));
const inv = s.inventory;

const sale = (units: number, buyers: string[], holdSeconds = 60) => saleWithHolds(inv, units, buyers, holdSeconds);

/** Everything a script could change for one hold: its hash, its pool and the deadlines set. */
async function snapshot(saleId: string, holdId: string) {
  const k = inv.keys(saleId, 0);
  return {
    hold: await inv.redis.hgetall(k.hold(holdId)),
    pool: await inv.redis.hgetall(k.pool),
    deadlines: await inv.redis.zrange(k.deadlines, 0, -1, 'WITHSCORES'),
  };
}

const code = (p: Promise<unknown>) => p.then(() => 'resolved', (e: unknown) => (e instanceof InventoryError ? e.code : String(e)));

describe('begin-pay-4.lua', () => {
  it('held -> paying: returns attempt 1, leaves the deadlines set, pool held -> paying', async () => {
    const { saleId, k, ids } = await sale(2, ['b1']);
    expect(await inv.scripts.beginPay(k, ids.b1!, 'b1')).toBe(1);
    expect((await inv.getHold(saleId, ids.b1!))?.state).toBe('paying');
    expect(await inv.redis.zscore(k.deadlines, ids.b1!)).toBeNull();
    expect(await inv.stats(saleId, 1)).toMatchObject({ available: 1, held: 0, paying: 1 });
    await expectBalanced(inv, saleId, 1);
  });

  it('-1 no such hold', async () => {
    const { k, saleId } = await sale(1, []);
    expect(await inv.scripts.beginPay(k, 'hold_0_nope', 'b1')).toBe(-1);
    expect(await code(inv.beginPay(saleId, 'hold_0_nope', 'b1'))).toBe('hold_not_found');
  });

  it('-2 not this buyer\'s hold, and nothing changes', async () => {
    const { saleId, k, ids } = await sale(1, ['b1']);
    const before = await snapshot(saleId, ids.b1!);
    expect(await inv.scripts.beginPay(k, ids.b1!, 'intruder')).toBe(-2);
    expect(await snapshot(saleId, ids.b1!)).toEqual(before);
  });

  it('double pay: the second begin-pay is -3 already paying and changes nothing', async () => {
    const { saleId, k, ids } = await sale(1, ['b1']);
    expect(await inv.beginPay(saleId, ids.b1!, 'b1')).toBe(1);
    const before = await snapshot(saleId, ids.b1!);
    expect(await inv.scripts.beginPay(k, ids.b1!, 'b1')).toBe(-3);
    expect(await code(inv.beginPay(saleId, ids.b1!, 'b1'))).toBe('payment_in_progress');
    expect(await snapshot(saleId, ids.b1!)).toEqual(before);
    await expectBalanced(inv, saleId, 1);
  });

  it('two concurrent begin-pays of one hold: exactly one gets an attempt', async () => {
    const { saleId, ids } = await sale(1, ['b1']);
    const r = await Promise.allSettled([inv.beginPay(saleId, ids.b1!, 'b1'), inv.beginPay(saleId, ids.b1!, 'b1')]);
    expect(r.filter((x) => x.status === 'fulfilled')).toHaveLength(1);
    expect((await inv.stats(saleId, 1)).paying).toBe(1);
    await expectBalanced(inv, saleId, 1);
  });

  it('-4 already sold', async () => {
    const { saleId, k, ids } = await sale(1, ['b1']);
    await inv.beginPay(saleId, ids.b1!, 'b1');
    await inv.settle(saleId, ids.b1!, 'ord_1');
    expect(await inv.scripts.beginPay(k, ids.b1!, 'b1')).toBe(-4);
    await expectBalanced(inv, saleId, 1);
  });

  it('-5 on a released hold', async () => {
    const { saleId, k, ids } = await sale(1, ['b1']);
    await inv.release(saleId, ids.b1!, 'b1');
    expect(await inv.scripts.beginPay(k, ids.b1!, 'b1')).toBe(-5);
    expect((await inv.getHold(saleId, ids.b1!))?.state).toBe('released');
    await expectBalanced(inv, saleId, 1);
  });

  it('expired hold: begin-pay on an overdue hold expires it, returns the unit, and the sweeper does not return it again', async () => {
    const { saleId, k, ids, deadlines } = await sale(1, ['b1'], 1);
    passed(deadlines.b1!);
    expect(await inv.scripts.beginPay(k, ids.b1!, 'b1')).toBe(-5);
    expect((await inv.getHold(saleId, ids.b1!))?.state).toBe('expired');
    expect(await inv.stats(saleId, 1)).toMatchObject({ available: 1, held: 0, paying: 0, expired: 1 });
    expect(await inv.redis.zcard(k.deadlines)).toBe(0);
    expect(await inv.expireDue(saleId, 1)).toEqual([]);
    expect((await inv.stats(saleId, 1)).available).toBe(1);
    await expectBalanced(inv, saleId, 1);
  });

  it('counts attempts: begin-pay after a declined payment returns attempt 2', async () => {
    const { saleId, ids } = await sale(1, ['b1']);
    expect(await inv.beginPay(saleId, ids.b1!, 'b1')).toBe(1);
    expect(await inv.payFailed(saleId, ids.b1!, 1)).toEqual({ state: 'held', changed: true });
    expect(await inv.beginPay(saleId, ids.b1!, 'b1')).toBe(2);
    await expectBalanced(inv, saleId, 1);
  });
});

describe('settle-3.lua', () => {
  it('paying -> sold with the order id; settling again is idempotent and keeps the first order id', async () => {
    const { saleId, k, ids } = await sale(2, ['b1']);
    await inv.beginPay(saleId, ids.b1!, 'b1');
    expect(await inv.redis.zrange(k.paying, 0, -1)).toEqual([ids.b1]);
    expect(await inv.scripts.settle(k, ids.b1!, 'ord_first')).toEqual(['ord_first', 1]);
    expect(await inv.redis.zcard(k.paying)).toBe(0);
    const after = await snapshot(saleId, ids.b1!);
    expect(after.hold).toMatchObject({ state: 'sold', orderId: 'ord_first' });
    expect(await inv.stats(saleId, 1)).toMatchObject({ paying: 0, sold: 1, available: 1 });
    expect(await inv.settle(saleId, ids.b1!, 'ord_other')).toEqual({ orderId: 'ord_first', changed: false });
    expect(await snapshot(saleId, ids.b1!)).toEqual(after);
    await expectBalanced(inv, saleId, 1);
  });

  it('publishes its notice only when it sells the hold: once, not again when settled twice, not when refused', async () => {
    const { saleId, k, ids } = await sale(2, ['b1', 'b2']);
    const channel = `${saleId}:test-notices`;
    // A plain subscriber (on a Cluster, PUBLISH from any node's script reaches it over the cluster bus).
    const sub = inv.redis.duplicate();
    const got: string[] = [];
    let sentinelSeen!: () => void;
    const sentinel = new Promise<void>((r) => (sentinelSeen = r));
    sub.on('message', (_c: string, m: string) => (m === 'sentinel' ? sentinelSeen() : got.push(m)));
    try {
      await sub.subscribe(channel);
      await inv.beginPay(saleId, ids.b1!, 'b1');
      expect(await inv.settle(saleId, ids.b1!, 'ord_1', { channel, message: 'sold b1' })).toEqual({ orderId: 'ord_1', changed: true });
      expect(await inv.settle(saleId, ids.b1!, 'ord_1', { channel, message: 'sold b1 again' })).toEqual({ orderId: 'ord_1', changed: false });
      // b2's hold is held, not paying: refused, nothing published.
      expect(await code(inv.settle(saleId, ids.b2!, 'ord_2', { channel, message: 'sold b2' }))).not.toBe('resolved');
      // Everything published before the sentinel has arrived once the sentinel has: it is published from
      // the pool's own server too (a script of the pool's slot), so it travels the same ordered way.
      await inv.redis.eval("return redis.call('PUBLISH', ARGV[1], ARGV[2])", 1, k.pool, channel, 'sentinel');
      await sentinel;
      expect(got).toEqual(['sold b1']);
    } finally {
      sub.disconnect();
    }
    await expectBalanced(inv, saleId, 1);
  });

  it('-1 no such hold', async () => {
    const { k } = await sale(1, []);
    expect(await inv.scripts.settle(k, 'hold_0_nope', 'ord_1')).toBe(-1);
  });

  it('-6 when the hold is not paying (held, or released), and nothing changes', async () => {
    const { saleId, k, ids } = await sale(2, ['b1', 'b2']);
    const before = await snapshot(saleId, ids.b1!);
    expect(await inv.scripts.settle(k, ids.b1!, 'ord_1')).toBe(-6);
    expect(await snapshot(saleId, ids.b1!)).toEqual(before);
    await inv.release(saleId, ids.b2!, 'b2');
    expect(await inv.scripts.settle(k, ids.b2!, 'ord_2')).toBe(-6);
    expect(await inv.stats(saleId, 1)).toMatchObject({ sold: 0, held: 1, available: 1 });
    await expectBalanced(inv, saleId, 1);
  });
});

describe('pay-failed-4.lua', () => {
  it('-1 no such hold', async () => {
    const { k } = await sale(1, []);
    expect(await inv.scripts.payFailed(k, 'hold_0_nope', 1)).toBe(-1);
  });

  it('before the deadline: paying -> held, back in the deadlines set with its own deadline', async () => {
    const { saleId, k, ids, deadlines } = await sale(1, ['b1']);
    await inv.beginPay(saleId, ids.b1!, 'b1');
    expect(await inv.scripts.payFailed(k, ids.b1!, 1)).toEqual(['held', 1]);
    expect(await inv.redis.zcard(k.paying)).toBe(0);
    expect(Number(await inv.redis.zscore(k.deadlines, ids.b1!))).toBe(deadlines.b1);
    expect(await inv.stats(saleId, 1)).toMatchObject({ held: 1, paying: 0, available: 0 });
    await expectBalanced(inv, saleId, 1);
  });

  it('after the deadline: paying -> expired and the unit returns to the pool, once', async () => {
    const { saleId, k, ids, deadlines } = await sale(1, ['b1'], 1);
    await inv.beginPay(saleId, ids.b1!, 'b1');
    passed(deadlines.b1!);
    expect(await inv.scripts.payFailed(k, ids.b1!, 1)).toEqual(['expired', 1]);
    expect(await inv.redis.zcard(k.deadlines)).toBe(0);
    expect(await inv.stats(saleId, 1)).toMatchObject({ held: 0, paying: 0, available: 1, expired: 1 });
    await expectBalanced(inv, saleId, 1);
    // A retried job: answers the current state and changes nothing.
    const before = await snapshot(saleId, ids.b1!);
    expect(await inv.payFailed(saleId, ids.b1!, 1)).toEqual({ state: 'expired', changed: false });
    expect(await snapshot(saleId, ids.b1!)).toEqual(before);
  });

  it('not paying: answers the current state (held, sold) and changes nothing', async () => {
    const { saleId, k, ids } = await sale(2, ['b1', 'b2']);
    const held = await snapshot(saleId, ids.b1!);
    expect(await inv.scripts.payFailed(k, ids.b1!, 0)).toEqual(['held', 0]);
    expect(await snapshot(saleId, ids.b1!)).toEqual(held);
    await inv.beginPay(saleId, ids.b2!, 'b2');
    await inv.settle(saleId, ids.b2!, 'ord_2');
    const sold = await snapshot(saleId, ids.b2!);
    expect(await inv.scripts.payFailed(k, ids.b2!, 1)).toEqual(['sold', 0]);
    expect(await snapshot(saleId, ids.b2!)).toEqual(sold);
    await expectBalanced(inv, saleId, 1);
  });

  it('another attempt is current: a late answer about attempt 1 leaves attempt 2 paying', async () => {
    const { saleId, k, ids } = await sale(1, ['b1']);
    await inv.beginPay(saleId, ids.b1!, 'b1');
    await inv.payFailed(saleId, ids.b1!, 1);
    expect(await inv.beginPay(saleId, ids.b1!, 'b1')).toBe(2);
    const paying = await snapshot(saleId, ids.b1!);
    expect(await inv.scripts.payFailed(k, ids.b1!, 1)).toEqual(['paying', 0]);
    expect(await snapshot(saleId, ids.b1!)).toEqual(paying);
    expect(await inv.redis.zrange(k.paying, 0, -1)).toEqual([ids.b1]);
    expect(await inv.payFailed(saleId, ids.b1!, 2)).toEqual({ state: 'held', changed: true });
    await expectBalanced(inv, saleId, 1);
  });
});

describe('release-3.lua', () => {
  it('held -> released: the unit is back at once; a second release answers the ended state', async () => {
    const { saleId, k, ids } = await sale(1, ['b1']);
    expect(await inv.scripts.release(k, ids.b1!, 'b1')).toBe('released');
    expect(await inv.stats(saleId, 1)).toMatchObject({ available: 1, held: 0, released: 1 });
    expect(await inv.redis.zcard(k.deadlines)).toBe(0);
    const before = await snapshot(saleId, ids.b1!);
    expect(await inv.scripts.release(k, ids.b1!, 'b1')).toBe('released');
    expect(await snapshot(saleId, ids.b1!)).toEqual(before);
    await expectBalanced(inv, saleId, 1);
  });

  it("'' releases any buyer's hold (the admitter undoing an admission)", async () => {
    const { saleId, ids } = await sale(1, ['b1']);
    expect(await inv.release(saleId, ids.b1!, '')).toBe('released');
    await expectBalanced(inv, saleId, 1);
  });

  it('answers expired for an expired hold without returning its unit twice', async () => {
    const { saleId, ids, deadlines } = await sale(1, ['b1'], 1);
    passed(deadlines.b1!);
    expect(await inv.expireDue(saleId, 1)).toEqual([{ holdId: ids.b1, buyer: 'b1' }]);
    expect(await inv.release(saleId, ids.b1!, 'b1')).toBe('expired');
    expect(await inv.stats(saleId, 1)).toMatchObject({ available: 1, released: 0, expired: 1 });
    await expectBalanced(inv, saleId, 1);
  });

  it('-1 no such hold, -2 not this buyer\'s hold (nothing changes)', async () => {
    const { saleId, k, ids } = await sale(1, ['b1']);
    expect(await inv.scripts.release(k, 'hold_0_nope', 'b1')).toBe(-1);
    const before = await snapshot(saleId, ids.b1!);
    expect(await inv.scripts.release(k, ids.b1!, 'intruder')).toBe(-2);
    expect(await code(inv.release(saleId, ids.b1!, 'intruder'))).toBe('not_your_hold');
    expect(await snapshot(saleId, ids.b1!)).toEqual(before);
  });

  it('leave while paying: -3 payment in progress, and nothing changes', async () => {
    const { saleId, k, ids } = await sale(1, ['b1']);
    await inv.beginPay(saleId, ids.b1!, 'b1');
    const before = await snapshot(saleId, ids.b1!);
    expect(await inv.scripts.release(k, ids.b1!, 'b1')).toBe(-3);
    expect(await inv.scripts.release(k, ids.b1!, '')).toBe(-3);
    expect(await code(inv.release(saleId, ids.b1!, 'b1'))).toBe('payment_in_progress');
    expect(await snapshot(saleId, ids.b1!)).toEqual(before);
    await expectBalanced(inv, saleId, 1);
  });

  it('-4 sold', async () => {
    const { saleId, k, ids } = await sale(1, ['b1']);
    await inv.beginPay(saleId, ids.b1!, 'b1');
    await inv.settle(saleId, ids.b1!, 'ord_1');
    expect(await inv.scripts.release(k, ids.b1!, 'b1')).toBe(-4);
    expect(await inv.stats(saleId, 1)).toMatchObject({ sold: 1, available: 0 });
    await expectBalanced(inv, saleId, 1);
  });
});
