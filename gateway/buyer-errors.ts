import { metrics } from '../shared/metrics.js';
import { isConnectionLoss } from '../shared/connection-errors.js';
import { InventoryError } from '../inventory/errors.js';
import { AdmissionError } from '../admission/errors.js';
import { ApiError, wsErrorFrame } from './errors.js';
import { sendText, type Ws } from './buyer-socket.js';

/** A buyer's frame is refused: the contract's `error` frame, counted by code. */
export function refuse(ws: Ws, e: ApiError): void {
  metrics.wsErrors.inc({ code: e.code });
  sendText(ws, wsErrorFrame(e));
}

/** What a buyer is told of an error met while handling their frame (one of the catalogue's codes). */
export function toApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  if (err instanceof InventoryError) {
    // Someone else's hold is reported as missing: hold ids tell nothing about other buyers.
    if (err.code === 'not_your_hold' || err.code === 'hold_not_found') return new ApiError('hold_not_found');
    // Codes only settlement and restocking meet: never a buyer's doing.
    if (err.code === 'hold_not_paying' || err.code === 'invalid_quantity') return new ApiError('internal');
    return new ApiError(err.code, err.message);
  }
  if (err instanceof AdmissionError) return new ApiError(err.code === 'sold_out' ? 'sale_ended' : err.code, err.message);
  // Redis or Postgres went away under the frame: the contract's "try again", not a fault of ours.
  if (isConnectionLoss(err)) return new ApiError('unavailable');
  return new ApiError('internal');
}
