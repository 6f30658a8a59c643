/** Stripe's error object: `{"error": {type, message, code?, param?, decline_code?, ...}}`. */
export interface StripeErrorBody {
  type: 'invalid_request_error' | 'card_error' | 'idempotency_error' | 'api_error';
  message: string;
  code?: string;
  param?: string;
  decline_code?: string;
  doc_url?: string;
  [extra: string]: unknown;
}

/**
 * A Stripe API error answer. `storable` follows Stripe's idempotency rule: a result is saved only
 * once the endpoint has started executing (a decline, a state conflict), never for a request that
 * failed parameter validation, so the caller can fix the parameters and reuse the key.
 */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly error: StripeErrorBody,
    readonly storable = false,
  ) {
    super(error.message);
  }

  get body(): { error: StripeErrorBody } {
    const doc = this.error.code ? { doc_url: `https://stripe.com/docs/error-codes/${this.error.code.replaceAll('_', '-')}` } : {};
    return { error: { ...doc, ...this.error } };
  }
}

export function invalidRequest(message: string, extra: { code?: string; param?: string } = {}, status = 400): ApiError {
  return new ApiError(status, { type: 'invalid_request_error', message, ...extra });
}

export const missingParam = (param: string): ApiError =>
  invalidRequest(`Missing required param: ${param}.`, { code: 'parameter_missing', param });

export const invalidParam = (param: string, message: string, code = 'parameter_invalid'): ApiError =>
  invalidRequest(message, { code, param });

export const unknownParam = (param: string): ApiError =>
  invalidRequest(`Received unknown parameter: ${param}`, { code: 'parameter_unknown', param });

export const noSuchIntent = (id: string): ApiError =>
  invalidRequest(`No such payment_intent: '${id}'`, { code: 'resource_missing', param: 'intent' }, 404);

/** A request that reached the endpoint but conflicts with the object's state; Stripe stores these. */
export function unexpectedState(message: string): ApiError {
  return new ApiError(400, { type: 'invalid_request_error', code: 'payment_intent_unexpected_state', message }, true);
}
