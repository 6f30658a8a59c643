/**
 * The only place that names waiting-room keys. Everything of one sale's waiting room shares the hash
 * tag `{sale:ID}`, so each admission script touches one slot.
 */
export interface SaleKeys {
  sale: string;
  pre: string;
  wait: string;
  bucket: string;
  admitting: string;
  lease: string;
  buyerPrefix: string;
  channel: string;
  buyer(buyerId: string): string;
  orders(buyerId: string): string;
}

export function saleKeys(prefix: string, saleId: string): SaleKeys {
  const base = `${prefix}fs:{sale:${saleId}}:`;
  return {
    sale: `${base}sale`,
    pre: `${base}pre`,
    wait: `${base}wait`,
    bucket: `${base}bucket`,
    admitting: `${base}admitting`,
    lease: `${base}lease`,
    buyerPrefix: `${base}b:`,
    channel: `${base}events`,
    buyer: (buyerId: string) => `${base}b:${buyerId}`,
    orders: (buyerId: string) => `${base}o:${buyerId}`,
  };
}

/** The set of every sale id known to Redis (no hash tag: read by every process's runner). */
export function salesIndexKey(prefix: string): string {
  return `${prefix}fs:sales`;
}

/** Pattern matching every sale's event channel, for one PSUBSCRIBE per gateway. */
export function eventsPattern(prefix: string): string {
  return `${prefix}fs:{sale:*}:events`;
}

export function saleIdOfChannel(prefix: string, channel: string): string | null {
  const m = /^fs:\{sale:([a-z0-9-]{1,64})\}:events$/.exec(channel.slice(prefix.length));
  return m ? m[1]! : null;
}
