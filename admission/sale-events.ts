import type { RedisClient } from '../shared/redis.js';
import type { Notice } from '../inventory/scripts.js';
import type { SaleState } from './sale-schema.js';
import { saleKeys } from './keys.js';
import type { EstimateModel } from './estimates.js';

/** A frame of the contract for one buyer, as settlement or the admitter produce it. */
export type BuyerFrame =
  | { type: 'admitted'; holdId: string; expiresAt: string }
  | { type: 'hold_expired'; holdId: string }
  | { type: 'payment_pending'; holdId: string }
  | { type: 'order_confirmed'; holdId: string; orderId: string }
  | { type: 'payment_failed'; holdId: string; reason: string; retryable: boolean };

/**
 * Messages on a sale's channel. One message per admitter tick carries every admission and expiry of
 * the tick and the new served ticket; each gateway turns it into frames for its own sockets, so the
 * cost per tick is O(admitted), not O(waiting).
 */
export type SaleEvent =
  /**
   * `m`: the sale's chance and ETA model of this tick (estimates.ts); absent from older admitters.
   * A buyer's `t`: the ticket an admission was given (so a buyer admitted in the tick of the seal, never
   * told their sealed ticket in a `queued` frame, still learns it first: verify my place needs it).
   */
  | { t: 'tick'; served: number; rate: number; buyers: { b: string; f: BuyerFrame; t?: number }[]; m?: EstimateModel }
  | { t: 'buyer'; b: string; f: BuyerFrame }
  | { t: 'state'; state: SaleState }
  | { t: 'sealed' }
  /** The sale's Redis copy was healed from the ledger: gateways resync their sockets of the sale. */
  | { t: 'healed'; generation: number }
  /**
   * A subscriber's own heartbeat (Cluster), on a channel of its own: its return proves the subscription
   * active (SaleSubscriptions). Everyone else ignores it.
   */
  | { t: 'probe'; n: string };

const buyerEvent = (buyer: string, frame: BuyerFrame): SaleEvent => ({ t: 'buyer', b: buyer, f: frame });

/**
 * Publishing on a sale's channel: PUBLISH, on a single Redis and on a Cluster (every gateway has one
 * PSUBSCRIBE for every sale; on a Cluster the message crosses the cluster bus to every node, see
 * docs/decisions.md, Redis Cluster, for why not sharded pub/sub).
 */
export class SaleEvents {
  constructor(readonly redis: RedisClient, readonly prefix: string) {}

  publish(saleId: string, event: SaleEvent): Promise<number> {
    const n = this.notice(saleId, event);
    return this.redis.publish(n.channel, n.message);
  }

  /** The channel and message of an event, for a script that publishes it in the same step as a change. */
  notice(saleId: string, event: SaleEvent): Notice {
    return { channel: saleKeys(this.prefix, saleId).channel, message: JSON.stringify(event) };
  }

  toBuyer(saleId: string, buyer: string, frame: BuyerFrame): Promise<number> {
    return this.publish(saleId, buyerEvent(buyer, frame));
  }

  /** toBuyer's message, for a script to publish (see notice). */
  noticeToBuyer(saleId: string, buyer: string, frame: BuyerFrame): Notice {
    return this.notice(saleId, buyerEvent(buyer, frame));
  }
}
