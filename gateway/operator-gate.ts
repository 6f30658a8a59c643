import type { HttpRequest, HttpResponse } from 'uWebSockets.js';
import { remoteKey, type LoginThrottle } from './address-limits.js';
import { bearerChecker } from '../shared/bearer.js';
import { ApiError } from './errors.js';
import type { OriginCheck } from './origin.js';

/**
 * The checks every operator request (`/v1/admin/...`, the live channel included) passes before
 * anything else, in this order: the address is not throttled for failed logins (429), the page origin
 * is allowed (403), the admin token is right (401, and counted as a failure of the address). Returns
 * the refusal, or null. Synchronous: it reads `req` and `res`, which uWS invalidates after an await.
 */
export type OperatorGate = (res: HttpResponse, req: HttpRequest) => ApiError | null;

export function operatorGate(adminToken: string, originOk: OriginCheck, throttle: LoginThrottle): OperatorGate {
  const isAdmin = bearerChecker(adminToken);
  return (res, req) => {
    const address = remoteKey(res);
    const wait = throttle.blockedFor(address);
    if (wait > 0) return new ApiError('too_many_auth_failures').retryAfter(wait);
    if (!originOk(req.getHeader('origin'), req.getHeader('host'))) {
      return new ApiError('forbidden_origin', `origin ${JSON.stringify(req.getHeader('origin').slice(0, 200))} is not allowed (ALLOWED_ORIGINS)`);
    }
    if (isAdmin(req.getHeader('authorization'))) return null;
    throttle.failed(address);
    return new ApiError('unauthorized', 'missing or wrong admin token (Authorization: Bearer <ADMIN_TOKEN>)');
  };
}
