import { generateKeyPairSync } from 'node:crypto';
import { SignJWT, type JWTPayload } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, BUYER_SECRET, type Proc, type Stack } from '../helpers/stack.js';
import { saleInput, uniqueId } from '../helpers/env.js';
import { tryUpgrade } from '../helpers/raw-http.js';
import { mintBuyerToken } from '../../shared/buyer-token.js';

/**
 * BUYER_JWT_ISSUER / BUYER_JWT_AUDIENCE (contract, "Running it"): when set, a buyer token's `iss` / `aud`
 * must match, else the upgrade is refused 401. The other refusals (alg none, HS384/HS512, nbf in the
 * future, exp missing or past, forged) are checked without these settings in gateway/buyer-auth.test.ts;
 * here they are checked again on a gateway that asks for iss/aud, with tokens that carry the right ones,
 * so asking for claims cannot have loosened anything else.
 */
const ISSUER = 'https://shop.example';
const AUDIENCE = 'flash-sale-gateway';
let stack: Stack;
let plain: Proc;
let saleId: string;
beforeAll(async () => {
  stack = await startStack({ workers: 0, gatewayEnv: { BUYER_JWT_ISSUER: ISSUER, BUYER_JWT_AUDIENCE: AUDIENCE } });
  // The same stack's gateway without the settings (an empty variable is unset).
  plain = await stack.addGateway({ BUYER_JWT_ISSUER: '', BUYER_JWT_AUDIENCE: '' });
  const r = await stack.admin('POST', '/v1/admin/sales', saleInput({ stock: 2 }));
  expect(r.status).toBe(201);
  saleId = r.body.id;
});
afterAll(async () => {
  await stack?.close();
});

const now = () => Math.floor(Date.now() / 1000);
const b64url = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
const claims = (over: JWTPayload = {}): JWTPayload => ({ sub: uniqueId('b'), exp: now() + 600, iss: ISSUER, aud: AUDIENCE, ...over });
const hs = (payload: JWTPayload, alg = 'HS256') =>
  new SignJWT(payload).setProtectedHeader({ alg, typ: 'JWT' }).sign(new TextEncoder().encode(BUYER_SECRET));
const url = (token: string, port = stack.gateways[0]!.port) => `ws://127.0.0.1:${port}/v1/sales/${saleId}/ws?token=${encodeURIComponent(token)}`;

async function expectRefused(token: string, port?: number) {
  const o = await tryUpgrade(url(token, port));
  expect(o.opened, JSON.stringify(o)).toBe(false);
  if (o.opened) return;
  expect(o.status).toBe(401);
  expect(o.json).toEqual({ error: { code: 'unauthorized', message: expect.any(String) } });
}

describe('a gateway with BUYER_JWT_ISSUER and BUYER_JWT_AUDIENCE', () => {
  it('opens for a token with the right iss and aud (aud a string, or an array naming it)', async () => {
    expect(await tryUpgrade(url(await hs(claims())))).toMatchObject({ opened: true, first: { type: 'sale' } });
    expect(await tryUpgrade(url(await hs(claims({ aud: ['another-service', AUDIENCE] })))))
      .toMatchObject({ opened: true, first: { type: 'sale' } });
    // mintBuyerToken (the development route's minter) carries them when asked.
    const minted = await mintBuyerToken(BUYER_SECRET, uniqueId('b'), 600, { issuer: ISSUER, audience: AUDIENCE });
    expect(await tryUpgrade(url(minted))).toMatchObject({ opened: true });
  });

  const refused: [string, () => Promise<string>][] = [
    ['iss wrong', () => hs(claims({ iss: 'https://evil.example' }))],
    ['iss missing', () => hs(claims({ iss: undefined }))],
    ['iss differing in case', () => hs(claims({ iss: ISSUER.toUpperCase() }))],
    ['aud wrong', () => hs(claims({ aud: 'another-service' }))],
    ['aud missing', () => hs(claims({ aud: undefined }))],
    ['aud an array without ours', () => hs(claims({ aud: ['a', 'b'] }))],
    ['a token minted without iss/aud', () => mintBuyerToken(BUYER_SECRET, uniqueId('b'))],
    ['right iss/aud, nbf in the future', () => hs(claims({ nbf: now() + 300 }))],
    ['right iss/aud, exp missing', () => hs(claims({ exp: undefined }))],
    ['right iss/aud, expired', () => hs(claims({ exp: now() - 120 }))],
    ['right iss/aud, alg none', async () => `${b64url({ alg: 'none', typ: 'JWT' })}.${b64url(claims())}.`],
    ['right iss/aud, HS512 with the right secret', () => hs(claims(), 'HS512')],
    ['right iss/aud, RS256 with a key of its own', async () => {
      const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
      return new SignJWT(claims()).setProtectedHeader({ alg: 'RS256', typ: 'JWT' }).sign(privateKey);
    }],
    ['right iss/aud, signed with another secret', () =>
      new SignJWT(claims()).setProtectedHeader({ alg: 'HS256' }).sign(new TextEncoder().encode('another-secret-entirely'))],
  ];

  it.each(refused)('%s -> 401', async (_name, token) => {
    await expectRefused(await token());
  });

  it('refused upgrades changed nothing', async () => {
    const r = await stack.admin('GET', `/v1/admin/sales/${saleId}/audit`);
    expect(r.body).toMatchObject({ ok: true, problems: [], waiting: 0, held: 0, available: 2 });
  });
});

describe('a gateway without them (unset: as before)', () => {
  it('accepts a token with any iss/aud or none', async () => {
    for (const t of [await hs(claims()), await hs(claims({ iss: 'whoever', aud: 'whatever' })), await mintBuyerToken(BUYER_SECRET, uniqueId('b'))]) {
      expect(await tryUpgrade(url(t, plain.port))).toMatchObject({ opened: true, first: { type: 'sale' } });
    }
  });

  it('still refuses RS256, alg none and nbf in the future', async () => {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    await expectRefused(await new SignJWT(claims()).setProtectedHeader({ alg: 'RS256' }).sign(privateKey), plain.port);
    await expectRefused(`${b64url({ alg: 'none' })}.${b64url(claims())}.`, plain.port);
    await expectRefused(await hs(claims({ nbf: now() + 300 })), plain.port);
  });
});
