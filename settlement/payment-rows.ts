/**
 * The rows settlement's ledger hands out (payment attempts, orders) and the answers of its steps:
 * the vocabulary PaymentStore and the saga share, apart from the SQL that produces them.
 */

export type AttemptStatus = 'pending' | 'succeeded' | 'failed' | 'error';

export interface AttemptRow {
  id: string;
  hold_id: string;
  sale_id: string;
  buyer_id: string;
  attempt_no: number;
  idempotency_key: string;
  amount: number;
  currency: string;
  status: AttemptStatus;
  payment_intent_id: string | null;
  failure_reason: string | null;
  dead_lettered_at: Date | null;
  /** A failed attempt's PaymentIntent that must still be cancelled (it stopped in requires_action). */
  open_intent_id: string | null;
}

export interface OrderRow {
  id: string;
  hold_id: string;
  payment_intent_id: string;
  idempotency_key: string;
  capture_status: 'pending' | 'captured' | 'failed';
}

/** The attempt columns every read returns, in one order. */
export const ATTEMPT_COLUMN_LIST = ['id', 'hold_id', 'sale_id', 'buyer_id', 'attempt_no', 'idempotency_key', 'amount', 'currency', 'status', 'payment_intent_id', 'failure_reason', 'dead_lettered_at', 'open_intent_id'] as const;
export const ATTEMPT_COLUMNS = ATTEMPT_COLUMN_LIST.join(', ');

export interface EnsuredAttempt {
  row: AttemptRow;
  created: boolean;
  /** The buyer's orders in the sale for other holds than this attempt's, when the attempt was read. */
  buyerOrders: number;
}

/** `failure_reason` of an attempt the ledger's stock fence refused: its pool had no unit left. */
export const SOLD_OUT = 'sold_out';

/**
 * `sold_out`: the ledger had no unit left in the hold's pool, so no order was written and the attempt
 * is failed `sold_out` (`decided`: by this call; false when an earlier call decided it).
 */
export type CommitResult =
  | { kind: 'ordered'; orderId: string; created: boolean }
  | { kind: 'sold_out'; decided: boolean }
  | { kind: 'refused'; status: AttemptStatus };
