import type { Db } from '../shared/db.js';
import type { Inventory } from '../inventory/inventory-service.js';
import type { SaleService } from '../admission/sale-service.js';
import type { Sale, SaleStats } from '../admission/sale-schema.js';

export interface AuditReport extends SaleStats {
  ok: boolean;
  orders: number;
  problems: string[];
}

/**
 * Checks the invariants of DESIGN.md for one sale against Redis and Postgres, and says honestly what
 * does not hold. O(holds + orders): for operators and tests, never on a hot path.
 */
export async function auditSale(db: Db, sales: SaleService, inventory: Inventory, sale: Sale): Promise<AuditReport> {
  const problems: string[] = [];
  const stats = await sales.stats(sale);
  const perPool = await inventory.poolStats(sale.id, sale.pools);
  const ordersQ = await db.query<{ hold_id: string; buyer_id: string; id: string }>('SELECT id, hold_id, buyer_id FROM orders WHERE sale_id = $1', [sale.id]);
  const orders = ordersQ.rows;

  const terms = stats.available + stats.held + stats.paying + stats.sold;
  if (stats.stock !== terms) problems.push(`stock ${stats.stock} != available ${stats.available} + held ${stats.held} + paying ${stats.paying} + sold ${stats.sold}`);
  perPool.forEach((p, i) => {
    for (const [name, v] of Object.entries(p)) if (v < 0) problems.push(`pool ${i}: ${name} is negative (${v})`);
    if (p.stock !== p.available + p.held + p.paying + p.sold) problems.push(`pool ${i}: stock ${p.stock} != available + held + paying + sold (${p.available + p.held + p.paying + p.sold})`);
  });
  if (stats.stock !== sale.stock) problems.push(`stock in Redis ${stats.stock} != stock in Postgres ${sale.stock}`);
  if (orders.length !== stats.sold) problems.push(`orders in Postgres ${orders.length} != sold ${stats.sold}`);

  const perBuyer = new Map<string, number>();
  for (const o of orders) perBuyer.set(o.buyer_id, (perBuyer.get(o.buyer_id) ?? 0) + 1);
  for (const [buyer, n] of perBuyer) if (n > sale.perBuyerLimit) problems.push(`buyer ${buyer} has ${n} orders, more than perBuyerLimit ${sale.perBuyerLimit}`);

  // The counters against the holds themselves, and every sold hold against its order.
  const holds = await inventory.listHolds(sale.id, sale.pools);
  const byPool = perPool.map(() => ({ held: 0, paying: 0, sold: 0 }));
  const orderByHold = new Map(orders.map((o) => [o.hold_id, o]));
  for (const h of holds) {
    const c = byPool[h.pool];
    if (c && (h.state === 'held' || h.state === 'paying' || h.state === 'sold')) c[h.state]++;
    if (h.state === 'sold' && !orderByHold.has(h.holdId)) problems.push(`hold ${h.holdId} is sold but has no order`);
  }
  const soldHolds = new Set(holds.filter((h) => h.state === 'sold').map((h) => h.holdId));
  for (const o of orders) if (!soldHolds.has(o.hold_id)) problems.push(`order ${o.id} has hold ${o.hold_id} that is not sold in Redis`);
  byPool.forEach((c, i) => {
    const p = perPool[i]!;
    // Holds rebuilt from the ledger after a Redis loss have no hold records: only more records than
    // counted units would be wrong.
    if (c.held !== p.held) problems.push(`pool ${i}: ${c.held} held holds but counter says ${p.held}`);
    if (c.paying > p.paying) problems.push(`pool ${i}: ${c.paying} paying holds but counter says ${p.paying}`);
    if (c.sold > p.sold) problems.push(`pool ${i}: ${c.sold} sold holds but counter says ${p.sold}`);
  });
  return { ok: problems.length === 0, ...stats, orders: orders.length, problems };
}
