import { SignJWT } from 'jose';

/** Mints a buyer JWT as a shop's backend would (HS256, sub, exp). For the demo, tests and load runs. */
export function mintBuyerToken(secret: string, buyerId: string, ttlSeconds = 3600): Promise<string> {
  return new SignJWT({})
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setSubject(buyerId)
    .setIssuedAt()
    .setExpirationTime(Math.floor(Date.now() / 1000) + ttlSeconds)
    .sign(new TextEncoder().encode(secret));
}
