import { createHmac } from 'node:crypto';
import { SignJWT } from 'jose';
import { describe, expect, it } from 'vitest';
import { bearerChecker } from '../shared/bearer.js';
import { buyerVerifier, BuyerTokenError } from './auth.js';

const SECRET = 'unit-test-buyer-secret';
const verify = buyerVerifier(SECRET);
const NOW = Date.parse('2030-01-01T00:00:00Z');
const now = NOW / 1000;
const b64 = (o: unknown) => Buffer.from(typeof o === 'string' ? o : JSON.stringify(o)).toString('base64url');
/** Signs any header and payload by hand, so malformed tokens can be built too. */
function hand(header: unknown, payload: unknown, secret = SECRET): string {
  const input = `${b64(header)}.${b64(payload)}`;
  return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
}
const good = { sub: 'buyer-1', exp: now + 60 };

describe('buyerVerifier (HS256, synchronous)', () => {
  it('accepts a token minted by jose, as shops mint them', async () => {
    const token = await new SignJWT({}).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).setSubject('shop-buyer')
      .setIssuedAt(now).setExpirationTime(now + 60).sign(new TextEncoder().encode(SECRET));
    expect(verify(token, NOW)).toEqual({ id: 'shop-buyer' });
  });

  it('accepts a hand-signed HS256 token, with or without typ, nbf in the past', () => {
    expect(verify(hand({ alg: 'HS256' }, good), NOW)).toEqual({ id: 'buyer-1' });
    expect(verify(hand({ alg: 'HS256', typ: 'JWT' }, { ...good, nbf: now - 5, iat: now - 5 }), NOW)).toEqual({ id: 'buyer-1' });
  });

  it.each([
    ['empty', ''],
    ['two parts', `${b64({ alg: 'HS256' })}.${b64(good)}`],
    ['four parts', `${hand({ alg: 'HS256' }, good)}.x`],
    ['alg none, no signature', `${b64({ alg: 'none' })}.${b64(good)}.`],
    ['alg none with a signature', hand({ alg: 'none' }, good)],
    ['alg HS512 label', hand({ alg: 'HS512' }, good)],
    ['alg lower case', hand({ alg: 'hs256' }, good)],
    ['alg missing', hand({ typ: 'JWT' }, good)],
    ['crit header', hand({ alg: 'HS256', crit: ['exp'] }, good)],
    ['b64 false header', hand({ alg: 'HS256', b64: false }, good)],
    ['header not JSON', `${b64('not json')}.${b64(good)}.sig`],
    ['header a JSON array', hand(['HS256'], good)],
    ['payload not JSON', hand({ alg: 'HS256' }, 'not json')],
    ['payload a string', hand({ alg: 'HS256' }, '"buyer-1"')],
    ['wrong secret', hand({ alg: 'HS256' }, good, 'another-secret')],
    ['signature truncated', hand({ alg: 'HS256' }, good).slice(0, -2)],
    ['signature with padding', `${hand({ alg: 'HS256' }, good)}=`],
    ['signature with a non-base64url character', `${hand({ alg: 'HS256' }, good).slice(0, -1)}*`],
    ['payload swapped after signing', `${b64({ alg: 'HS256' })}.${b64({ ...good, sub: 'admin' })}.${hand({ alg: 'HS256' }, good).split('.')[2]}`],
    ['exp missing', hand({ alg: 'HS256' }, { sub: 'buyer-1' })],
    ['exp a string', hand({ alg: 'HS256' }, { sub: 'buyer-1', exp: String(now + 60) })],
    ['exp now (expired at that second)', hand({ alg: 'HS256' }, { sub: 'buyer-1', exp: now })],
    ['exp in the past', hand({ alg: 'HS256' }, { sub: 'buyer-1', exp: now - 1 })],
    ['nbf in the future', hand({ alg: 'HS256' }, { ...good, nbf: now + 10 })],
    ['nbf a string', hand({ alg: 'HS256' }, { ...good, nbf: 'yesterday' })],
    ['iat a string', hand({ alg: 'HS256' }, { ...good, iat: 'today' })],
    ['sub missing', hand({ alg: 'HS256' }, { exp: now + 60 })],
    ['sub a number', hand({ alg: 'HS256' }, { sub: 7, exp: now + 60 })],
    ['sub empty', hand({ alg: 'HS256' }, { sub: '', exp: now + 60 })],
    ['sub with a space', hand({ alg: 'HS256' }, { sub: 'a b', exp: now + 60 })],
    ['sub with a newline', hand({ alg: 'HS256' }, { sub: 'a\nb', exp: now + 60 })],
    ['sub over 128 characters', hand({ alg: 'HS256' }, { sub: 'a'.repeat(129), exp: now + 60 })],
  ])('refuses %s', (_name, token) => {
    expect(() => verify(token, NOW)).toThrow(BuyerTokenError);
  });
});

describe('buyerVerifier with issuer and audience (BUYER_JWT_ISSUER / BUYER_JWT_AUDIENCE)', () => {
  const strict = buyerVerifier(SECRET, { issuer: 'https://shop.example', audience: 'gw' });
  const right = { ...good, iss: 'https://shop.example', aud: 'gw' };
  it('accepts the right iss and aud (aud a string or an array naming it)', () => {
    expect(strict(hand({ alg: 'HS256' }, right), NOW)).toEqual({ id: 'buyer-1' });
    expect(strict(hand({ alg: 'HS256' }, { ...right, aud: ['x', 'gw'] }), NOW)).toEqual({ id: 'buyer-1' });
  });
  it.each([
    ['iss wrong', { ...right, iss: 'https://evil.example' }],
    ['iss missing', { ...right, iss: undefined }],
    ['aud wrong', { ...right, aud: 'other' }],
    ['aud missing', { ...right, aud: undefined }],
    ['exp missing', { ...right, exp: undefined }],
    ['nbf in the future', { ...right, nbf: now + 10 }],
  ])('refuses %s', (_name, payload) => {
    expect(() => strict(hand({ alg: 'HS256' }, payload), NOW)).toThrow(BuyerTokenError);
  });
  it('only the claim asked for is checked', () => {
    const issOnly = buyerVerifier(SECRET, { issuer: 'https://shop.example' });
    expect(issOnly(hand({ alg: 'HS256' }, { ...good, iss: 'https://shop.example' }), NOW)).toEqual({ id: 'buyer-1' });
    expect(() => issOnly(hand({ alg: 'HS256' }, good), NOW)).toThrow(BuyerTokenError);
  });
});

describe('bearerChecker (the admin token)', () => {
  const ok = bearerChecker('the-admin-token');
  it('accepts exactly "Bearer <token>"', () => {
    expect(ok('Bearer the-admin-token')).toBe(true);
  });
  it.each(['', 'the-admin-token', 'Bearer', 'Bearer ', 'bearer the-admin-token', 'Bearer the-admin-token ', 'Bearer the-admin-tokenX', 'Basic the-admin-token'])(
    'refuses %j', (header) => expect(ok(header)).toBe(false),
  );
});
