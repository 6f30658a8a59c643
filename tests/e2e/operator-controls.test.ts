import { describe, expect, it } from 'vitest';
import type { Stack } from '../helpers/stack.js';
import { Buyers, useStack, createSale, expectCleanAudit, pay, stats, waitAdmitterTicks } from './kit.js';

let stack: Stack;
let buyers: Buyers;
useStack((s, b) => ((stack = s), (buyers = b)));

const answer = (f: { type: string }) => f.type !== 'sale';

describe('operator controls as buyers see them', () => {
  it('pause: no admissions while paused; resume admits again', async () => {
    const sale = await createSale(stack, { stock: 3 });
    const early = await buyers.connect(sale.id);
    expect((await stack.admin('POST', `/v1/admin/sales/${sale.id}/pause`)).status).toBe(200);
    await early.next((f) => f.type === 'sale' && f.state === 'paused');

    const w = await buyers.queued(sale.id);
    expect(w.b.frames[0]).toMatchObject({ type: 'sale', state: 'paused' });
    await waitAdmitterTicks(stack, 10);
    expect(await stats(stack, sale.id)).toMatchObject({ state: 'paused', held: 0, available: 3, waiting: 1, admitted: 0 });
    expect(w.b.frames.some((f) => f.type === 'admitted')).toBe(false);

    expect((await stack.admin('POST', `/v1/admin/sales/${sale.id}/resume`)).status).toBe(200);
    await w.b.next((f) => f.type === 'sale' && f.state === 'open');
    expect((await w.b.next('admitted')).holdId).toMatch(/^hold_/);
    await expectCleanAudit(stack, sale.id, { state: 'open', held: 1, available: 2 });
  });

  it('end: joins are refused; buyers are told the sale ended', async () => {
    const sale = await createSale(stack, { stock: 2 });
    const holder = await buyers.holding(sale.id);
    const watcher = await buyers.connect(sale.id);
    expect((await stack.admin('POST', `/v1/admin/sales/${sale.id}/end`)).status).toBe(200);
    await watcher.next((f) => f.type === 'sale' && f.state === 'ended');
    await holder.b.next((f) => f.type === 'sale' && f.state === 'ended');

    const refused = await watcher.request({ type: 'join' }, answer);
    expect(refused).toMatchObject({ type: 'error', code: 'sale_ended' });
    expect(typeof refused.message).toBe('string');
    const late = await buyers.connect(sale.id);
    expect(late.frames[0]).toMatchObject({ type: 'sale', state: 'ended' });
    expect(await late.request({ type: 'join' }, answer)).toMatchObject({ type: 'error', code: 'sale_ended' });
    expect((await stats(stack, sale.id)).waiting).toBe(0);
    await expectCleanAudit(stack, sale.id, { state: 'ended' });
  });

  it('restock while sold out: the waiters are admitted again', async () => {
    const sale = await createSale(stack, { stock: 1 });
    const holder = await buyers.holding(sale.id);
    const waiters = [await buyers.queued(sale.id), await buyers.queued(sale.id)];
    expect(await pay(holder.b, holder.holdId, 'pm_card_visa')).toMatchObject({ type: 'order_confirmed' });
    await Promise.all(waiters.map((w) => w.b.next('sold_out')));
    expect((await stats(stack, sale.id)).state).toBe('sold_out');

    const r = await stack.admin('POST', `/v1/admin/sales/${sale.id}/restock`, { quantity: 2 });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ id: sale.id, stock: 3 });
    const admitted = await Promise.all(waiters.map((w) => w.b.next('admitted')));
    expect(new Set(admitted.map((a) => a.holdId)).size).toBe(2);
    await waiters[0]!.b.next((f) => f.type === 'sale' && f.state === 'open');
    expect(await stats(stack, sale.id)).toMatchObject({ stock: 3, sold: 1, held: 2, available: 0 });
    await expectCleanAudit(stack, sale.id, { stock: 3, sold: 1, orders: 1, held: 2 });
  });

  it('PATCH admitPerSecond takes effect on the running sale', async () => {
    // One admission per second at first: six waiters would take about six seconds.
    const sale = await createSale(stack, { stock: 10, admitPerSecond: 1 });
    const ws = await Promise.all(Array.from({ length: 6 }, () => buyers.connect(sale.id)));
    for (const b of ws) b.send({ type: 'join' });
    await Promise.race(ws.map((b) => b.next('admitted')));
    const r = await stack.admin('PATCH', `/v1/admin/sales/${sale.id}`, { admitPerSecond: 1000 });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ admitPerSecond: 1000 });
    const patchedAt = Date.now();
    await Promise.all(ws.map((b) => b.next('admitted')));
    // At one per second the last of the other five would come 4 s or more after the PATCH.
    expect(Date.now() - patchedAt).toBeLessThan(3000);
    expect(await stats(stack, sale.id)).toMatchObject({ held: 6, waiting: 0 });
    await expectCleanAudit(stack, sale.id, { held: 6, available: 4 });
  });

  it('PATCH maxActiveHolds limits how many hold at once', async () => {
    const sale = await createSale(stack, { stock: 10, maxActiveHolds: 1 });
    const first = await buyers.holding(sale.id);
    const second = await buyers.queued(sale.id);
    await waitAdmitterTicks(stack, 10);
    expect(await stats(stack, sale.id)).toMatchObject({ held: 1, waiting: 1 });
    expect((await stack.admin('PATCH', `/v1/admin/sales/${sale.id}`, { maxActiveHolds: 2 })).status).toBe(200);
    expect((await second.b.next('admitted')).holdId).not.toBe(first.holdId);
    await expectCleanAudit(stack, sale.id, { held: 2 });
  });
});
