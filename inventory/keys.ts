/**
 * The only place that names inventory keys. Each pool has its own hash tag `{sale:ID:pN}` so that in a
 * Redis Cluster the pools of one sale spread over slots and every inventory script touches one slot.
 */
export interface PoolKeys {
  pool: string;
  deadlines: string;
  /** Holds being paid for, scored by when paying began: reconciliation's worklist. */
  paying: string;
  holds: string;
  holdPrefix: string;
  hold(holdId: string): string;
}

export function poolKeys(prefix: string, saleId: string, pool: number): PoolKeys {
  const base = `${prefix}fs:{sale:${saleId}:p${pool}}:`;
  return {
    pool: `${base}pool`,
    deadlines: `${base}deadlines`,
    paying: `${base}paying`,
    holds: `${base}holds`,
    holdPrefix: `${base}h:`,
    hold: (holdId: string) => `${base}h:${holdId}`,
  };
}

const HOLD_ID = /^hold_(\d{1,4})_[a-z0-9_]{1,80}$/;

/** Hold ids carry their pool (`hold_<pool>_<...>`) so a `pay` frame alone says which slot to touch. */
export function poolOfHold(holdId: string): number | null {
  const m = HOLD_ID.exec(holdId);
  return m ? Number(m[1]) : null;
}

export function makeHoldId(pool: number, unique: string): string {
  return `hold_${pool}_${unique}`;
}
