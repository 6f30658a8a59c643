import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { SignJWT, type JWTPayload } from 'jose';
import { startStack, BUYER_SECRET, type Stack } from '../tests/helpers/stack.js';
import { saleInput, uniqueId } from '../tests/helpers/env.js';
import { mintBuyerToken } from '../shared/buyer-token.js';

let stack: Stack;
let saleId: string;
beforeAll(async () => {
  stack = await startStack();
  const r = await stack.admin('POST', '/v1/admin/sales', saleInput({ stock: 2 }));
  expect(r.status).toBe(201);
  saleId = r.body.id;
});
afterAll(async () => {
  await stack?.close();
});

type Outcome = { opened: true; first: any } | { opened: false; status: number; body: string };

/** Tries the upgrade; reports the refusal status and body, or the first frame of an open socket. */
function upgrade(url: string, headers: Record<string, string> = {}): Promise<Outcome> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ opened: false, status: res.statusCode ?? 0, body }));
    });
    ws.once('message', (data) => {
      resolve({ opened: true, first: JSON.parse(String(data)) });
      ws.close();
    });
    ws.once('error', (err) => {
      if (!/Unexpected server response/.test(err.message)) reject(err);
    });
  });
}

const b64url = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
const now = () => Math.floor(Date.now() / 1000);
const sign = (payload: JWTPayload, alg = 'HS256', secret = BUYER_SECRET) =>
  new SignJWT(payload).setProtectedHeader({ alg, typ: 'JWT' }).sign(new TextEncoder().encode(secret));
const wsUrl = (id: string, token?: string) =>
  `ws://127.0.0.1:${stack.gateways[0]!.port}/v1/sales/${id}/ws${token === undefined ? '' : `?token=${encodeURIComponent(token)}`}`;

async function expectRefused(url: string, status: number, code: string, headers?: Record<string, string>) {
  const o = await upgrade(url, headers);
  expect(o.opened, JSON.stringify(o)).toBe(false);
  if (o.opened) return;
  expect(o.status).toBe(status);
  const body = JSON.parse(o.body);
  expect(body.error.code).toBe(code);
  expect(typeof body.error.message).toBe('string');
}

describe('buyer JWT on the WebSocket upgrade', () => {
  const refusedTokens: [string, () => Promise<string | undefined>][] = [
    ['missing token', async () => undefined],
    ['empty token', async () => ''],
    ['not a JWT', async () => 'not-a-jwt'],
    ['wrong secret', () => sign({ sub: 'b1', exp: now() + 600 }, 'HS256', 'another-secret-entirely')],
    ['alg none', async () => `${b64url({ alg: 'none', typ: 'JWT' })}.${b64url({ sub: 'b1', exp: now() + 600 })}.`],
    ['alg none, signature kept from a real token', async () => {
      const real = await mintBuyerToken(BUYER_SECRET, 'b1');
      return `${b64url({ alg: 'none' })}.${real.split('.')[1]}.${real.split('.')[2]}`;
    }],
    ['HS512 with the right secret', () => sign({ sub: 'b1', exp: now() + 600 }, 'HS512')],
    ['HS384 with the right secret', () => sign({ sub: 'b1', exp: now() + 600 }, 'HS384')],
    ['missing exp', () => sign({ sub: 'b1' })],
    ['expired exp', () => sign({ sub: 'b1', exp: now() - 120 })],
    ['exp not a number', () => sign({ sub: 'b1', exp: String(now() + 600) as unknown as number })],
    ['not valid yet (nbf in the future)', () => sign({ sub: 'b1', exp: now() + 600, nbf: now() + 300 })],
    ['missing sub', () => sign({ exp: now() + 600 })],
    ['sub not a string', () => sign({ sub: 42 as unknown as string, exp: now() + 600 })],
    ['sub with a space', () => sign({ sub: 'b 1', exp: now() + 600 })],
    ['sub too long', () => sign({ sub: 'b'.repeat(129), exp: now() + 600 })],
    ['payload tampered after signing', async () => {
      const [h, , s] = (await mintBuyerToken(BUYER_SECRET, 'b1')).split('.');
      return `${h}.${b64url({ sub: 'someone-else', exp: now() + 600 })}.${s}`;
    }],
  ];

  it.each(refusedTokens)('%s -> 401', async (_name, token) => {
    await expectRefused(wsUrl(saleId, await token()), 401, 'unauthorized');
  });

  it('a valid token in the query opens the socket; the first frame is the sale', async () => {
    const o = await upgrade(wsUrl(saleId, await mintBuyerToken(BUYER_SECRET, uniqueId('buyer'))));
    expect(o).toMatchObject({ opened: true, first: { type: 'sale', state: 'open' } });
  });

  it('a valid token as Authorization: Bearer opens the socket too', async () => {
    const token = await mintBuyerToken(BUYER_SECRET, uniqueId('buyer'));
    const o = await upgrade(wsUrl(saleId), { authorization: `Bearer ${token}` });
    expect(o).toMatchObject({ opened: true, first: { type: 'sale' } });
  });

  it('an empty token parameter does not hide a valid Bearer header', async () => {
    const token = await mintBuyerToken(BUYER_SECRET, uniqueId('buyer'));
    const o = await upgrade(`${wsUrl(saleId)}?token=`, { authorization: `Bearer ${token}` });
    expect(o).toMatchObject({ opened: true, first: { type: 'sale' } });
  });

  it('a forged Bearer header is refused like a forged query token', async () => {
    const token = await sign({ sub: 'b1', exp: now() + 600 }, 'HS256', 'another-secret-entirely');
    await expectRefused(wsUrl(saleId), 401, 'unauthorized', { authorization: `Bearer ${token}` });
    await expectRefused(wsUrl(saleId), 401, 'unauthorized', { authorization: `Basic ${Buffer.from('a:b').toString('base64')}` });
  });

  it('an unknown sale -> 404 (with a valid token); a malformed sale id -> 404', async () => {
    const token = await mintBuyerToken(BUYER_SECRET, uniqueId('buyer'));
    await expectRefused(wsUrl('no-such-sale', token), 404, 'sale_not_found');
    await expectRefused(wsUrl('UPPER_case', token), 404, 'sale_not_found');
  });

  it('an unknown sale with no token is 401: credentials are checked first', async () => {
    await expectRefused(wsUrl('no-such-sale'), 401, 'unauthorized');
  });

  it('refused upgrades change nothing in the sale', async () => {
    const r = await stack.admin('GET', `/v1/admin/sales/${saleId}/audit`);
    expect(r.body).toMatchObject({ ok: true, problems: [], waiting: 0, held: 0, available: 2 });
  });
});
