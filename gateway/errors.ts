/**
 * Every error code the gateway answers with, its HTTP status and its message for people. A test
 * checks each code here is documented in docs/errors.md.
 */
export const ERRORS = {
  invalid_json: [400, 'the body or frame is not valid JSON'],
  invalid_request: [400, 'the request does not match the expected shape'],
  invalid_frame: [400, 'the frame does not match any buyer frame of the contract'],
  binary_not_supported: [400, 'frames are JSON text; binary frames are refused'],
  challenge_failed: [400, 'the join carries no proof, or one that does not answer this socket\'s challenge'],
  unauthorized: [401, 'missing or wrong credentials'],
  forbidden_origin: [403, 'requests from this page origin are not allowed'],
  not_found: [404, 'no such resource'],
  sale_not_found: [404, 'no such sale'],
  hold_not_found: [404, 'no such hold for this buyer'],
  dead_letter_not_found: [404, 'no such dead letter'],
  method_not_allowed: [405, 'this method is not allowed on this path'],
  sale_exists: [409, 'a sale with this id exists'],
  sale_conflict: [409, 'the sale is not in a state that allows this'],
  quarantined: [409, 'the sale is quarantined until its ledger and Redis are reconciled'],
  payment_in_progress: [409, 'a payment for this hold is being taken'],
  already_sold: [409, 'this hold is already paid'],
  hold_ended: [409, 'this hold has expired or was given up'],
  sale_ended: [409, 'this sale has ended'],
  purchase_limit_reached: [409, 'this buyer has bought as many units as the sale allows'],
  not_admitted: [409, 'this buyer has no hold to pay for'],
  payload_too_large: [413, 'the body or frame is too large'],
  rate_limited: [429, 'too many frames; slow down'],
  too_many_auth_failures: [429, 'too many failed operator logins from this address; retry later'],
  too_many_connections: [429, 'this buyer has too many open sockets on this gateway; close one'],
  not_ready: [503, 'a dependency (Redis or Postgres) is not reachable'],
  unavailable: [503, 'could not complete now; try again'],
  internal: [500, 'internal error'],
} as const satisfies Record<string, readonly [number, string]>;

export type ErrorCode = keyof typeof ERRORS;

export class ApiError extends Error {
  override name = 'ApiError';
  /** Extra response headers (e.g. `retry-after` of a 429); HTTP only. */
  headers: Record<string, string> = {};
  constructor(readonly code: ErrorCode, message?: string, readonly details?: unknown) {
    super(message ?? ERRORS[code][1]);
  }
  /** A 429's `Retry-After`, in whole seconds (at least 1). */
  retryAfter(seconds: number): this {
    this.headers['retry-after'] = String(Math.max(1, Math.ceil(seconds)));
    return this;
  }
  get status(): number {
    return ERRORS[this.code][0];
  }
}

export function httpErrorBody(e: ApiError): string {
  return JSON.stringify({ error: { code: e.code, message: e.message, ...(e.details !== undefined ? { details: e.details } : {}) } });
}

export function wsErrorFrame(e: ApiError): string {
  return JSON.stringify({ type: 'error', code: e.code, message: e.message });
}
