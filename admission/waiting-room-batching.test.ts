import { afterAll, describe, expect, it } from 'vitest';
import { redisUrl, uniqueId } from '../tests/helpers/env.js';
import { createRedis } from '../shared/redis.js';
import { checkedServices } from '../inventory/lua-test-support.js';
import { Inventory } from '../inventory/inventory-service.js';
import { AdmissionError } from './errors.js';
import { WaitingRoom } from './waiting-room.js';
import type { JoinItem } from './scripts.js';
import { admitAndHold, joinAll, makeSale, waitingLine } from './lua-test-support.js';

// WaitingRoom.join/status coalesce the calls of one event-loop turn into one join-4 call per sale.
const s = checkedServices();

/** A waiting room of its own whose join-4 calls are recorded (sale key and batch size). */
function spiedRoom(maxBatch?: number, client = s.redis) {
  const room = new WaitingRoom(client, s.prefix, new Inventory(client, s.prefix), maxBatch ? { maxBatch } : {});
  const calls: { sale: string; items: JoinItem[] }[] = [];
  const orig = room.scripts.joinMany.bind(room.scripts);
  room.scripts.joinMany = (k, items) => {
    calls.push({ sale: k.sale, items: [...items] });
    return orig(k, items);
  };
  return { room, calls };
}

const code = (p: Promise<unknown>) => p.then(() => 'resolved', (e: unknown) => (e instanceof AdmissionError ? e.code : String(e)));

describe('WaitingRoom batching', () => {
  it('the joins and statuses of one turn go out as one script call; each caller gets their own view', async () => {
    const sale = await makeSale(s);
    const { room, calls } = spiedRoom();
    const buyers = Array.from({ length: 50 }, (_, i) => `b${i}`);
    const views = await Promise.all([...buyers.map((b) => room.join(sale.id, b)), room.status(sale.id, 'b3'), room.status(sale.id, 'nobody')]);
    expect(calls).toHaveLength(1);
    expect(calls[0]!.items).toHaveLength(52);
    expect(views).toEqual([...buyers.map((_, i) => ({ kind: 'waiting', ticket: i + 1, served: 0 })), { kind: 'waiting', ticket: 4, served: 0 }, { kind: 'none' }]);
  });

  it('a lone call is sent in the same turn\'s setImmediate, not held for a timer', async () => {
    const sale = await makeSale(s);
    const { room, calls } = spiedRoom();
    const view = room.join(sale.id, 'alone');
    expect(calls).toHaveLength(0);
    await new Promise((r) => setImmediate(r));
    expect(calls).toHaveLength(1);
    expect(await view).toEqual({ kind: 'waiting', ticket: 1, served: 0 });
  });

  it('a burst is split into calls of at most maxBatch, in the callers\' order', async () => {
    const sale = await makeSale(s);
    const { room, calls } = spiedRoom(4);
    const views = await Promise.all(Array.from({ length: 10 }, (_, i) => room.join(sale.id, `c${i}`)));
    expect(calls.map((c) => c.items.length)).toEqual([4, 4, 2]);
    expect(calls.flatMap((c) => c.items.map((x) => x.buyer))).toEqual(Array.from({ length: 10 }, (_, i) => `c${i}`));
    expect(views.map((v) => (v.kind === 'waiting' ? v.ticket : 0))).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  });

  it('one call per sale when several sales are asked in one turn', async () => {
    const [a, b] = [await makeSale(s), await makeSale(s)];
    const { room, calls } = spiedRoom();
    await Promise.all([room.join(a.id, 'x'), room.join(b.id, 'x'), room.join(a.id, 'y'), room.join(b.id, 'y')]);
    expect(calls.map((c) => [c.sale, c.items.map((i) => i.buyer)])).toEqual([[a.k.sale, ['x', 'y']], [b.k.sale, ['x', 'y']]]);
  });

  it('errors reach every caller: a missing sale for all, a refusal only for its buyer', async () => {
    const { room } = spiedRoom();
    const missing = uniqueId('sale');
    expect(await Promise.all([code(room.join(missing, 'a')), code(room.status(missing, 'b'))])).toEqual(['sale_not_found', 'sale_not_found']);
    const ended = await makeSale(s);
    await joinAll(s, ended, ['w']);
    await room.scripts.putSale(ended.k, 'update', { status: 'ended' });
    expect(await Promise.all([code(room.join(ended.id, 'new')), room.join(ended.id, 'w'), room.status(ended.id, 'new')]))
      .toEqual(['sale_ended', { kind: 'ended' }, { kind: 'none' }]);
  });

  it('a Redis error of the batched call rejects every caller of that batch, and the next batch works', async () => {
    const sale = await makeSale(s);
    const { room } = spiedRoom();
    // The buyers hash replaced by a string: every HGET in the script fails with WRONGTYPE.
    await s.redis.set(sale.k.buyers, 'not a hash');
    const r = await Promise.allSettled([room.join(sale.id, 'a'), room.join(sale.id, 'b'), room.status(sale.id, 'c')]);
    expect(r.map((x) => x.status)).toEqual(['rejected', 'rejected', 'rejected']);
    for (const x of r) expect(String((x as PromiseRejectedResult).reason)).toMatch(/WRONGTYPE/);
    await s.redis.del(sale.k.buyers);
    expect(await room.join(sale.id, 'a')).toEqual({ kind: 'waiting', ticket: 1, served: 0 });
  });

  it('a leave asked after a join in the same turn reaches Redis after it', async () => {
    const sale = await makeSale(s);
    const { room } = spiedRoom();
    const [joined, left] = await Promise.all([room.join(sale.id, 'jl'), room.leave(sale.id, 'jl')]);
    expect(joined).toEqual({ kind: 'waiting', ticket: 1, served: 0 });
    expect(left).toEqual({ kind: 'left' });
    expect(await room.status(sale.id, 'jl')).toEqual({ kind: 'left' });
    expect(await waitingLine(s, sale.k)).toEqual([]);
  });

  it('a holder whose hold ended takes a new place through a batch of its own (the second step)', async () => {
    const sale = await makeSale(s, { perBuyerLimit: 1 });
    await joinAll(s, sale, ['h', 'w']);
    const { holdId } = (await admitAndHold(s, sale, 1)).list[0]!;
    await s.inventory.release(sale.id, holdId, 'h');
    const { room, calls } = spiedRoom();
    expect(await Promise.all([room.join(sale.id, 'h'), room.join(sale.id, 'w')]))
      .toEqual([{ kind: 'waiting', ticket: 3, served: 1 }, { kind: 'waiting', ticket: 2, served: 1 }]);
    expect(calls.map((c) => c.items)).toEqual([
      [{ buyer: 'h', mode: 'join', endedHoldId: '' }, { buyer: 'w', mode: 'join', endedHoldId: '' }],
      [{ buyer: 'h', mode: 'join', endedHoldId: holdId }],
    ]);
  });
});

describe('batched joins racing from several clients', () => {
  const clients = Array.from({ length: 4 }, () => createRedis(redisUrl(), { name: 'test-race' }));
  afterAll(() => clients.forEach((c) => c.disconnect()));

  it('every buyer gets one place whoever asks; tickets are unique and dense', async () => {
    const sale = await makeSale(s);
    const rooms = clients.map((c) => new WaitingRoom(c, s.prefix, new Inventory(c, s.prefix), { maxBatch: 16 }));
    const buyers = Array.from({ length: 400 }, (_, i) => `r${i}`);
    // Each buyer joins from three of the four clients (three tabs, two gateways), plus a status, in
    // an order that differs per client, so batches of different clients overlap on the same buyers.
    const calls: Promise<{ buyer: string; ticket: number | null }>[] = [];
    rooms.forEach((room, c) => {
      const mine = buyers.filter((_, i) => i % 4 !== c);
      const order = c % 2 === 0 ? mine : [...mine].reverse();
      for (const b of order) {
        calls.push(room.join(sale.id, b).then((v) => ({ buyer: b, ticket: v.kind === 'waiting' ? v.ticket : null })));
        if (b.endsWith('7')) calls.push(room.status(sale.id, b).then((v) => ({ buyer: b, ticket: v.kind === 'waiting' ? v.ticket : v.kind === 'none' ? -1 : null })));
      }
    });
    const answers = await Promise.all(calls);
    const ticketOf = new Map<string, number>();
    for (const a of answers) {
      expect(a.ticket, `${a.buyer} answered`).not.toBeNull();
      if (a.ticket === -1) continue; // a status that came before the buyer's first join: no place yet
      const seen = ticketOf.get(a.buyer);
      if (seen === undefined) ticketOf.set(a.buyer, a.ticket!);
      else expect(a.ticket, `${a.buyer}: one place`).toBe(seen);
    }
    expect(ticketOf.size).toBe(400);
    expect([...ticketOf.values()].sort((x, y) => x - y)).toEqual(Array.from({ length: 400 }, (_, i) => i + 1));
    const line = await waitingLine(s, sale.k);
    expect(line).toHaveLength(800);
    expect(await s.redis.llen(sale.k.line)).toBe(400);
    for (let i = 0; i < line.length; i += 2) expect(Number(line[i + 1])).toBe(ticketOf.get(line[i]!));
    expect(await s.redis.hmget(sale.k.sale, 'seq', 'waiting')).toEqual(['400', '400']);
  });
});
