import { afterAll, describe, expect, it } from 'vitest';
import { createRedis } from '../../shared/redis.js';
import { redisUrl } from '../helpers/env.js';
import type { Stack } from '../helpers/stack.js';
import { Buyers, useStack, createSale, expectCleanAudit, pay, stats } from './kit.js';

let stack: Stack;
let buyers: Buyers;
useStack((s, b) => ((stack = s), (buyers = b)), { env: { REDIS_GUARD_MS: '200' } });

const redis = createRedis(redisUrl(), { name: 'test-loss' });
afterAll(() => redis.disconnect());

/**
 * Every key of this stack (its prefix) gone at once: what a FLUSHALL does to it, queues included. The
 * keys are listed first and deleted by one DEL, which is atomic like FLUSHALL: deleting while scanning
 * would also delete what the heal had just rebuilt (the guard runs every 200 ms here).
 */
async function loseEverything(): Promise<number> {
  let cursor = '0';
  const keys: string[] = [];
  do {
    const [next, found] = await (redis as import('ioredis').Redis).scan(cursor, 'MATCH', `${stack.prefix}*`, 'COUNT', 1000);
    keys.push(...found);
    cursor = next;
  } while (cursor !== '0');
  return keys.length > 0 ? redis.del(...keys) : 0;
}

describe('Redis emptied under a running stack (no process restarted)', () => {
  it('is healed from the ledger: orders stay sold, lost holds are told, waiters get a place again, the sale sells on', async () => {
    const sale = await createSale(stack, { stock: 3, pools: 1, maxActiveHolds: 1 });
    const paid = await buyers.holding(sale.id);
    expect((await pay(paid.b, paid.holdId, 'pm_card_visa')).type).toBe('order_confirmed');
    const holder = await buyers.holding(sale.id);
    // One hold at a time (maxActiveHolds 1): this one waits.
    const waiter = await buyers.queued(sale.id);
    const holderFrom = holder.b.frames.length;
    const waiterFrom = waiter.b.frames.length;

    const lostAt = Date.now();
    expect(await loseEverything()).toBeGreaterThan(0);

    // The holder's hold lived only in Redis: it is gone, and they are told so.
    const expired = await holder.b.next((f) => f.type === 'hold_expired', 10_000, holderFrom);
    expect(expired.holdId).toBe(holder.holdId);
    // The waiter's place was lost too: the gateway takes one again for them, and the queue moves on.
    const back = await waiter.b.next((f) => f.type === 'queued' || f.type === 'admitted', 10_000, waiterFrom);
    const healedMs = Date.now() - lostAt;
    expect(healedMs).toBeLessThan(10_000);
    const admitted = back.type === 'admitted' ? back : await waiter.b.next('admitted', 30_000, waiterFrom).catch(async (err: Error) => {
      // What the sale's copy and the gateway say when no admission came: the failure names its cause.
      const k = `${stack.prefix}fs:{sale:${sale.id}}:`;
      const state = { sale: await redis.hgetall(`${k}sale`), line: await redis.lrange(`${k}line`, 0, -1), buyers: await redis.hgetall(`${k}buyers`), admitting: await redis.hgetall(`${k}admitting`), lease: await redis.get(`${k}lease`), stats: await stats(stack, sale.id) };
      throw new Error(`${err.message}\nredis: ${JSON.stringify(state)}\ngateway log: ${stack.gateways[0]!.stderr().slice(-4000)}`);
    });
    const outcome = await pay(waiter.b, admitted.holdId, 'pm_card_visa');
    expect(outcome.type, JSON.stringify(waiter.b.frames)).toBe('order_confirmed');

    // The sold unit stayed sold (the ledger's word), nothing was sold twice.
    expect(await stats(stack, sale.id)).toMatchObject({ stock: 3, sold: 2 });
    const charges = stack.standIn.charges().filter((c) => c.metadata.saleId === sale.id);
    expect(charges.map((c) => c.metadata.holdId).sort()).toEqual([paid.holdId, admitted.holdId].sort());
    await expectCleanAudit(stack, sale.id, { sold: 2, orders: 2 });
    // The paid buyer, reconnecting, still has their order.
    await paid.b.close();
    const again = await buyers.connect(sale.id, paid.b.buyer);
    expect((await again.next('order_confirmed')).holdId).toBe(paid.holdId);
    console.log(JSON.stringify({ case: 'redis-emptied-e2e', healedMs }));
  });
});
