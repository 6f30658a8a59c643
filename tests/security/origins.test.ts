import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, ADMIN_TOKEN, BUYER_SECRET, type Proc, type Stack } from '../helpers/stack.js';
import { saleInput, uniqueId } from '../helpers/env.js';
import { rawRequest, tryUpgrade, type UpgradeOutcome } from '../helpers/raw-http.js';
import { mintBuyerToken } from '../../shared/buyer-token.js';

/**
 * ALLOWED_ORIGINS (contract, "Running it"): a WebSocket upgrade or an operator request whose Origin is
 * present and not allowed is refused 403 forbidden_origin and changes nothing; no Origin is allowed.
 * Unset, the allowed origin is the gateway's own (http or https + the request's Host).
 */
let stack: Stack;
let listed: Proc;
let saleId: string;
const ADMIN = { authorization: `Bearer ${ADMIN_TOKEN}` };
beforeAll(async () => {
  stack = await startStack({ workers: 0 });
  listed = await stack.addGateway({ ALLOWED_ORIGINS: 'https://shop.example, http://localhost:5173' });
  const r = await stack.admin('POST', '/v1/admin/sales', saleInput({ stock: 3 }));
  expect(r.status).toBe(201);
  saleId = r.body.id;
});
afterAll(async () => {
  await stack?.close();
});

const port = () => stack.gateways[0]!.port;
const own = () => `http://127.0.0.1:${port()}`;
const wsUrl = async (p = port()) => `ws://127.0.0.1:${p}/v1/sales/${saleId}/ws?token=${await mintBuyerToken(BUYER_SECRET, uniqueId('b'))}`;

function expectForbidden(o: UpgradeOutcome | { status: number; json: any }) {
  expect('opened' in o && o.opened, JSON.stringify(o)).toBeFalsy();
  if ('opened' in o && o.opened) return;
  expect(o.status).toBe(403);
  expect(o.json).toEqual({ error: { code: 'forbidden_origin', message: expect.any(String) } });
}

describe('ALLOWED_ORIGINS unset: only the gateway\'s own origin', () => {
  it.each(['http://evil.example', 'https://evil.example', 'null', 'http://127.0.0.1:1', 'http://localhost:5173'])(
    'a buyer upgrade with a valid token from Origin %s -> 403 forbidden_origin', async (origin) => {
      expectForbidden(await tryUpgrade(await wsUrl(), { origin }));
    },
  );

  it('a buyer upgrade without Origin (an app, k6), or from the gateway\'s own page, opens', async () => {
    expect(await tryUpgrade(await wsUrl())).toMatchObject({ opened: true, first: { type: 'sale' } });
    expect(await tryUpgrade(await wsUrl(), { origin: own() })).toMatchObject({ opened: true, first: { type: 'sale' } });
    // Either scheme with the request's Host: behind a TLS-terminating proxy the page was https.
    expect(await tryUpgrade(await wsUrl(), { origin: `https://127.0.0.1:${port()}` })).toMatchObject({ opened: true });
  });

  it('the origin is refused before the token is looked at (a forged token from a foreign page is 403, not 401)', async () => {
    expectForbidden(await tryUpgrade(`ws://127.0.0.1:${port()}/v1/sales/${saleId}/ws?token=forged`, { origin: 'http://evil.example' }));
  });

  it('operator requests with the right token from a foreign page -> 403 and nothing changes', async () => {
    const before = (await stack.admin('GET', `/v1/admin/sales/${saleId}`)).body;
    const fresh = saleInput();
    const foreign = { ...ADMIN, origin: 'https://evil.example' };
    expectForbidden(await rawRequest(stack.url('/v1/admin/sales'), { method: 'POST', headers: foreign, body: fresh }));
    expectForbidden(await rawRequest(stack.url(`/v1/admin/sales/${saleId}`), { method: 'PATCH', headers: foreign, body: { admitPerSecond: 3 } }));
    expectForbidden(await rawRequest(stack.url(`/v1/admin/sales/${saleId}/pause`), { method: 'POST', headers: foreign }));
    expectForbidden(await rawRequest(stack.url(`/v1/admin/sales/${saleId}/restock`), { method: 'POST', headers: foreign, body: { quantity: 5 } }));
    expectForbidden(await rawRequest(stack.url('/v1/admin/sales'), { headers: foreign }));
    expectForbidden(await rawRequest(stack.url('/v1/admin/live'), { headers: foreign }));
    expect((await stack.admin('GET', `/v1/admin/sales/${fresh.id}`)).status).toBe(404);
    expect((await stack.admin('GET', `/v1/admin/sales/${saleId}`)).body).toEqual(before);
  });

  it('operator requests from the gateway\'s own console, or without Origin, are served', async () => {
    const sameOrigin = { ...ADMIN, origin: own() };
    const fresh = saleInput();
    expect((await rawRequest(stack.url('/v1/admin/sales'), { method: 'POST', headers: sameOrigin, body: fresh })).status).toBe(201);
    expect((await rawRequest(stack.url(`/v1/admin/sales/${fresh.id}`), { headers: sameOrigin })).status).toBe(200);
    expect((await rawRequest(stack.url(`/v1/admin/sales/${fresh.id}`), { headers: ADMIN })).status).toBe(200);
  });

  it('a Host that is not the page\'s does not make a foreign page the same origin', async () => {
    // A foreign page cannot choose Host (the browser sets it to the gateway's); a mismatch is refused.
    expectForbidden(await rawRequest(stack.url('/v1/admin/sales'), { headers: { ...ADMIN, origin: own(), host: 'other.example:9001' } }));
  });

  it('public routes are not operator routes: the buyer page and /healthz answer any origin', async () => {
    expect((await rawRequest(stack.url(`/s/${saleId}`), { headers: { origin: 'https://evil.example' } })).status).toBe(200);
    expect((await rawRequest(stack.url('/healthz'), { headers: { origin: 'https://evil.example' } })).status).toBe(200);
  });

  it('refused upgrades left the sale as it was', async () => {
    const r = await stack.admin('GET', `/v1/admin/sales/${saleId}/audit`);
    expect(r.body).toMatchObject({ ok: true, problems: [], waiting: 0, held: 0, available: 3 });
  });
});

describe('ALLOWED_ORIGINS set: exactly the listed origins', () => {
  it('a listed origin opens buyer sockets and calls the operator API; no Origin still does', async () => {
    for (const origin of ['https://shop.example', 'http://localhost:5173']) {
      expect(await tryUpgrade(await wsUrl(listed.port), { origin })).toMatchObject({ opened: true, first: { type: 'sale' } });
      expect((await rawRequest(`http://127.0.0.1:${listed.port}/v1/admin/sales`, { headers: { ...ADMIN, origin } })).status).toBe(200);
    }
    expect(await tryUpgrade(await wsUrl(listed.port))).toMatchObject({ opened: true });
  });

  it('the gateway\'s own origin is not added to a list that does not name it', async () => {
    const self = `http://127.0.0.1:${listed.port}`;
    expectForbidden(await tryUpgrade(await wsUrl(listed.port), { origin: self }));
    expectForbidden(await rawRequest(`http://127.0.0.1:${listed.port}/v1/admin/sales`, { headers: { ...ADMIN, origin: self } }));
    expectForbidden(await tryUpgrade(await wsUrl(listed.port), { origin: 'http://shop.example' }));
  });
});
