import { afterAll, describe, expect, it } from 'vitest';
import { isConnectionLoss } from '../shared/connection-errors.js';
import { deleteKeys } from '../shared/redis.js';
import { saleInput, services, silentLog } from '../tests/helpers/env.js';
import { Admitter } from './admitter.js';

// A buyer whose place names a hold its pool no longer has: the pool's shard was flushed or came back
// from an older copy (on a Redis Cluster one shard can lose its data while the waiting room's keeps it).
const s = services();
afterAll(() => s.close());

async function buyerHolding(): Promise<{ saleId: string; holdId: string }> {
  const sale = await s.sales.create(saleInput({ stock: 2, pools: 1 }));
  // A place in the pre-queue; the admitter's first tick seals it (the sale has started) and admits.
  expect(['pre', 'waiting']).toContain((await s.room.join(sale.id, 'b1')).kind);
  const admitter = new Admitter(s.redis, s.prefix, s.inventory, { tickMs: 20, leaseMs: 2000, batch: 10, log: silentLog });
  admitter.start();
  try {
    await expect.poll(() => s.room.status(sale.id, 'b1'), { timeout: 10_000, interval: 20 }).toMatchObject({ kind: 'held' });
  } finally {
    await admitter.stop();
  }
  const view = await s.room.status(sale.id, 'b1');
  return { saleId: sale.id, holdId: (view as { holdId: string }).holdId };
}

describe('a place that names a lost hold', () => {
  it('before the pool is healed: "try again" (a lost connection\'s answer), never an internal error', async () => {
    const { saleId } = await buyerHolding();
    const k = s.inventory.keys(saleId, 0);
    // The pool's slot lost everything (one slot: its keys share the pool's hash tag).
    const holds = await s.redis.smembers(k.holds);
    await deleteKeys(s.redis, [k.pool, k.deadlines, k.holds, k.paying, ...holds.map((h) => k.hold(h))]);
    const err = await s.room.status(saleId, 'b1').then(() => null, (e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect(isConnectionLoss(err)).toBe(true);
  });

  it('once the pool is back without it: an expired hold, and a join takes a new place', async () => {
    const { saleId, holdId } = await buyerHolding();
    // The pool is there (healed) but the hold, only held, is gone with the lost copy.
    await s.redis.del(s.inventory.keys(saleId, 0).hold(holdId));
    expect(await s.room.status(saleId, 'b1')).toEqual({ kind: 'expired', holdId });
    expect(await s.room.join(saleId, 'b1')).toMatchObject({ kind: 'waiting' });
  });
});
