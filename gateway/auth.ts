import { createSecretKey } from 'node:crypto';
import jwt from 'jsonwebtoken';

export interface Buyer {
  id: string;
}

export class BuyerTokenError extends Error {
  override name = 'BuyerTokenError';
}

// Buyer ids become part of Redis keys and logs: printable, no spaces, bounded.
const BUYER_ID = /^[\x21-\x7e]{1,128}$/;

export interface BuyerClaims {
  /** When set, the token's `iss` must be exactly this (BUYER_JWT_ISSUER). */
  issuer?: string;
  /** When set, the token's `aud` (a string, or an array holding it) must name this (BUYER_JWT_AUDIENCE). */
  audience?: string;
}

/**
 * Verifies a buyer JWT with jsonwebtoken: HS256 only (no `alg: none`, no other algorithm), signature,
 * `exp` required and checked, `nbf` checked, `sub` required, `iss` / `aud` when `claims` asks for
 * them; `crit`/`b64` headers are refused (we understand no extension). Throws a BuyerTokenError on anything else.
 *
 * Synchronous on purpose: the WebSocket upgrade can then be finished inside uWS's own upgrade
 * callback. Upgrading later from `res.cork()` hits a uWS bug (uNetworking/uWebSockets#1928, fixed
 * upstream by #1929, not in the uWS.js build we pin) that may close the brand-new WebSocket.
 */
export function buyerVerifier(secret: string, claims: BuyerClaims = {}): (token: string, nowMs?: number) => Buyer {
  // A KeyObject made once: given a string, jsonwebtoken first tries to parse it as a PEM public key
  // on every verify and only falls back to a secret key after that throws — 40 % of the gateway's
  // CPU during a stampede of upgrades (docs/performance.md).
  const key = createSecretKey(Buffer.from(secret, 'utf8'));
  // jsonwebtoken refuses a token without `iss` / `aud` when these are asked for.
  const expected = {
    ...(claims.issuer !== undefined ? { issuer: claims.issuer } : {}),
    ...(claims.audience !== undefined ? { audience: claims.audience } : {}),
  };
  return (token: string, nowMs = Date.now()) => {
    let payload: jwt.JwtPayload;
    try {
      const decoded = jwt.verify(token, key, { ...expected, algorithms: ['HS256'], clockTimestamp: Math.floor(nowMs / 1000), complete: true });
      if ('crit' in decoded.header || 'b64' in decoded.header) throw new BuyerTokenError('unsupported header parameters');
      if (typeof decoded.payload !== 'object') throw new BuyerTokenError('the payload is not a JSON object');
      payload = decoded.payload;
    } catch (err) {
      if (err instanceof BuyerTokenError) throw err;
      throw new BuyerTokenError((err as Error).message);
    }
    if (typeof payload.exp !== 'number' || !Number.isFinite(payload.exp)) throw new BuyerTokenError('exp is required and must be a number');
    if (payload.iat !== undefined && (typeof payload.iat !== 'number' || !Number.isFinite(payload.iat))) throw new BuyerTokenError('iat must be a number');
    if (typeof payload.sub !== 'string' || !BUYER_ID.test(payload.sub)) throw new BuyerTokenError('sub is required and must be a valid buyer id');
    return { id: payload.sub };
  };
}
