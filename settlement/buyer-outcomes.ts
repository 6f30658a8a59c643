import type { Notice } from '../inventory/scripts.js';

/** The frames of the contract that settlement decides: a subset of admission's BuyerFrame union. */
export type PaymentOutcome =
  | { type: 'order_confirmed'; holdId: string; orderId: string }
  | { type: 'payment_failed'; holdId: string; reason: string; retryable: boolean }
  | { type: 'hold_expired'; holdId: string };

/**
 * The port through which settlement reaches the buyer's side, implemented by admission
 * (admission/buyer-outcomes.ts) and handed in by the process's composition root. Settlement is below
 * admission: it never writes admission's keys nor builds its channel messages itself, so the per-buyer
 * order count and the sale's channel stay admission's, and this interface is all the saga knows of them.
 */
export interface BuyerOutcomes {
  /**
   * A paid hold counts against the buyer's per-sale limit. Called before the hold is marked sold, so
   * whoever sees the hold sold also sees the count (the limit is never passed by a quick second buy).
   */
  orderRecorded(saleId: string, buyer: string, holdId: string): Promise<unknown>;
  /** The message that tells the buyer `outcome`, for a script that publishes it in the same step as its change. */
  notice(saleId: string, buyer: string, outcome: PaymentOutcome): Notice;
  /** Tells the buyer now (on every gateway that has their sockets). */
  tell(saleId: string, buyer: string, outcome: PaymentOutcome): Promise<unknown>;
}
