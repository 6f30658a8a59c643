import { afterAll, describe, expect, it } from 'vitest';
import { saleInput, services } from '../tests/helpers/env.js';

const s = services();
afterAll(() => s.close());

describe('SaleService.activeHolds (the console\'s holds by age)', () => {
  it('lists only holds still running — held or paying — over every pool, each with its deadline', async () => {
    const sale = await s.sales.create(saleInput({ stock: 6, pools: 3, holdSeconds: 90 }));
    const take = async (pool: number, n: string) => {
      const holdId = s.inventory.holdId(pool, n);
      const t = await s.inventory.take(sale.id, pool, holdId, `buyer-${n}`, sale.holdSeconds);
      return { holdId, deadline: t!.deadline };
    };
    const held = await take(0, 'a');
    const paying = await take(1, 'b');
    const sold = await take(2, 'c');
    const released = await take(2, 'd');
    await s.inventory.beginPay(sale.id, paying.holdId, 'buyer-b');
    await s.inventory.beginPay(sale.id, sold.holdId, 'buyer-c');
    await s.inventory.settle(sale.id, sold.holdId, 'ord_c');
    await s.inventory.release(sale.id, released.holdId, 'buyer-d');

    const active = await s.sales.activeHolds(sale);
    expect(active.sort((x, y) => x.holdId.localeCompare(y.holdId))).toEqual([
      { holdId: held.holdId, state: 'held', deadline: held.deadline },
      { holdId: paying.holdId, state: 'paying', deadline: paying.deadline },
    ]);
    const st = await s.sales.stats(sale);
    expect(active.length).toBe(st.held + st.paying);
  });

  it('is empty for a sale nobody holds anything in', async () => {
    const sale = await s.sales.create(saleInput({ stock: 2, pools: 2 }));
    expect(await s.sales.activeHolds(sale)).toEqual([]);
  });
});
