import { createHash, timingSafeEqual } from 'node:crypto';

/**
 * Checks `Authorization: Bearer <token>` against one secret token in constant time (digests first, so
 * lengths leak nothing). The operator API's admin token and `/metrics`'s METRICS_TOKEN both use it.
 */
export function bearerChecker(token: string): (authorization: string) => boolean {
  const expected = createHash('sha256').update(token).digest();
  return (authorization: string) => {
    const m = /^Bearer (.+)$/.exec(authorization);
    const given = createHash('sha256').update(m ? m[1]! : '').digest();
    return timingSafeEqual(given, expected) && m !== null;
  };
}

/** `/metrics` in every process (gateway and worker): open when METRICS_TOKEN is unset, else its bearer token. */
export function metricsChecker(token: string | undefined): (authorization: string) => boolean {
  return token === undefined ? () => true : bearerChecker(token);
}

export const METRICS_REFUSED = 'missing or wrong metrics token (Authorization: Bearer <METRICS_TOKEN>)';
