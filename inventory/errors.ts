import { replyChecker } from '../shared/script-errors.js';

/** Domain failures returned by the inventory Lua scripts as small negative integers. */
export enum InventoryCode {
  NotFound = -1,
  NotYours = -2,
  Paying = -3,
  Sold = -4,
  Ended = -5,
  NotPaying = -6,
  InvalidQuantity = -7,
}

export type InventoryErrorCode = 'hold_not_found' | 'not_your_hold' | 'payment_in_progress' | 'already_sold' | 'hold_ended' | 'hold_not_paying' | 'invalid_quantity';

const BY_CODE: Record<number, [InventoryErrorCode, string]> = {
  [InventoryCode.NotFound]: ['hold_not_found', 'no such hold in this sale'],
  [InventoryCode.NotYours]: ['not_your_hold', 'this hold belongs to another buyer'],
  [InventoryCode.Paying]: ['payment_in_progress', 'a payment for this hold is being taken'],
  [InventoryCode.Sold]: ['already_sold', 'this hold is already paid'],
  [InventoryCode.Ended]: ['hold_ended', 'this hold has expired or was given up'],
  [InventoryCode.NotPaying]: ['hold_not_paying', 'this hold is not being paid for'],
  [InventoryCode.InvalidQuantity]: ['invalid_quantity', 'a restock adds a positive whole number of units'],
};

export class InventoryError extends Error {
  override name = 'InventoryError';
  constructor(readonly code: InventoryErrorCode, message: string) {
    super(message);
  }
}

/** Turns a Lua reply into a typed error when it is a domain failure code; otherwise returns it. */
export const checkReply = replyChecker('inventory', BY_CODE, (code, message) => new InventoryError(code, message));
