import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, ADMIN_TOKEN, type Stack } from '../tests/helpers/stack.js';
import { saleInput, uniqueId } from '../tests/helpers/env.js';

let stack: Stack;
beforeAll(async () => {
  // One test sends 66 wrong tokens on purpose: no login throttle here (tests/security/login-throttle.test.ts has it).
  stack = await startStack({ gatewayEnv: { ADMIN_AUTH_FAILURES_PER_MINUTE: '0' } });
});
afterAll(async () => {
  await stack?.close();
});

/** A raw request: any headers, any body bytes. */
async function raw(method: string, path: string, opts: { auth?: string | null; body?: string } = {}) {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  const auth = opts.auth === undefined ? `Bearer ${ADMIN_TOKEN}` : opts.auth;
  if (auth !== null) headers.authorization = auth;
  const res = await fetch(stack.url(path), { method, headers, body: opts.body });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null, contentType: res.headers.get('content-type') };
}

function expectError(r: { status: number; body: any; contentType: string | null }, status: number, code: string) {
  expect(r.status, JSON.stringify(r.body)).toBe(status);
  expect(r.contentType).toContain('application/json');
  expect(r.body).toEqual({ error: expect.objectContaining({ code, message: expect.any(String) }) });
  expect(Object.keys(r.body.error).every((k) => ['code', 'message', 'details'].includes(k))).toBe(true);
}

describe('operator API: the admin token', () => {
  const routes: [string, (id: string) => string, unknown][] = [
    ['POST', () => '/v1/admin/sales', saleInput()],
    ['GET', () => '/v1/admin/sales', undefined],
    ['GET', (id) => `/v1/admin/sales/${id}`, undefined],
    ['PATCH', (id) => `/v1/admin/sales/${id}`, { admitPerSecond: 7 }],
    ['POST', (id) => `/v1/admin/sales/${id}/pause`, undefined],
    ['POST', (id) => `/v1/admin/sales/${id}/resume`, undefined],
    ['POST', (id) => `/v1/admin/sales/${id}/end`, undefined],
    ['POST', (id) => `/v1/admin/sales/${id}/restock`, { quantity: 5 }],
    ['GET', (id) => `/v1/admin/sales/${id}/audit`, undefined],
    ['GET', () => '/v1/admin/dead-letters', undefined],
    ['POST', () => '/v1/admin/dead-letters/x/replay', undefined],
  ];
  const badAuth: [string, string | null][] = [
    ['missing', null],
    ['wrong', 'Bearer not-the-admin-token'],
    ['right token, no Bearer', ADMIN_TOKEN],
    ['right token, other scheme', `Basic ${ADMIN_TOKEN}`],
    ['right token with a suffix', `Bearer ${ADMIN_TOKEN}x`],
    ['empty Bearer', 'Bearer '],
  ];

  it('every route answers 401 to a missing or wrong token, and nothing changes', async () => {
    const sale = (await stack.admin('POST', '/v1/admin/sales', saleInput({ stock: 4 }))).body;
    const before = (await stack.admin('GET', `/v1/admin/sales/${sale.id}`)).body;
    const fresh = saleInput();
    for (const [method, path, body] of routes) {
      for (const [name, auth] of badAuth) {
        const payload = path(sale.id) === '/v1/admin/sales' && method === 'POST' ? fresh : body;
        const r = await raw(method, path(sale.id), { auth, body: payload === undefined ? undefined : JSON.stringify(payload) });
        expect(r.status, `${method} ${path(sale.id)} with ${name} token`).toBe(401);
        expectError(r, 401, 'unauthorized');
      }
    }
    expect((await stack.admin('GET', `/v1/admin/sales/${sale.id}`)).body).toEqual(before);
    expect((await stack.admin('GET', `/v1/admin/sales/${fresh.id}`)).status).toBe(404);
    expect((await stack.admin('GET', `/v1/admin/sales/${sale.id}/audit`)).body).toMatchObject({ ok: true, problems: [], stock: 4 });
  });
});

describe('operator API: creating sales', () => {
  const invalid: [string, Record<string, unknown>][] = [
    ['id with upper case', { id: 'Bad-ID' }],
    ['id too long', { id: 'a'.repeat(65) }],
    ['id with a slash', { id: 'a/b' }],
    ['name missing', { name: undefined }],
    ['name empty', { name: '   ' }],
    ['name a number', { name: 42 }],
    ['sku missing', { sku: undefined }],
    ['price missing', { price: undefined }],
    ['price amount 0', { price: { amount: 0, currency: 'eur' } }],
    ['price amount fractional', { price: { amount: 12.5, currency: 'eur' } }],
    ['price amount a string', { price: { amount: '1999', currency: 'eur' } }],
    ['price currency upper case', { price: { amount: 100, currency: 'EUR' } }],
    ['price currency too long', { price: { amount: 100, currency: 'euro' } }],
    ['price with an unknown field', { price: { amount: 100, currency: 'eur', tax: 1 } }],
    ['stock 0', { stock: 0 }],
    ['stock negative', { stock: -5 }],
    ['stock fractional', { stock: 1.5 }],
    ['stock a string', { stock: '10' }],
    ['pools 0', { pools: 0 }],
    ['pools > stock', { stock: 3, pools: 4 }],
    ['startsAt not a date', { startsAt: 'tomorrow' }],
    ['endsAt not a date', { endsAt: '2026-13-45T00:00:00Z' }],
    ['endsAt before startsAt', { startsAt: '2030-01-01T12:00:00Z', endsAt: '2030-01-01T11:00:00Z' }],
    ['endsAt equal to startsAt', { startsAt: '2030-01-01T12:00:00Z', endsAt: '2030-01-01T12:00:00Z' }],
    ['admitPerSecond 0', { admitPerSecond: 0 }],
    ['maxActiveHolds 0', { maxActiveHolds: 0 }],
    ['holdSeconds 0', { holdSeconds: 0 }],
    ['holdSeconds a string', { holdSeconds: '60' }],
    ['perBuyerLimit 0', { perBuyerLimit: 0 }],
    ['unknown field', { colour: 'red' }],
    ['status is not settable', { status: 'ended' }],
  ];

  it.each(invalid)('%s -> 400 invalid_request, nothing stored', async (_name, over) => {
    const body = { ...saleInput(), ...over };
    const r = await raw('POST', '/v1/admin/sales', { body: JSON.stringify(body) });
    expectError(r, 400, 'invalid_request');
    if (typeof body.id === 'string' && /^[a-z0-9-]{1,64}$/.test(body.id)) {
      expect((await stack.admin('GET', `/v1/admin/sales/${body.id}`)).status).toBe(404);
    }
  });

  it('details name the fields that are wrong', async () => {
    const r = await raw('POST', '/v1/admin/sales', { body: JSON.stringify({ ...saleInput(), stock: 0, holdSeconds: -1 }) });
    expectError(r, 400, 'invalid_request');
    const paths = (r.body.error.details as { path: string }[]).map((d) => d.path);
    expect(paths).toEqual(expect.arrayContaining(['stock', 'holdSeconds']));
  });

  it.each([
    ['not JSON', '{"name": '],
    ['JSON with a trailing comma', '{"name": "x",}'],
  ])('%s -> 400 invalid_json', async (_name, body) => {
    expectError(await raw('POST', '/v1/admin/sales', { body }), 400, 'invalid_json');
  });

  it.each([
    ['an empty body', ''],
    ['a JSON array', '[]'],
    ['JSON null', 'null'],
    ['a JSON string', '"sale"'],
  ])('%s -> 400 invalid_request', async (_name, body) => {
    expectError(await raw('POST', '/v1/admin/sales', { body }), 400, 'invalid_request');
  });

  it('a body over MAX_BODY_BYTES -> 413, nothing stored', async () => {
    const id = uniqueId('big');
    const body = JSON.stringify({ ...saleInput({ id }), name: 'x'.repeat(70 * 1024) });
    expectError(await raw('POST', '/v1/admin/sales', { body }), 413, 'payload_too_large');
    expect((await stack.admin('GET', `/v1/admin/sales/${id}`)).status).toBe(404);
    // The gateway is fine afterwards.
    expect((await raw('GET', '/v1/admin/sales')).status).toBe(200);
  });

  it('201 with the sale as stored; defaults filled; GET returns it with stats', async () => {
    const input = { id: uniqueId('made'), name: 'Drop', sku: 'SKU-1', price: { amount: 500, currency: 'usd' }, stock: 7 };
    const r = await raw('POST', '/v1/admin/sales', { body: JSON.stringify(input) });
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({ ...input, pools: 1, admitPerSecond: 100, maxActiveHolds: 1000, holdSeconds: 300, perBuyerLimit: 1 });
    expect(Date.parse(r.body.endsAt)).toBeGreaterThan(Date.parse(r.body.startsAt));
    const got = await stack.admin('GET', `/v1/admin/sales/${input.id}`);
    expect(got.status).toBe(200);
    expect(got.body.stats).toMatchObject({ state: 'open', stock: 7, available: 7, held: 0, paying: 0, sold: 0, waiting: 0, admitted: 0, expired: 0 });
    const list = await stack.admin('GET', '/v1/admin/sales');
    expect(list.body.sales.map((s: { id: string }) => s.id)).toContain(input.id);
  });

  it('an id is generated when absent', async () => {
    const { id: _omit, ...input } = saleInput();
    const r = await raw('POST', '/v1/admin/sales', { body: JSON.stringify(input) });
    expect(r.status).toBe(201);
    expect(r.body.id).toMatch(/^[a-z0-9-]{1,64}$/);
  });

  it('a duplicate id -> 409 sale_exists, the first sale unchanged', async () => {
    const input = saleInput({ stock: 3 });
    expect((await stack.admin('POST', '/v1/admin/sales', input)).status).toBe(201);
    const again = await raw('POST', '/v1/admin/sales', { body: JSON.stringify({ ...input, stock: 99, name: 'Other' }) });
    expectError(again, 409, 'sale_exists');
    expect((await stack.admin('GET', `/v1/admin/sales/${input.id}`)).body).toMatchObject({ stock: 3, name: input.name, stats: { stock: 3 } });
  });
});

describe('operator API: unknown sales and routes', () => {
  it.each([
    ['GET', '/v1/admin/sales/no-such-sale', undefined],
    ['PATCH', '/v1/admin/sales/no-such-sale', { admitPerSecond: 5 }],
    ['POST', '/v1/admin/sales/no-such-sale/pause', undefined],
    ['POST', '/v1/admin/sales/no-such-sale/resume', undefined],
    ['POST', '/v1/admin/sales/no-such-sale/end', undefined],
    ['POST', '/v1/admin/sales/no-such-sale/restock', { quantity: 1 }],
    ['GET', '/v1/admin/sales/no-such-sale/audit', undefined],
  ])('%s %s -> 404 sale_not_found', async (method, path, body) => {
    expectError(await raw(method, path, { body: body === undefined ? undefined : JSON.stringify(body) }), 404, 'sale_not_found');
  });

  it('an unknown dead letter -> 404', async () => {
    expectError(await raw('POST', '/v1/admin/dead-letters/nope/replay'), 404, 'dead_letter_not_found');
  });

  it.each([
    ['GET', '/nope'],
    ['GET', '/v1/admin/nothing-here'],
    ['DELETE', '/v1/admin/sales'],
    ['POST', '/v2/admin/sales'],
  ])('%s %s -> 404 in the error shape', async (method, path) => {
    expectError(await raw(method, path, { auth: null }), 404, 'not_found');
  });
});
