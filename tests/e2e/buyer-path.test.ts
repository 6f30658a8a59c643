import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../helpers/stack.js';
import { BuyerSocket } from '../helpers/buyer.js';
import { saleInput, uniqueId } from '../helpers/env.js';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => {
  await stack?.close();
});

async function createSale(over = {}) {
  const r = await stack.admin('POST', '/v1/admin/sales', saleInput(over));
  expect(r.status).toBe(201);
  return r.body as { id: string };
}

describe('buyer path over real WebSockets', () => {
  it('join -> queued -> admitted -> pay -> order_confirmed, and the audit is clean', async () => {
    const sale = await createSale({ stock: 3 });
    const b = await BuyerSocket.open((t) => stack.wsUrl(sale.id, t), uniqueId('buyer'));
    await b.next('sale');
    const queued = await b.request({ type: 'join' }, (f) => f.type === 'queued' || f.type === 'admitted');
    expect(['queued', 'admitted']).toContain(queued.type);
    const admitted = await b.next('admitted');
    expect(admitted.holdId).toMatch(/^hold_/);
    expect(Date.parse(admitted.expiresAt)).toBeGreaterThan(Date.now());
    await b.request({ type: 'pay', holdId: admitted.holdId, paymentMethod: 'pm_card_visa' }, 'payment_pending');
    const confirmed = await b.next('order_confirmed');
    expect(confirmed.holdId).toBe(admitted.holdId);
    expect(confirmed.orderId).toMatch(/^ord_/);
    const charges = stack.standIn.charges().filter((c) => c.metadata.holdId === admitted.holdId);
    expect(charges).toHaveLength(1);
    const audit = await stack.admin('GET', `/v1/admin/sales/${sale.id}/audit`);
    expect(audit.body).toMatchObject({ ok: true, sold: 1, orders: 1, available: 2, problems: [] });
    await b.close();
  });
});
