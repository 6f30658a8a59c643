/**
 * How a sale's units are split over its pools. Pure and free of Redis, so that the Redis pools
 * (inventory-service.ts) and the ledger's per-pool fence (admission/sale-store.ts, table sale_pools)
 * split every stock step the same way and agree unit for unit: the fence refuses an order when its
 * pool in Postgres is full, so a different split would refuse units Redis rightly sold.
 */

/** Splits `units` over `pools` as evenly as possible (the first pools get the remainder). */
export function splitUnits(units: number, pools: number): number[] {
  const base = Math.floor(units / pools);
  return Array.from({ length: pools }, (_, i) => base + (i < units % pools ? 1 : 0));
}
