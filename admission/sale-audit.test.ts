import { afterAll, describe, expect, it } from 'vitest';
import { services, saleInput, uniqueId } from '../tests/helpers/env.js';
import { auditSale } from './sale-audit.js';
import { PaymentStore } from '../settlement/payment-store.js';

const s = services();
afterAll(() => s.close());

const audit = async (id: string) => auditSale(s.db, s.sales, s.inventory, (await s.sales.get(id))!);

describe('audit finds what is wrong, and only that', () => {
  it('a clean sale is ok', async () => {
    const sale = await s.sales.create(saleInput({ stock: 4, pools: 2 }));
    await s.inventory.take(sale.id, 0, s.inventory.holdId(0, 'a1'), 'b1', 60);
    expect(await audit(sale.id)).toMatchObject({ ok: true, problems: [], stock: 4, held: 1, available: 3, orders: 0 });
  });

  it('a broken pool equation, a unit counted without its hold, and an oversell are each reported', async () => {
    const sale = await s.sales.create(saleInput({ stock: 4, pools: 2 }));
    await s.redis.hincrby(s.inventory.keys(sale.id, 1).pool, 'available', 1);
    await s.redis.hincrby(s.inventory.keys(sale.id, 0).pool, 'held', 1);
    await s.redis.hincrby(s.inventory.keys(sale.id, 0).pool, 'available', -1);
    const r = await audit(sale.id);
    expect(r.ok).toBe(false);
    expect(r.problems).toEqual(expect.arrayContaining([
      expect.stringMatching(/^pool 1: stock 2 != available \+ held \+ paying \+ sold \(3\)$/),
      expect.stringMatching(/^pool 0: 0 held holds but counter says 1$/),
      expect.stringMatching(/^stock 4 != available/),
    ]));
  });

  it('orders that Redis does not count as sold, and a buyer over the limit, are reported', async () => {
    const sale = await s.sales.create(saleInput({ stock: 4, pools: 1, perBuyerLimit: 1 }));
    const store = new PaymentStore(s.db);
    for (const n of [1, 2]) {
      const job = { saleId: sale.id, holdId: `hold_0_${uniqueId('o').replace('-', '_')}`, buyer: 'greedy', attemptNo: 1, paymentMethod: 'pm_card_visa', amount: 1, currency: 'eur', perBuyerLimit: 1 };
      const { row } = await store.ensureAttempt(job);
      await store.commitOrder(row, `pi_audit_${n}_${sale.id}`);
    }
    const r = await audit(sale.id);
    expect(r.ok).toBe(false);
    expect(r.orders).toBe(2);
    expect(r.problems).toEqual(expect.arrayContaining([
      'orders in Postgres 2 != sold 0',
      'buyer greedy has 2 orders, more than perBuyerLimit 1',
      expect.stringMatching(/^order ord_0_o_\w+ has hold hold_0_o_\w+ that is not sold in Redis$/),
    ]));
  });

  it('the ledger\'s stock fence drifting from the orders of a pool is reported, and only that', async () => {
    const sale = await s.sales.create(saleInput({ stock: 4, pools: 2 }));
    const store = new PaymentStore(s.db);
    const holdId = s.inventory.holdId(1, uniqueId('d').replace('-', '_'));
    expect(await s.inventory.take(sale.id, 1, holdId, 'b1', 60)).not.toBeNull();
    await s.inventory.beginPay(sale.id, holdId, 'b1');
    const { row } = await store.ensureAttempt({ saleId: sale.id, holdId, buyer: 'b1', attemptNo: 1, paymentMethod: 'pm_card_visa', amount: 1, currency: 'eur', perBuyerLimit: 1 });
    const r = await store.commitOrder(row, `pi_drift_${sale.id}`);
    await s.inventory.settle(sale.id, holdId, r.kind === 'ordered' ? r.orderId : '');
    expect(await audit(sale.id)).toMatchObject({ ok: true, problems: [], sold: 1, orders: 1 });
    // A unit counted in pool 0 with no order behind it (a write outside the order statement).
    await s.db.query('UPDATE sale_pools SET sold = sold + 1 WHERE sale_id = $1 AND pool = 0', [sale.id]);
    expect(await audit(sale.id)).toMatchObject({ ok: false, problems: ['pool 0: ledger sold 1 != its orders 0 (fence drift)'] });
  });
});
