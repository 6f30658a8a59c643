import type { Db } from '../shared/db.js';
import { sumStats, type Inventory } from '../inventory/inventory-service.js';
import { fenceProblems, ledgerOf } from '../settlement/ledger.js';
import type { SaleService } from './sale-service.js';
import type { Sale, SaleStats } from './sale-schema.js';

export interface AuditReport extends SaleStats {
  ok: boolean;
  orders: number;
  problems: string[];
}

/** How long a disagreement between Redis and Postgres may last before it is a problem (a payment in flight). */
const RECHECK_MS = 300;

/**
 * Checks the invariants of DESIGN.md for one sale against Redis and Postgres (the ledger through
 * settlement's ledgerOf, the pools through the inventory's snapshot), and says honestly what
 * does not hold. Each pool is read in one atomic step; Postgres and Redis cannot be read at one
 * moment, so a finding is reported only if it is still there on a second look shortly after (an order
 * written a millisecond before its hold is marked sold is not a problem; one that stays so is).
 * O(holds + orders): for operators and tests, never on a hot path.
 */
export async function auditSale(db: Db, sales: SaleService, inventory: Inventory, sale: Sale): Promise<AuditReport> {
  const first = await findProblems(db, sales, inventory, sale);
  if (first.problems.length === 0) return { ok: true, ...first };
  await new Promise((r) => setTimeout(r, RECHECK_MS));
  const second = await findProblems(db, sales, inventory, sale);
  const persistent = second.problems.filter((p) => first.problems.includes(p));
  return { ...second, ok: persistent.length === 0, problems: persistent };
}

async function findProblems(db: Db, sales: SaleService, inventory: Inventory, sale: Sale): Promise<SaleStats & { orders: number; problems: string[] }> {
  const problems: string[] = [];
  if (sale.quarantine) problems.push(`sale is quarantined since ${sale.quarantine.since}: ${sale.quarantine.reason}`);
  const pools = await inventory.snapshot(sale.id, sale.pools);
  const t = sumStats(pools.map((p) => p.stats));
  const stats = await sales.stats(sale, Date.now(), t);
  const { orders, fence } = await ledgerOf(db, sale.id);

  const soldHolds = new Set<string>();
  pools.forEach(({ stats: p, holds }, i) => {
    for (const [k, v] of Object.entries(p)) if (v < 0) problems.push(`pool ${i}: ${k} is negative (${v})`);
    if (p.stock !== p.available + p.held + p.paying + p.sold) problems.push(`pool ${i}: stock ${p.stock} != available + held + paying + sold (${p.available + p.held + p.paying + p.sold})`);
    const c = { held: 0, paying: 0, sold: 0 };
    for (const h of holds) {
      if (h.state === 'held' || h.state === 'paying' || h.state === 'sold') c[h.state]++;
      if (h.state === 'sold') soldHolds.add(h.holdId);
    }
    // Every held, paying and sold unit of the pool has its hold record, and no record is extra.
    if (c.held !== p.held) problems.push(`pool ${i}: ${c.held} held holds but counter says ${p.held}`);
    if (c.paying !== p.paying) problems.push(`pool ${i}: ${c.paying} paying holds but counter says ${p.paying}`);
    if (c.sold !== p.sold) problems.push(`pool ${i}: ${c.sold} sold holds but counter says ${p.sold}`);
  });
  if (t.stock !== t.available + t.held + t.paying + t.sold) problems.push(`stock ${t.stock} != available ${t.available} + held ${t.held} + paying ${t.paying} + sold ${t.sold}`);
  if (t.stock !== sale.stock) problems.push(`stock in Redis ${t.stock} != stock in Postgres ${sale.stock}`);
  if (orders.length !== t.sold) problems.push(`orders in Postgres ${orders.length} != sold ${t.sold}`);

  problems.push(...fenceProblems(sale, orders, fence));

  const perBuyer = new Map<string, number>();
  for (const o of orders) perBuyer.set(o.buyer_id, (perBuyer.get(o.buyer_id) ?? 0) + 1);
  for (const [buyer, n] of perBuyer) if (n > sale.perBuyerLimit) problems.push(`buyer ${buyer} has ${n} orders, more than perBuyerLimit ${sale.perBuyerLimit}`);
  const orderHolds = new Set(orders.map((o) => o.hold_id));
  for (const h of soldHolds) if (!orderHolds.has(h)) problems.push(`hold ${h} is sold but has no order`);
  for (const o of orders) if (!soldHolds.has(o.hold_id)) problems.push(`order ${o.id} has hold ${o.hold_id} that is not sold in Redis`);

  return { ...stats, orders: orders.length, problems };
}
