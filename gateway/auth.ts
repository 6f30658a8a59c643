import { createHash, timingSafeEqual } from 'node:crypto';
import { jwtVerify, errors as joseErrors } from 'jose';

export interface Buyer {
  id: string;
}

// Buyer ids become part of Redis keys and logs: printable, no spaces, bounded.
const BUYER_ID = /^[\x21-\x7e]{1,128}$/;

/**
 * Verifies a buyer JWT: HS256 only (no `alg: none`, no other algorithm), `exp` and `sub` required,
 * expiry checked. Throws on anything else.
 */
export function buyerVerifier(secret: string): (token: string) => Promise<Buyer> {
  const key = new TextEncoder().encode(secret);
  return async (token: string) => {
    const { payload } = await jwtVerify(token, key, { algorithms: ['HS256'], requiredClaims: ['exp', 'sub'] });
    if (typeof payload.sub !== 'string' || !BUYER_ID.test(payload.sub)) throw new joseErrors.JWTClaimValidationFailed('sub is not a valid buyer id', payload, 'sub');
    return { id: payload.sub };
  };
}

/** Compares the operator's bearer token in constant time (digests first, so lengths leak nothing). */
export function adminChecker(adminToken: string): (authorization: string) => boolean {
  const expected = createHash('sha256').update(adminToken).digest();
  return (authorization: string) => {
    const m = /^Bearer (.+)$/.exec(authorization);
    const given = createHash('sha256').update(m ? m[1]! : '').digest();
    return timingSafeEqual(given, expected) && m !== null;
  };
}
