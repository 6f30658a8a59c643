import { describe, expect, it } from 'vitest';
import { scanKeys } from '../shared/redis.js';
import { checkedServices, redisNow } from '../inventory/lua-test-support.js';
import { admit, admitWhenFilled, joinAll, makeSale, record, type TestSale, waitingLine } from './lua-test-support.js';

// The waiting line's layout: one field of the sale's `buyers` hash per buyer and one `ticket:buyer`
// entry per place in a list, stale entries of leavers skipped by admit-8, the re-queued in front.
const s = checkedServices();
const scripts = s.room.scripts;

async function admitted(sale: TestSale, n: number) {
  return (await admitWhenFilled(s, sale, n)).list;
}

describe('the waiting line', () => {
  it('costs no key per buyer: 300 buyers live in a fixed handful of the sale\'s keys', async () => {
    // No admitter lease (its two keys are the sale's, not a buyer's): nobody is admitted here.
    const sale = await makeSale(s, { takeLease: false });
    await joinAll(s, sale, Array.from({ length: 300 }, (_, i) => `m${i}`));
    await scripts.leave(sale.k, 'm7');
    const keys = await scanKeys(s.redis, `${s.prefix}fs:{sale:${sale.id}}:*`);
    expect(keys.sort()).toEqual([sale.k.buyers, sale.k.line, sale.k.sale].sort());
    expect(await s.redis.hlen(sale.k.buyers)).toBe(300);
    expect(await s.redis.hget(sale.k.sale, 'waiting')).toBe('299');
  });

  it("a leaver's place is never admitted: their entry is skipped, the ones behind move up", async () => {
    const sale = await makeSale(s);
    await joinAll(s, sale, ['w1', 'w2', 'w3', 'w4']);
    expect(await scripts.leave(sale.k, 'w2')).toEqual(['left']);
    expect(await scripts.leave(sale.k, 'w3')).toEqual(['left']);
    expect(await waitingLine(s, sale.k)).toEqual(['w1', '1', 'w4', '4']);
    const list = await admitted(sale, 10);
    expect(list.map((a) => [a.buyer, a.ticket])).toEqual([['w1', 1], ['w4', 4]]);
    expect(await s.redis.llen(sale.k.line)).toBe(0);
    expect(await s.redis.hget(sale.k.sale, 'waiting')).toBe('0');
    expect(await scripts.join(sale.k, 'w2', 'status')).toEqual(['left']);
  });

  it('leave then join again: one place, the new one at the back; the old entry is skipped', async () => {
    const sale = await makeSale(s);
    await joinAll(s, sale, ['a', 'b']);
    await scripts.leave(sale.k, 'a');
    expect(await scripts.join(sale.k, 'a', 'join')).toEqual(['waiting', 3, 0]);
    expect(await waitingLine(s, sale.k)).toEqual(['b', '2', 'a', '3']);
    // The line holds a's old entry too, yet admit gives a one admission, with the new ticket.
    expect(await s.redis.lrange(sale.k.line, 0, -1)).toEqual(['1:a', '2:b', '3:a']);
    const list = await admitted(sale, 10);
    expect(list.map((x) => [x.buyer, x.ticket])).toEqual([['b', 2], ['a', 3]]);
    expect(await record(s, sale.k, 'a')).toMatchObject({ state: 'admitting', ticket: '3' });
  });

  it('several re-queued in one tick come back in ticket order, ahead of the line', async () => {
    const sale = await makeSale(s, { stock: 10, pools: 2 });
    await joinAll(s, sale, ['w1', 'w2', 'w3', 'w4', 'w5']);
    const first = await admitWhenFilled(s, sale, 3, 3);
    // Finished in reverse order, as concurrent finishes may be.
    for (const a of [...first.list].reverse()) expect(await scripts.admitDone(sale.k, sale.lease, a.buyer, a.holdId, 'requeue')).toBe('requeued');
    expect(await waitingLine(s, sale.k)).toEqual(['w1', '1', 'w2', '2', 'w3', '3', 'w4', '4', 'w5', '5']);
    const again = await admitWhenFilled(s, sale, 4, 4);
    expect(again.list.map((a) => a.buyer)).toEqual(['w1', 'w2', 'w3', 'w4']);
    expect(await waitingLine(s, sale.k)).toEqual(['w5', '5']);
  });

  it('a re-queued buyer who leaves is not admitted', async () => {
    const sale = await makeSale(s);
    await joinAll(s, sale, ['r1', 'r2']);
    const [a] = await admitted(sale, 1);
    expect(await scripts.admitDone(sale.k, sale.lease, 'r1', a!.holdId, 'requeue')).toBe('requeued');
    expect(await scripts.leave(sale.k, 'r1')).toEqual(['left']);
    expect(await s.redis.exists(sale.k.requeued)).toBe(0);
    expect((await admitted(sale, 10)).map((x) => x.buyer)).toEqual(['r2']);
  });

  it('one admit call skips a bounded number of stale entries; the next call goes on from there', async () => {
    const sale = await makeSale(s);
    // Entries of buyers with no waiting record (as a crowd of leavers leaves them).
    const ghosts = Array.from({ length: 5200 }, (_, i) => `${i + 1}:ghost-${i}`);
    for (let i = 0; i < ghosts.length; i += 1000) await s.redis.rpush(sale.k.line, ...ghosts.slice(i, i + 1000));
    await s.redis.hset(sale.k.sale, 'seq', ghosts.length);
    await joinAll(s, sale, ['real']);
    // A full bucket, so only the bound on skipping can stop the first call.
    await s.redis.hset(sale.k.bucket, 'tokens', 1000, 'ts', await redisNow(s.redis));
    expect((await admit(s, sale, 10)).count).toBe(0);
    expect(await s.redis.llen(sale.k.line)).toBe(201);
    const next = await admitted(sale, 10);
    expect(next.map((a) => [a.buyer, a.ticket])).toEqual([['real', 5201]]);
  });
});
