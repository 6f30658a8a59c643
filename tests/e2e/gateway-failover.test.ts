import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, ADMIN_TOKEN, type Stack } from '../helpers/stack.js';
import { BuyerSocket } from '../helpers/buyer.js';
import { saleInput, uniqueId } from '../helpers/env.js';
import { expectCleanAudit, pay } from './kit.js';

let stack: Stack;
const open: BuyerSocket[] = [];
beforeAll(async () => {
  stack = await startStack({ gateways: 2 });
});
afterAll(async () => {
  await Promise.all(open.filter((b) => b.ws.readyState === b.ws.OPEN).map((b) => b.close()));
  await stack?.close();
});

async function connect(saleId: string, buyer: string, gateway: number): Promise<BuyerSocket> {
  const b = await BuyerSocket.open((t) => stack.wsUrl(saleId, t, gateway), buyer);
  open.push(b);
  await b.next('sale');
  return b;
}

describe('a gateway process goes away', () => {
  it('frames reach a buyer on either gateway', async () => {
    const sale = (await stack.admin('POST', '/v1/admin/sales', saleInput({ stock: 2 }))).body;
    const a = await connect(sale.id, uniqueId('buyer'), 0);
    const b = await connect(sale.id, uniqueId('buyer'), 1);
    const [ha, hb] = await Promise.all([a.request({ type: 'join' }, 'admitted'), b.request({ type: 'join' }, 'admitted')]);
    expect(ha.holdId).not.toBe(hb.holdId);
    expect(await pay(b, hb.holdId, 'pm_card_visa')).toMatchObject({ type: 'order_confirmed' });
    await expectCleanAudit(stack, sale.id, { sold: 1, held: 1 });
  });

  it('its buyers reconnect to another gateway and get their place and hold back', async () => {
    const sale = (await stack.admin('POST', '/v1/admin/sales', saleInput({ stock: 1, pools: 1 }))).body;
    const holderId = uniqueId('buyer');
    const waiterId = uniqueId('buyer');
    const holder = await connect(sale.id, holderId, 0);
    const { holdId } = await holder.request({ type: 'join' }, 'admitted');
    const waiter = await connect(sale.id, waiterId, 0);
    expect(await waiter.request({ type: 'join' }, (f) => f.type !== 'sale')).toMatchObject({ type: 'queued', position: 1 });

    // Gateway 0 dies without a goodbye (it may hold the admitter lease too).
    await stack.gateways[0]!.kill('SIGKILL');
    await Promise.all([holder.closed, waiter.closed]);

    const holder2 = await connect(sale.id, holderId, 1);
    expect(await holder2.next((f) => f.type !== 'sale')).toMatchObject({ type: 'admitted', holdId });
    const waiter2 = await connect(sale.id, waiterId, 1);
    expect(await waiter2.next((f) => f.type !== 'sale')).toMatchObject({ type: 'queued', position: 1 });

    // The surviving gateway carries on: the holder leaves, the waiter is admitted through it.
    await holder2.request({ type: 'leave' }, 'left');
    const admitted = await waiter2.next('admitted', 15_000);
    expect(await pay(waiter2, admitted.holdId, 'pm_card_visa')).toMatchObject({ type: 'order_confirmed' });
    const audit = await fetch(stack.url(`/v1/admin/sales/${sale.id}/audit`, 1), { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    expect(await audit.json()).toMatchObject({ ok: true, problems: [], sold: 1, orders: 1, held: 0 });
  });
});
