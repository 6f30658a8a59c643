import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, ADMIN_TOKEN, BUYER_SECRET, type Stack } from '../helpers/stack.js';
import { saleInput, uniqueId } from '../helpers/env.js';
import { rawRequest, tryUpgrade } from '../helpers/raw-http.js';
import { mintBuyerToken } from '../../shared/buyer-token.js';

/**
 * Failed operator logins are throttled per remote address: after ADMIN_AUTH_FAILURES_PER_MINUTE wrong
 * or missing admin tokens, every operator request from that address is refused 429
 * too_many_auth_failures with Retry-After, right token or not, until the minute that began with its
 * first failure is over (the window's end is covered in gateway/address-limits.test.ts with a clock).
 * Other loopback source addresses (127.0.0.x) stand for other clients.
 */
const LIMIT = 3;
const GUESSER = '127.0.0.3';
const OPERATOR = '127.0.0.1';
let stack: Stack;
let saleId: string;
beforeAll(async () => {
  stack = await startStack({ workers: 0, gatewayEnv: { ADMIN_AUTH_FAILURES_PER_MINUTE: String(LIMIT) } });
  const r = await stack.admin('POST', '/v1/admin/sales', saleInput({ stock: 2 }));
  expect(r.status).toBe(201);
  saleId = r.body.id;
});
afterAll(async () => {
  await stack?.close();
});

const RIGHT = { authorization: `Bearer ${ADMIN_TOKEN}` };
const admin = (path: string, o: { method?: string; headers?: Record<string, string>; body?: unknown; from: string }) =>
  rawRequest(stack.url(path), { method: o.method, headers: o.headers, body: o.body, localAddress: o.from });

describe('failed operator logins, throttled per address', () => {
  it('an operator who never fails is never throttled, however many requests', async () => {
    for (let i = 0; i < LIMIT * 10; i++) {
      expect((await admin(`/v1/admin/sales/${saleId}`, { headers: RIGHT, from: OPERATOR })).status).toBe(200);
    }
  });

  it(`after ${LIMIT} wrong or missing tokens the address gets 429 with Retry-After, even with the right token, and changes nothing`, async () => {
    const attempts: Record<string, string>[] = [{ authorization: 'Bearer guess-1' }, {}, { authorization: `Basic ${ADMIN_TOKEN}` }];
    for (const headers of attempts) {
      const r = await admin('/v1/admin/sales', { headers, from: GUESSER });
      expect(r.status).toBe(401);
      expect(r.json.error.code).toBe('unauthorized');
    }
    const fresh = saleInput();
    for (const [path, method, headers, body] of [
      ['/v1/admin/sales', 'GET', RIGHT, undefined],
      ['/v1/admin/sales', 'POST', RIGHT, fresh],
      [`/v1/admin/sales/${saleId}/pause`, 'POST', RIGHT, undefined],
      ['/v1/admin/live', 'GET', RIGHT, undefined],
      ['/v1/admin/sales', 'GET', { authorization: 'Bearer guess-4' }, undefined],
    ] as const) {
      const r = await admin(path, { method, headers, body, from: GUESSER });
      expect(r.status, `${method} ${path}`).toBe(429);
      expect(r.json).toEqual({ error: { code: 'too_many_auth_failures', message: expect.any(String) } });
      const retryAfter = Number(r.headers['retry-after']);
      expect(retryAfter).toBeGreaterThanOrEqual(1);
      expect(retryAfter).toBeLessThanOrEqual(60);
    }
    expect((await stack.admin('GET', `/v1/admin/sales/${fresh.id}`)).status).toBe(404);
    expect((await stack.admin('GET', `/v1/admin/sales/${saleId}`)).body.stats.state).toBe('open');
  });

  it('another address is not affected, and the throttled one may still be a buyer', async () => {
    expect((await admin('/v1/admin/sales', { headers: RIGHT, from: OPERATOR })).status).toBe(200);
    expect((await admin('/v1/admin/sales', { headers: RIGHT, from: '127.0.0.4' })).status).toBe(200);
    const token = await mintBuyerToken(BUYER_SECRET, uniqueId('b'));
    const o = await tryUpgrade(stack.wsUrl(saleId, token), { localAddress: GUESSER });
    expect(o).toMatchObject({ opened: true, first: { type: 'sale' } });
  });
});
