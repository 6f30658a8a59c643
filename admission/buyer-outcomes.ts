import type { RedisClient } from '../shared/redis.js';
import type { BuyerOutcomes } from '../settlement/buyer-outcomes.js';
import { SaleEvents } from './sale-events.js';
import { recordOrder } from './waiting-room.js';

/**
 * Admission's side of settlement's port: the per-buyer order set and the sale's channel are admission's
 * keys, written here and nowhere in settlement. Composition roots (bin/worker.ts, test fixtures) pass it
 * to the saga.
 */
export function buyerOutcomes(redis: RedisClient, prefix: string): BuyerOutcomes {
  const events = new SaleEvents(redis, prefix);
  return {
    orderRecorded: (saleId, buyer, holdId) => recordOrder(redis, prefix, saleId, buyer, holdId),
    notice: (saleId, buyer, outcome) => events.noticeToBuyer(saleId, buyer, outcome),
    tell: (saleId, buyer, outcome) => events.toBuyer(saleId, buyer, outcome),
  };
}
