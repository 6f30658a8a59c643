import { SignJWT } from 'jose';

/**
 * Mints a buyer JWT as a shop's backend would (HS256, sub, exp; `iss` / `aud` when given, as a gateway
 * with BUYER_JWT_ISSUER / BUYER_JWT_AUDIENCE asks). For the demo, tests and load runs.
 */
export function mintBuyerToken(secret: string, buyerId: string, ttlSeconds = 3600, claims: { issuer?: string; audience?: string } = {}): Promise<string> {
  const jwt = new SignJWT({})
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(buyerId)
    .setIssuedAt()
    .setExpirationTime(Math.floor(Date.now() / 1000) + ttlSeconds);
  if (claims.issuer !== undefined) jwt.setIssuer(claims.issuer);
  if (claims.audience !== undefined) jwt.setAudience(claims.audience);
  return jwt.sign(new TextEncoder().encode(secret));
}
