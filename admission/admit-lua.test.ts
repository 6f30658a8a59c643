import { describe, expect, it } from 'vitest';
import { checkedServices, expectBalanced } from '../inventory/lua-test-support.js';
import { poolOfHold } from '../inventory/keys.js';
import { admit, admitAndHold, admitWhenFilled, joinAll, makeSale, parseAdmit, record, recordField, TEST_OWNER, type TestSale, waitingBuyers, waitingLine, waitingSize } from './lua-test-support.js';

// admit-8, admit-done-6 and admitting-due-2 against the real Redis; every code their headers list.
// The pool equation is checked after every inventory script call of every test. The scripts run on a
// test clock (tests/helpers/test-clock.ts): the token bucket fills when a test moves time, not by sleeping.
const s = checkedServices({ clockMs: Date.now() });
const clock = s.clock!;
const scripts = s.room.scripts;

const names = (n: number, p = 'w') => Array.from({ length: n }, (_, i) => `${p}${i + 1}`);

/** A new bucket is empty: one call starts its clock, then `ms` of the test clock fill it. */
async function primed(sale: TestSale, ms: number) {
  expect((await admit(s, sale, 0)).count).toBe(0);
  clock.advance(ms);
}

describe('admit-8.lua', () => {
  it('admits the first waiters in ticket order, marks them admitting and records the work', async () => {
    const sale = await makeSale(s, { stock: 10, pools: 2 });
    await joinAll(s, sale, names(5));
    await primed(sale, 30);
    const before = clock.now();
    const r = await admit(s, sale, 3);
    const after = clock.now();
    expect(r.count).toBe(3);
    expect(r.served).toBe(3);
    expect(r.list.map((a) => [a.buyer, a.ticket])).toEqual([['w1', 1], ['w2', 2], ['w3', 3]]);
    for (const a of r.list) {
      // With every pool free, the pool is the ticket modulo the pool count.
      expect(a.pool).toBe(a.ticket % 2);
      expect(a.holdId).toMatch(new RegExp(`^hold_${a.pool}_${a.ticket}_[0-9a-f]+$`));
      expect(poolOfHold(a.holdId)).toBe(a.pool);
      expect(await record(s, sale.k, a.buyer)).toMatchObject({ state: 'admitting', holdId: a.holdId, pool: String(a.pool) });
      expect(await scripts.join(sale.k, a.buyer, 'join')).toEqual(['admitting', a.holdId, a.ticket]);
    }
    expect(await s.redis.hgetall(sale.k.admitting)).toEqual(Object.fromEntries(r.list.map((a) => [a.holdId, a.buyer])));
    // When each admission began, by Redis' clock, so abandoned ones are found without a scan.
    const since = await s.redis.zrange(sale.k.admittingSince, 0, -1, 'WITHSCORES');
    expect(since.filter((_, i) => i % 2 === 0).sort()).toEqual(r.list.map((a) => a.holdId).sort());
    for (let i = 1; i < since.length; i += 2) {
      expect(Number(since[i])).toBeGreaterThanOrEqual(before);
      expect(Number(since[i])).toBeLessThanOrEqual(after);
    }
    expect(await waitingBuyers(s, sale.k)).toEqual(['w4', 'w5']);
    expect(await s.redis.hget(sale.k.sale, 'served')).toBe('3');
    expect(await scripts.join(sale.k, 'w5', 'status')).toEqual(['waiting', 5, 3]);
  });

  it('-7 unless ARGV[1] is the lease\'s value: another owner\'s, none, or an earlier holding of the same owner; nothing changes', async () => {
    const sale = await makeSale(s);
    await joinAll(s, sale, names(4));
    await primed(sale, 30);
    const snapshot = async () => ({
      sale: await s.redis.hgetall(sale.k.sale), bucket: await s.redis.hgetall(sale.k.bucket), line: await waitingLine(s, sale.k),
      admitting: await s.redis.hlen(sale.k.admitting), since: await s.redis.zcard(sale.k.admittingSince),
    });
    const unchanged = await snapshot();
    const tryAdmit = (lease: string) => scripts.admit(sale.k, lease, 100, 100, 'n', [5, 5]);
    // Another owner's lease.
    await s.redis.del(sale.k.lease);
    const other = (await scripts.lease(sale.k, 'host:2:other', 60_000))!;
    expect(await tryAdmit(sale.lease)).toBe(-7);
    // No lease at all (ours expired and nobody took it).
    await s.redis.del(sale.k.lease);
    expect(await tryAdmit(sale.lease)).toBe(-7);
    expect(await tryAdmit(other.value)).toBe(-7);
    // Our owner holds it again, but under a new token: what was read under the old one stays fenced.
    const again = (await scripts.lease(sale.k, TEST_OWNER, 60_000))!;
    expect(again.value).not.toBe(sale.lease);
    expect(await tryAdmit(sale.lease)).toBe(-7);
    expect(await snapshot()).toEqual(unchanged);
    // The current holding admits.
    expect(parseAdmit(await tryAdmit(again.value)).count).toBeGreaterThan(0);
  });

  it('unfinished admissions count against the room the caller gives (ARGV[2]), until admit-done-6 finishes them', async () => {
    const sale = await makeSale(s, { stock: 20 });
    await joinAll(s, sale, names(8));
    await primed(sale, 30);
    const first = await admit(s, sale, 3);
    expect(first.count).toBe(3);
    // The caller read the pools before these units were taken: its room of 3 is already spoken for.
    expect((await admit(s, sale, 3)).count).toBe(0);
    expect((await admit(s, sale, 4)).count).toBe(1);
    const [a] = first.list;
    await s.inventory.take(sale.id, a!.pool, a!.holdId, a!.buyer, 60);
    expect(await scripts.admitDone(sale.k, sale.lease, a!.buyer, a!.holdId, 'held')).toBe('held');
    // Three unfinished now (two of the first call, one of the second): a room of 4 admits one.
    expect((await admit(s, sale, 4)).count).toBe(1);
    expect(await s.redis.hlen(sale.k.admitting)).toBe(4);
  });

  it('batch cap: no more than ARGV[3] per call; maxNew 0 admits nobody', async () => {
    const sale = await makeSale(s);
    await joinAll(s, sale, names(6));
    await primed(sale, 30);
    expect((await admit(s, sale, 0, 100)).count).toBe(0);
    expect((await admit(s, sale, 100, 2)).count).toBe(2);
    expect(await waitingSize(s, sale.k)).toBe(4);
  });

  it('never more than the free units: an empty ticket pool falls back to the next pool with a unit', async () => {
    const sale = await makeSale(s, { stock: 4, pools: 2 });
    await joinAll(s, sale, names(4));
    // Pool 1 loses its units to other buyers: every admission must land in pool 0.
    for (const id of ['x1', 'x2']) await s.inventory.take(sale.id, 1, s.inventory.holdId(1, id), id, 60);
    await primed(sale, 30);
    const r = await admitAndHold(s, sale, 2);
    expect(r.list.map((a) => a.pool)).toEqual([0, 0]);
    expect(r.list.map((a) => a.ticket)).toEqual([1, 2]);
    // No unit anywhere: the next waiter stays at the front with the same ticket, and nothing is popped.
    expect((await admit(s, sale, 100)).count).toBe(0);
    expect(await waitingLine(s, sale.k)).toEqual(['w3', '3', 'w4', '4']);
    expect(await scripts.join(sale.k, 'w3', 'status')).toEqual(['waiting', 3, 2]);
    await expectBalanced(s.inventory, sale.id, 2);
  });

  it('stops at the free units the caller gives per pool (ARGV[6..])', async () => {
    const sale = await makeSale(s, { stock: 10, pools: 2 });
    await joinAll(s, sale, names(3));
    await primed(sale, 30);
    const r = parseAdmit(await scripts.admit(sale.k, sale.lease, 100, 100, 'n1', [1, 0]));
    expect(r.list.map((a) => [a.buyer, a.pool])).toEqual([['w1', 0]]);
    expect(await waitingLine(s, sale.k)).toEqual(['w2', '2', 'w3', '3']);
    expect(await recordField(s, sale.k, 'w2', 'state')).toBe('waiting');
  });

  it('token bucket: in any stretch of time no more than admitPerSecond per second (+ one burst), and it refills', async () => {
    const rate = 5;
    const sale = await makeSale(s, { admitPerSecond: rate });
    await joinAll(s, sale, names(40));
    const calls: { before: number; after: number; n: number }[] = [];
    // A call every 40 ms of the test clock until 1.3 s separate the first call from the last.
    while (calls.length < 2 || calls.at(-1)!.before - calls[0]!.after < 1300) {
      const before = clock.now();
      const n = (await admit(s, sale)).count;
      calls.push({ before, after: clock.now(), n });
      clock.advance(40);
    }
    for (let i = 0; i < calls.length; i++) {
      let sum = 0;
      for (let j = i; j < calls.length; j++) {
        sum += calls[j]!.n;
        expect(sum).toBeLessThanOrEqual(rate + (rate * (calls[j]!.after - calls[i]!.before)) / 1000);
      }
    }
    const total = calls.reduce((a, c) => a + c.n, 0);
    // Refills: at least the tokens that surely accrued between the first and the last call.
    const span = calls.at(-1)!.before - calls[0]!.after;
    expect(total).toBeGreaterThanOrEqual(Math.floor((rate * span) / 1000) - 1);
    expect(total).toBeGreaterThanOrEqual(rate);
    expect(total).toBeLessThanOrEqual(rate + (rate * (calls.at(-1)!.after - calls[0]!.before)) / 1000);
  });

  it('token bucket: a long idle fills it to admitPerSecond at most', async () => {
    const rate = 4;
    const sale = await makeSale(s, { admitPerSecond: rate });
    await joinAll(s, sale, names(20));
    await primed(sale, 1600);
    const first = await admit(s, sale);
    expect(first.count).toBe(rate);
    // Emptied: the next call has only what accrued since — nothing at the same instant, one token after 1/rate s.
    expect((await admit(s, sale)).count).toBe(0);
    clock.advance(1000 / rate);
    expect((await admit(s, sale)).count).toBe(1);
  });

  it('paused, ended or not yet sealed: {served, 0}, nobody popped', async () => {
    const paused = await makeSale(s);
    await joinAll(s, paused, names(3));
    await admitAndHold(s, paused, 1);
    await scripts.putSale(paused.k, 'update', { status: 'paused' });
    const ended = await makeSale(s);
    await joinAll(s, ended, names(3));
    await scripts.putSale(ended.k, 'update', { status: 'ended' });
    const overdue = await makeSale(s);
    await joinAll(s, overdue, names(3));
    await scripts.putSale(overdue.k, 'update', { endsAt: clock.now() - 1 });
    // Mid-seal: some buyers are in the waiting room already but the sale is not sealed.
    const future = clock.now() + 600_000;
    const unsealed = await makeSale(s, { startsAt: future, endsAt: future + 60_000 });
    await joinAll(s, unsealed, names(4));
    await scripts.putSale(unsealed.k, 'update', { startsAt: clock.now() - 1 });
    expect(await scripts.seal(unsealed.k, 2)).toBe(0);
    for (const [sale, served, waiting] of [[paused, 1, 2], [ended, 0, 3], [overdue, 0, 3], [unsealed, 0, 2]] as const) {
      // A full bucket, so only the sale's state can be what stops admissions.
      await s.redis.hset(sale.k.bucket, 'tokens', 1000, 'ts', clock.now());
      const before = await s.redis.hgetall(sale.k.bucket);
      expect(await scripts.admit(sale.k, sale.lease, 100, 100, 'n', [5, 5])).toEqual([served, 0]);
      expect(await waitingSize(s, sale.k)).toBe(waiting);
      expect(await s.redis.hgetall(sale.k.bucket)).toEqual(before);
      expect(await s.redis.hlen(sale.k.admitting)).toBe(0);
    }
    // Resumed: admissions go on.
    await scripts.putSale(paused.k, 'update', { status: 'active' });
    expect((await admitWhenFilled(s, paused)).list[0]!.buyer).toBe('w2');
  });
});

describe('admit-done-6.lua', () => {
  async function admitted(sale: TestSale, n: number) {
    return (await admitWhenFilled(s, sale, n, n)).list;
  }

  it("'held': the buyer points at the hold and the sale counts the admission", async () => {
    const sale = await makeSale(s);
    await joinAll(s, sale, ['a']);
    const [a] = await admitted(sale, 1);
    await s.inventory.take(sale.id, a!.pool, a!.holdId, 'a', 60);
    expect(await scripts.admitDone(sale.k, sale.lease, 'a', a!.holdId, 'held')).toBe('held');
    expect(await recordField(s, sale.k, 'a', 'state')).toBe('holding');
    expect(await s.redis.hexists(sale.k.admitting, a!.holdId)).toBe(0);
    expect(await s.redis.hget(sale.k.sale, 'admitted')).toBe('1');
    expect(await scripts.join(sale.k, 'a', 'join')).toEqual(['holding', a!.holdId]);
    expect(await s.redis.zscore(sale.k.admittingSince, a!.holdId)).toBeNull();
    // A second finish of the same admission is stale and counts nothing.
    expect(await scripts.admitDone(sale.k, sale.lease, 'a', a!.holdId, 'held')).toBe('stale');
    expect(await s.redis.hget(sale.k.sale, 'admitted')).toBe('1');
    await expectBalanced(s.inventory, sale.id, sale.pools);
  });

  it("'requeued': no unit after all, the buyer is back at the front with the same ticket", async () => {
    const sale = await makeSale(s);
    await joinAll(s, sale, names(3));
    const [a] = await admitted(sale, 1);
    expect(await scripts.admitDone(sale.k, sale.lease, 'w1', a!.holdId, 'requeue')).toBe('requeued');
    expect(await waitingLine(s, sale.k)).toEqual(['w1', '1', 'w2', '2', 'w3', '3']);
    expect(await record(s, sale.k, 'w1')).toEqual({ state: 'waiting', ticket: '1' });
    expect(await s.redis.hlen(sale.k.admitting)).toBe(0);
    expect(await scripts.join(sale.k, 'w1', 'join')).toEqual(['waiting', 1, 1]);
    expect(await scripts.admitDone(sale.k, sale.lease, 'w1', a!.holdId, 'requeue')).toBe('stale');
    expect(await waitingSize(s, sale.k)).toBe(3);
    const [again] = await admitted(sale, 1);
    expect([again!.buyer, again!.ticket]).toEqual(['w1', 1]);
  });

  it("'left': the buyer left while admitting; the caller gives the unit back", async () => {
    const sale = await makeSale(s, { stock: 1, pools: 1 });
    await joinAll(s, sale, ['a']);
    const [a] = await admitted(sale, 1);
    await s.inventory.take(sale.id, 0, a!.holdId, 'a', 60);
    expect(await scripts.leave(sale.k, 'a')).toEqual(['left']);
    expect(await scripts.admitDone(sale.k, sale.lease, 'a', a!.holdId, 'held')).toBe('left');
    expect(await s.redis.hget(sale.k.sale, 'admitted')).toBeNull();
    expect(await s.inventory.release(sale.id, a!.holdId, '')).toBe('released');
    await expectBalanced(s.inventory, sale.id, 1);
    expect(await s.inventory.stats(sale.id, 1)).toMatchObject({ available: 1, held: 0 });
  });

  it("'left' also when the buyer left and joined again before the admission finished (the unit is nobody's)", async () => {
    const sale = await makeSale(s, { stock: 1, pools: 1 });
    await joinAll(s, sale, ['a']);
    const [a] = await admitted(sale, 1);
    await s.inventory.take(sale.id, 0, a!.holdId, 'a', 60);
    expect(await scripts.leave(sale.k, 'a')).toEqual(['left']);
    expect(await scripts.join(sale.k, 'a', 'join')).toEqual(['waiting', 2, 1]);
    expect(await scripts.admitDone(sale.k, sale.lease, 'a', a!.holdId, 'held')).toBe('left');
    expect(await s.inventory.release(sale.id, a!.holdId, '')).toBe('released');
    expect(await record(s, sale.k, 'a')).toEqual({ state: 'waiting', ticket: '2' });
    expect(await s.inventory.stats(sale.id, 1)).toMatchObject({ available: 1, held: 0 });
    await expectBalanced(s.inventory, sale.id, 1);
  });

  it("'fenced' unless ARGV[4] is the lease's value: the admission stays listed for the holder to finish", async () => {
    const sale = await makeSale(s);
    await joinAll(s, sale, ['a', 'b']);
    const [a, b] = await admitted(sale, 2);
    await s.inventory.take(sale.id, a!.pool, a!.holdId, 'a', 60);
    // The lease passes to another owner while our caller is paused with both admissions in hand.
    await s.redis.del(sale.k.lease);
    const holder = (await scripts.lease(sale.k, 'host:2:holder', 60_000))!;
    expect(await scripts.admitDone(sale.k, sale.lease, 'a', a!.holdId, 'held')).toBe('fenced');
    expect(await scripts.admitDone(sale.k, sale.lease, 'b', b!.holdId, 'requeue')).toBe('fenced');
    expect(await s.redis.hgetall(sale.k.admitting)).toEqual({ [a!.holdId]: 'a', [b!.holdId]: 'b' });
    expect(await s.redis.zcard(sale.k.admittingSince)).toBe(2);
    expect(await recordField(s, sale.k, 'a', 'state')).toBe('admitting');
    expect(await recordField(s, sale.k, 'b', 'state')).toBe('admitting');
    expect(await s.redis.hget(sale.k.sale, 'admitted')).toBeNull();
    // The holder finishes them: the unit the paused caller took is found (take is idempotent per hold id).
    expect((await s.inventory.take(sale.id, a!.pool, a!.holdId, 'a', 60))?.created).toBe(false);
    expect(await scripts.admitDone(sale.k, holder.value, 'a', a!.holdId, 'held')).toBe('held');
    expect(await s.redis.hlen(sale.k.admitting)).toBe(1);
  });

  it("'stale' for an admission that is not the buyer's", async () => {
    const sale = await makeSale(s);
    await joinAll(s, sale, ['a']);
    expect(await scripts.admitDone(sale.k, sale.lease, 'a', 'hold_0_1_unknown', 'held')).toBe('stale');
    expect(await scripts.admitDone(sale.k, sale.lease, 'nobody', 'hold_0_1_unknown', 'requeue')).toBe('stale');
    expect(await record(s, sale.k, 'a')).toEqual({ state: 'waiting', ticket: '1' });
  });
});

describe('admitting-due-2.lua', () => {
  it('lists admissions begun at least ARGV[1] ms ago (Redis clock), oldest first, at most ARGV[2]; finished ones drop out', async () => {
    const sale = await makeSale(s, { stock: 20 });
    await joinAll(s, sale, names(5));
    const early = await admitWhenFilled(s, sale, 2, 2);
    clock.advance(150);
    // A full bucket (the clock moved no further): the late admission begins now, 150 ms after the early
    // ones; room for one more beside the two unfinished.
    await s.redis.hset(sale.k.bucket, 'tokens', 1000, 'ts', clock.now());
    const late = await admit(s, sale, 3);
    expect(late.count).toBe(1);
    const pairs = (l: { holdId: string; buyer: string }[]) => l.map((x) => [x.holdId, x.buyer]);
    // Only the early ones are 100 ms old.
    expect(pairs(await scripts.admittingDue(sale.k, 100, 10)).sort()).toEqual(early.list.map((a) => [a.holdId, a.buyer]).sort());
    expect(await scripts.admittingDue(sale.k, 60_000, 10)).toEqual([]);
    const all = await scripts.admittingDue(sale.k, 0, 10);
    expect(all).toHaveLength(3);
    expect(all[2]).toEqual({ holdId: late.list[0]!.holdId, buyer: late.list[0]!.buyer });
    expect(await scripts.admittingDue(sale.k, 0, 1)).toHaveLength(1);
    const [a] = early.list;
    await s.inventory.take(sale.id, a!.pool, a!.holdId, a!.buyer, 60);
    expect(await scripts.admitDone(sale.k, sale.lease, a!.buyer, a!.holdId, 'held')).toBe('held');
    expect((await scripts.admittingDue(sale.k, 0, 10)).map((x) => x.holdId)).not.toContain(a!.holdId);
    expect(await scripts.admittingDue(sale.k, 0, 10)).toHaveLength(2);
  });

  it('{} when nothing is unfinished; an index entry whose admission is gone is dropped, not listed', async () => {
    const sale = await makeSale(s);
    expect(await scripts.admittingDue(sale.k, 0, 10)).toEqual([]);
    await s.redis.zadd(sale.k.admittingSince, 1, 'hold_0_1_gone');
    expect(await scripts.admittingDue(sale.k, 0, 10)).toEqual([]);
    expect(await s.redis.zcard(sale.k.admittingSince)).toBe(0);
  });
});
