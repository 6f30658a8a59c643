import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../tests/helpers/stack.js';
import { saleInput } from '../tests/helpers/env.js';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => {
  await stack?.close();
});

async function newSale(over = {}) {
  const r = await stack.admin('POST', '/v1/admin/sales', saleInput({ stock: 10, ...over }));
  expect(r.status).toBe(201);
  return r.body as { id: string; startsAt: string; endsAt: string; [k: string]: any };
}

const get = async (id: string) => (await stack.admin('GET', `/v1/admin/sales/${id}`)).body;

function expectError(r: { status: number; body: any }, status: number, code: string) {
  expect(r.status, JSON.stringify(r.body)).toBe(status);
  expect(r.body).toEqual({ error: expect.objectContaining({ code, message: expect.any(String) }) });
}

async function expectCleanAudit(id: string, expected: Record<string, unknown> = {}) {
  const r = await stack.admin('GET', `/v1/admin/sales/${id}/audit`);
  expect(r.status).toBe(200);
  expect(r.body).toMatchObject({ ok: true, problems: [], orders: 0, ...expected });
}

describe('PATCH /v1/admin/sales/{id}', () => {
  it('changes each allowed field and answers the sale with stats', async () => {
    const sale = await newSale();
    const endsAt = new Date(Date.parse(sale.endsAt) + 3600_000).toISOString();
    const r = await stack.admin('PATCH', `/v1/admin/sales/${sale.id}`, { admitPerSecond: 7, maxActiveHolds: 3, holdSeconds: 42, endsAt });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ id: sale.id, admitPerSecond: 7, maxActiveHolds: 3, holdSeconds: 42, endsAt, stats: { state: 'open', stock: 10 } });
    expect(await get(sale.id)).toMatchObject({ admitPerSecond: 7, maxActiveHolds: 3, holdSeconds: 42, endsAt });
    const one = await stack.admin('PATCH', `/v1/admin/sales/${sale.id}`, { holdSeconds: 43 });
    expect(one.body).toMatchObject({ admitPerSecond: 7, holdSeconds: 43 });
    await expectCleanAudit(sale.id);
  });

  it.each([
    ['an empty object', {}],
    ['admitPerSecond 0', { admitPerSecond: 0 }],
    ['admitPerSecond a string', { admitPerSecond: '5' }],
    ['maxActiveHolds negative', { maxActiveHolds: -1 }],
    ['holdSeconds fractional', { holdSeconds: 1.5 }],
    ['endsAt not a date', { endsAt: 'soon' }],
    ['stock is not patchable', { stock: 1000 }],
    ['perBuyerLimit is not patchable', { perBuyerLimit: 5 }],
    ['an unknown field', { colour: 'red' }],
  ])('%s -> 400, the sale unchanged', async (_name, body) => {
    const sale = await newSale();
    const before = await get(sale.id);
    expectError(await stack.admin('PATCH', `/v1/admin/sales/${sale.id}`, body), 400, 'invalid_request');
    expect(await get(sale.id)).toEqual(before);
  });

  it('endsAt before startsAt -> 400, the sale unchanged', async () => {
    const sale = await newSale();
    const before = await get(sale.id);
    const endsAt = new Date(Date.parse(sale.startsAt) - 60_000).toISOString();
    expectError(await stack.admin('PATCH', `/v1/admin/sales/${sale.id}`, { endsAt }), 400, 'invalid_request');
    expect(await get(sale.id)).toEqual(before);
  });
});

describe('pause, resume, end', () => {
  it('pause -> paused, resume -> open, each 200 with the sale; repeating is harmless', async () => {
    const sale = await newSale();
    const p = await stack.admin('POST', `/v1/admin/sales/${sale.id}/pause`);
    expect(p.status).toBe(200);
    expect(p.body).toMatchObject({ id: sale.id, stats: { state: 'paused' } });
    expect((await stack.admin('POST', `/v1/admin/sales/${sale.id}/pause`)).body.stats.state).toBe('paused');
    const r = await stack.admin('POST', `/v1/admin/sales/${sale.id}/resume`);
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ stats: { state: 'open' } });
    expect((await stack.admin('POST', `/v1/admin/sales/${sale.id}/resume`)).body.stats.state).toBe('open');
    await expectCleanAudit(sale.id, { state: 'open' });
  });

  it('end -> ended; resume or pause after end -> 409 sale_conflict and it stays ended', async () => {
    const sale = await newSale();
    const e = await stack.admin('POST', `/v1/admin/sales/${sale.id}/end`);
    expect(e.status).toBe(200);
    expect(e.body.stats.state).toBe('ended');
    expectError(await stack.admin('POST', `/v1/admin/sales/${sale.id}/resume`), 409, 'sale_conflict');
    expectError(await stack.admin('POST', `/v1/admin/sales/${sale.id}/pause`), 409, 'sale_conflict');
    expect((await stack.admin('POST', `/v1/admin/sales/${sale.id}/end`)).status).toBe(200);
    expect((await get(sale.id)).stats.state).toBe('ended');
    await expectCleanAudit(sale.id, { state: 'ended' });
  });

  it('a paused sale can be ended', async () => {
    const sale = await newSale();
    await stack.admin('POST', `/v1/admin/sales/${sale.id}/pause`);
    expect((await stack.admin('POST', `/v1/admin/sales/${sale.id}/end`)).body.stats.state).toBe('ended');
    await expectCleanAudit(sale.id, { state: 'ended' });
  });

  it('a sale created for the future is scheduled', async () => {
    const startsAt = new Date(Date.now() + 3600_000).toISOString();
    const sale = await newSale({ startsAt });
    expect((await get(sale.id)).stats.state).toBe('scheduled');
    // The pre-queue key is published only once the sale has started.
    expect(sale).not.toHaveProperty('prequeueKey');
    await expectCleanAudit(sale.id, { state: 'scheduled' });
  });
});

describe('POST /v1/admin/sales/{id}/restock', () => {
  it('stock and available grow by n; 200 with the sale', async () => {
    const sale = await newSale({ stock: 5, pools: 2 });
    const r = await stack.admin('POST', `/v1/admin/sales/${sale.id}/restock`, { quantity: 3 });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ id: sale.id, stock: 8, stats: { stock: 8, available: 8 } });
    const one = await stack.admin('POST', `/v1/admin/sales/${sale.id}/restock`, { quantity: 1 });
    expect(one.body).toMatchObject({ stock: 9, stats: { stock: 9, available: 9 } });
    await expectCleanAudit(sale.id, { stock: 9, available: 9 });
  });

  it.each([
    ['quantity 0', { quantity: 0 }],
    ['quantity negative', { quantity: -2 }],
    ['quantity fractional', { quantity: 1.5 }],
    ['quantity a string', { quantity: '3' }],
    ['quantity missing', {}],
    ['an unknown field', { quantity: 1, note: 'x' }],
    ['no body', undefined],
  ])('%s -> 400, stock unchanged', async (_name, body) => {
    const sale = await newSale({ stock: 5 });
    expectError(await stack.admin('POST', `/v1/admin/sales/${sale.id}/restock`, body), 400, 'invalid_request');
    expect((await get(sale.id)).stats).toMatchObject({ stock: 5, available: 5 });
    await expectCleanAudit(sale.id, { stock: 5 });
  });
});
