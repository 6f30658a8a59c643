import { afterAll, describe, expect, it } from 'vitest';
import { services, saleInput, uniqueId } from '../tests/helpers/env.js';
import { PaymentStore } from '../settlement/payment-store.js';
import { recordOrder } from './waiting-room.js';
import { deleteKeys, scanKeys } from '../shared/redis.js';

const s = services();
afterAll(() => s.close());

/** Deletes every key under the test prefix: what a Redis restart without persistence does. */
async function loseRedis(): Promise<void> {
  await deleteKeys(s.redis, await scanKeys(s.redis, `${s.prefix}*`));
}

describe('Redis rebuilt from the Postgres ledger after a loss', () => {
  it('keeps sold units sold, in-flight payments out of the pool, and the per-buyer orders', async () => {
    const sale = await s.sales.create(saleInput({ stock: 10, pools: 3, perBuyerLimit: 1 }));
    await s.sales.restock(sale.id, 2);
    const store = new PaymentStore(s.db);
    // Two buyers paid (orders written), one payment is still in flight (attempt pending, no order).
    const sold: string[] = [];
    for (const buyer of [uniqueId('b'), uniqueId('b')]) {
      const holdId = `hold_${sold.length}_${uniqueId('x').replace('-', '_')}`;
      const job = { saleId: sale.id, holdId, buyer, attemptNo: 1, paymentMethod: 'pm_card_visa', amount: 1999, currency: 'eur', perBuyerLimit: 1 };
      const { row } = await store.ensureAttempt(job);
      await store.commitOrder(row, `pi_${uniqueId('p').replace('-', '')}`);
      await recordOrder(s.redis, s.prefix, sale.id, buyer, holdId);
      sold.push(buyer);
    }
    await store.ensureAttempt({ saleId: sale.id, holdId: 'hold_1_inflight', buyer: uniqueId('b'), attemptNo: 1, paymentMethod: 'pm_card_visa', amount: 1999, currency: 'eur', perBuyerLimit: 1 });

    await loseRedis();
    expect(await s.redis.exists(s.sales.keysOf(sale.id).sale)).toBe(0);
    const stored = (await s.sales.get(sale.id))!;
    await s.sales.ensureRedis(stored);

    const stats = await s.sales.stats(stored);
    expect(stats).toMatchObject({ stock: 12, sold: 2, paying: 1, available: 9, held: 0 });
    expect(stats.stock).toBe(stats.available + stats.held + stats.paying + stats.sold);
    // Holds, counters and orders agree again: the audit finds nothing wrong.
    const { auditSale } = await import('./sale-audit.js');
    const audit = await auditSale(s.db, s.sales, s.inventory, stored);
    expect(audit.problems).toEqual([]);
    expect(audit.orders).toBe(2);
    // A buyer who already bought cannot take a new place past the limit.
    // A buyer who already bought cannot take a new place past the limit: they find their order again.
    const view = await s.room.join(sale.id, sold[0]!);
    expect(view).toMatchObject({ kind: 'sold' });
    // A new buyer can still join.
    expect((await s.room.join(sale.id, uniqueId('new'))).kind).toMatch(/^(waiting|pre)$/);
  });
});
