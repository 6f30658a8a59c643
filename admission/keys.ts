/**
 * The only place that names waiting-room keys. Everything of one sale's waiting room shares the hash
 * tag `{sale:ID}`, so each admission script touches one slot.
 *
 * A waiting buyer costs one field of `buyers` (buyer id -> compact record, see buyer-record.ts) and
 * one entry of `line`; there is no key per buyer (a key costs its own dict entry, object and name).
 */
export interface SaleKeys {
  sale: string;
  /** Hash: buyer id -> compact record (state, ticket, hold id). */
  buyers: string;
  /** Sorted set: the pre-queue before the start, scored by the keyed hash of the buyer id. */
  pre: string;
  /** List of the sealed pre-queue's scores in ticket order (published: GET /v1/sales/{id}/prequeue). */
  order: string;
  /** List of `ticket:buyer` in ticket order: the waiting line after the start; stale entries are skipped. */
  line: string;
  /** Sorted set buyer -> ticket: admitted buyers put back at the front (no unit after all). */
  requeued: string;
  bucket: string;
  /** Hash: hold id -> buyer, admissions begun by admit-8 and not finished yet. */
  admitting: string;
  /** Sorted set: hold id -> when admit-8 began it (ms), so abandoned admissions are found in O(found). */
  admittingSince: string;
  /** The admitter lease: '<owner>:<fencing token>', expiring. */
  lease: string;
  /** Counter of the lease's fencing tokens (no expiry: tokens only grow). */
  leaseToken: string;
  /** Prefix of the per-buyer orders sets (scripts build the name from it). */
  ordersPrefix: string;
  channel: string;
  /** Hash: buyer id -> the first chance and ETA interval the buyer was shown, and its outcome (estimate-log.ts). */
  estimates: string;
  orders(buyerId: string): string;
}

export function saleKeys(prefix: string, saleId: string): SaleKeys {
  const base = `${prefix}fs:{sale:${saleId}}:`;
  return {
    sale: `${base}sale`,
    buyers: `${base}buyers`,
    pre: `${base}pre`,
    order: `${base}prequeue-order`,
    line: `${base}line`,
    requeued: `${base}requeued`,
    bucket: `${base}bucket`,
    admitting: `${base}admitting`,
    admittingSince: `${base}admitting-since`,
    lease: `${base}lease`,
    leaseToken: `${base}lease-token`,
    ordersPrefix: `${base}o:`,
    channel: `${base}events`,
    estimates: `${base}estimates`,
    orders: (buyerId: string) => `${base}o:${buyerId}`,
  };
}

/** The set of every sale id known to Redis (no hash tag: read by every process's runner). */
export function salesIndexKey(prefix: string): string {
  return `${prefix}fs:sales`;
}

/** Pattern matching every sale's event channel, for one PSUBSCRIBE per gateway (single Redis). */
export function eventsPattern(prefix: string): string {
  return `${prefix}fs:{sale:*}:events`;
}

/**
 * The sale of an event channel: the sale's own (`fs:{sale:ID}:events`) or, on a Redis Cluster, one of
 * its pools' (`fs:{sale:ID:pN}:events`, inventory/keys.ts: a pool script publishes in its own slot).
 */
export function saleIdOfChannel(prefix: string, channel: string): string | null {
  if (!channel.startsWith(prefix)) return null;
  const m = /^fs:\{sale:([a-z0-9-]{1,64})(?::p\d{1,4})?\}:events$/.exec(channel.slice(prefix.length));
  return m ? m[1]! : null;
}
