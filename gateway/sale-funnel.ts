import type { Sale } from '../admission/sale-schema.js';
import { declinedHolds } from '../settlement/ledger.js';
import type { Context } from './context.js';

/**
 * A sale's funnel for the operator console (`GET /v1/admin/sales/{id}/funnel`, an addition to the
 * contract): buyers who took a place, holds given, units paid, and where the rest went. The stages are
 * not one population: `joined` and `left` count buyers (a leave counts each time), `admitted`,
 * `expired` and `declined` count holds (a buyer whose hold expired may be admitted again), `paid`
 * counts units sold. Each number is read from its owner: the waiting room, the pools, the ledger.
 */
export interface SaleFunnel {
  at: string;
  joined: number;
  admitted: number;
  paid: number;
  expired: number;
  declined: number;
  left: number;
}

export async function saleFunnel(ctx: Pick<Context, 'sales' | 'db'>, sale: Sale): Promise<SaleFunnel> {
  const [stats, room, declined] = await Promise.all([
    ctx.sales.stats(sale),
    ctx.sales.funnelCounts(sale.id),
    declinedHolds(ctx.db, sale.id),
  ]);
  return {
    at: new Date().toISOString(),
    joined: room.joined,
    admitted: stats.admitted,
    paid: stats.sold,
    expired: stats.expired,
    declined,
    left: room.left,
  };
}
