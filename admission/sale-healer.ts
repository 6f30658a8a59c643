import type { Logger } from '../shared/logger.js';
import type { Db } from '../shared/db.js';
import { isCluster, serverRunIds, type RedisClient, type RunIdOf } from '../shared/redis.js';
import { metrics } from '../shared/metrics.js';
import type { Inventory, PoolMark } from '../inventory/inventory-service.js';
import { poolOfHold } from '../inventory/keys.js';
import type { LedgerHold } from '../inventory/scripts.js';
import { ledgerHolds } from '../settlement/ledger.js';
import { saleKeys, salesIndexKey } from './keys.js';
import type { AdmissionScripts } from './scripts.js';
import type { SaleEvents } from './sale-events.js';
import type { LedgerMarks, SaleStore } from './sale-store.js';
import type { Sale } from './sale-schema.js';

/** Why a sale's Redis copy is not to be trusted (a label of fs_redis_loss_detected_total). */
export type LossReason = 'missing' | 'generation' | 'behind_ledger' | 'stock' | 'restarted' | 'interrupted';

/**
 * The run ids of the servers that hold a sale's copy now: one for everything (single Redis; null when
 * unknown), or on a Cluster the master of the sale's hash and of each pool.
 */
export type ServerRunIds = string | null | { sale: string | null; pools: (string | null)[] };

/** What Redis says of one sale, read for a comparison with the ledger. */
export interface RedisMarks {
  sale: { generation: number; runId: string; healing: boolean } | null;
  pools: (PoolMark | null)[];
}

/**
 * Compares a sale's Redis copy with the ledger. Read the ledger first, then Redis: Redis's sold +
 * paying can only have grown past the ledger's sold of the earlier moment (an order is written only for
 * a hold that is paying, and it stays paying until it is sold), so a copy found behind the ledger lost
 * writes, it is not merely late. Stock is compared too; a restock writes Postgres first, so the caller
 * only believes a stock difference that lasts (see RedisGuard).
 */
export function lossReason(ledger: LedgerMarks, redis: RedisMarks, servers: ServerRunIds): LossReason | null {
  if (!redis.sale || redis.pools.length !== ledger.pools || redis.pools.some((p) => p === null)) return 'missing';
  if (redis.sale.healing) return 'interrupted';
  if (redis.sale.generation !== ledger.generation || redis.pools.some((p) => p!.generation !== ledger.generation)) return 'generation';
  // A copy written on another Redis server (a restart from a snapshot, a failover) may miss recent holds
  // and joins that no ledger knows of: heal it once, which tells the buyers who lost something. On a
  // Cluster each key is checked against the master that holds it now (the sale's and each pool's).
  const now = typeof servers === 'string' || servers === null ? { sale: servers, pools: [] } : servers;
  const moved = (written: string, server: string | null | undefined) => server != null && written !== '' && written !== server;
  if (moved(redis.sale.runId, now.sale) || redis.pools.some((p, i) => moved(p!.runId, now.pools[i]))) return 'restarted';
  if (redis.pools.some((p, i) => p!.sold + p!.paying < (ledger.sold[i] ?? 0))) return 'behind_ledger';
  if (redis.pools.some((p, i) => p!.stock !== ledger.stock[i])) return 'stock';
  return null;
}

export interface HealResult {
  outcome: 'healed' | 'clean' | 'busy' | 'quarantined' | 'missing';
  generation?: number;
  /** Holds only Redis knew that no unit was left for: their buyers were told hold_expired. */
  expired?: number;
  ms: number;
}

export interface HealerDeps {
  db: Db;
  redis: RedisClient;
  prefix: string;
  inventory: Inventory;
  store: SaleStore;
  scripts: AdmissionScripts;
  events: SaleEvents;
  /** The sale's runtime settings for its Redis hash. */
  fieldsOf(sale: Sale): Record<string, string | number>;
}

/**
 * Rebuilds one sale's Redis copy from the Postgres ledger: once (the sale's row lock, taken with SKIP
 * LOCKED: a second process finds it taken and leaves the heal to the first), with admissions stopped
 * meanwhile (`healing` in the sale hash), each pool in one script, and the generation moved on in the
 * ledger last, so a heal cut short anywhere is found again by the next check.
 */
export class SaleHealer {
  constructor(private readonly d: HealerDeps, private readonly log?: Logger) {}

  /**
   * The servers' run ids (a restart or a failover changes one): read once, then looked up per key
   * (serverRunIds; on a Cluster each master's, by slot).
   */
  runIds(): Promise<RunIdOf> {
    return serverRunIds(this.d.redis);
  }

  /** The Redis server's run id on a single Redis; null on a Cluster (see runIds: one per master). */
  async runId(): Promise<string | null> {
    return isCluster(this.d.redis) ? null : (await this.runIds())('');
  }

  /** What a sale's copy must say of its servers now (lossReason): one id, or one per key on a Cluster. */
  serversOf(runIdOf: RunIdOf, saleId: string, pools: number): ServerRunIds {
    const k = saleKeys(this.d.prefix, saleId);
    if (!isCluster(this.d.redis)) return runIdOf(k.sale);
    return { sale: runIdOf(k.sale), pools: Array.from({ length: pools }, (_, i) => runIdOf(this.d.inventory.keys(saleId, i).pool)) };
  }

  /** Writes the servers' marks of a new or healed copy: the sale hash's runId is written by the caller; the pools' here (Cluster). */
  async markPools(runIdOf: RunIdOf, saleId: string, pools: number): Promise<void> {
    if (isCluster(this.d.redis)) await this.d.inventory.markServers(saleId, runIdOf, pools);
  }

  async readMarks(saleId: string, pools: number): Promise<RedisMarks> {
    const k = saleKeys(this.d.prefix, saleId);
    const [[gen, runId, healing, status], poolMarks] = await Promise.all([
      this.d.redis.hmget(k.sale, 'gen', 'runId', 'healing', 'status'),
      this.d.inventory.poolMarks(saleId, pools),
    ]);
    return { sale: status === null ? null : { generation: Number(gen ?? 0), runId: runId ?? '', healing: healing === '1' }, pools: poolMarks };
  }

  /** Reads the sale's copy and compares it with the ledger's marks (lossReason). */
  async findLoss(ledger: LedgerMarks, runIdOf: RunIdOf | null): Promise<LossReason | null> {
    const servers = runIdOf ? this.serversOf(runIdOf, ledger.id, ledger.pools) : null;
    return lossReason(ledger, await this.readMarks(ledger.id, ledger.pools), servers);
  }

  async heal(saleId: string, reason: string): Promise<HealResult> {
    const started = Date.now();
    const ms = () => Date.now() - started;
    const c = await this.d.db.connect();
    let broken: Error | undefined;
    try {
      await c.query('BEGIN');
      const locked = await this.d.store.lockForHeal(c, saleId);
      if (!locked) {
        await c.query('ROLLBACK');
        return { outcome: (await this.d.store.get(saleId)) ? 'busy' : 'missing', ms: ms() };
      }
      const { sale, stock, sold } = locked;
      const runIdOf = await this.runIds();
      // Another process may have healed it while this one waited for its turn: look again.
      if (reason !== 'forced') {
        const again = await this.findLoss({ id: sale.id, pools: sale.pools, generation: locked.generation, quarantined: !!sale.quarantine, stock, sold }, runIdOf);
        if (again === null) {
          await c.query('COMMIT');
          return { outcome: 'clean', ms: ms() };
        }
      }
      const holds = await ledgerHolds(c, sale.id);
      const fitted = fitLedger(stock, holds);
      if (fitted.overfull.length > 0) {
        const why = `the ledger has more sold units than stock in pool ${fitted.overfull.join(', ')}`;
        await this.d.store.quarantine(sale.id, why, c);
        await c.query('COMMIT');
        await this.markQuarantined(sale, why);
        return { outcome: 'quarantined', ms: ms() };
      }
      const generation = locked.generation + 1;
      const k = saleKeys(this.d.prefix, sale.id);
      // Admissions stop until the pools are whole again (the admitter skips a sale that is healing).
      await this.d.scripts.putSale(k, 'heal', { ...this.d.fieldsOf(sale), healing: '1' });
      const healed = await this.d.inventory.healPools(sale.id, stock, fitted.holds, generation);
      if (healed.overfull.length > 0) throw new Error(`pools ${healed.overfull.join(', ')} of sale ${sale.id} did not fit the ledger`);
      // Sent together (one pipeline per slice): a sale of 30,000 orders took 6.8 s one call at a time.
      for (let i = 0; i < fitted.holds.length; i += 1000) {
        await Promise.all(fitted.holds.slice(i, i + 1000).flatMap((h) => [
          ...(h.state === 'sold' ? [this.d.redis.sadd(k.orders(h.buyer), h.holdId)] : []),
          // A buyer the copy forgot points at their ledger hold again, so a reconnect shows the order
          // or the payment under way ('h:<ticket>:<hold>', ticket 0: no place in line). Only where the
          // copy has no record: a newer place or hold the copy kept stays.
          this.d.redis.hsetnx(k.buyers, h.buyer, `h:0:${h.holdId}`),
        ]));
      }
      await this.markPools(runIdOf, sale.id, sale.pools);
      const totals = await this.d.inventory.stats(sale.id, sale.pools);
      // While the sale still says healing (the admitter skips it), so no tick sees the flag half-set.
      await this.d.scripts.markSoldOut(k, totals.available + totals.held + totals.paying === 0);
      await this.d.scripts.putSale(k, 'heal', { ...this.d.fieldsOf(sale), gen: generation, runId: runIdOf(k.sale) ?? '', healing: '0' });
      await this.d.redis.sadd(salesIndexKey(this.d.prefix), sale.id);
      await this.d.store.setGeneration(c, sale.id, generation);
      await c.query('COMMIT');
      metrics.redisHeals.inc();
      // Buyers whose hold could not be kept hear it; every gateway then resyncs its sockets of the sale.
      for (const e of healed.expired) await this.d.events.toBuyer(sale.id, e.buyer, { type: 'hold_expired', holdId: e.holdId });
      await this.d.events.publish(sale.id, { t: 'healed', generation });
      this.log?.warn({ sale: sale.id, reason, generation, expired: healed.expired.length, ms: ms() }, 'sale healed from the ledger');
      return { outcome: 'healed', generation, expired: healed.expired.length, ms: ms() };
    } catch (err) {
      broken = err as Error;
      await c.query('ROLLBACK').catch(() => {});
      throw err;
    } finally {
      c.release(broken);
    }
  }

  /** The quarantine reaches Redis too: the admitter stops (paused), buyers and consoles are told. */
  private async markQuarantined(sale: Sale, why: string): Promise<void> {
    const k = saleKeys(this.d.prefix, sale.id);
    await this.d.scripts.putSale(k, 'heal', { ...this.d.fieldsOf({ ...sale, status: sale.status === 'ended' ? 'ended' : 'paused' }), quarantine: '1' });
    await this.d.redis.sadd(salesIndexKey(this.d.prefix), sale.id);
    await this.d.events.publish(sale.id, { t: 'state', state: sale.status === 'ended' ? 'ended' : 'paused' });
    this.log?.error({ sale: sale.id, reason: why }, 'sale quarantined: its ledger cannot be reconciled');
  }
}

/**
 * Which ledger units a heal can place. A pool with more orders than stock cannot be healed (overfull:
 * the sale is quarantined). Payments still pending beyond what is left keep their place in the ledger
 * but not in Redis: the fence refuses their orders (sold_out) if they are authorised.
 */
export function fitLedger(stock: number[], holds: LedgerHold[]): { holds: LedgerHold[]; overfull: number[] } {
  const used = stock.map(() => 0);
  const sold = stock.map(() => 0);
  for (const h of holds) if (h.state === 'sold') sold[poolOfHold(h.holdId) ?? 0]!++;
  const overfull = sold.flatMap((n, i) => (n > stock[i]! ? [i] : []));
  const out: LedgerHold[] = [];
  for (const h of holds) {
    const p = poolOfHold(h.holdId) ?? 0;
    if (p >= stock.length) continue;
    if (h.state === 'paying' && sold[p]! + used[p]! >= stock[p]!) continue;
    if (h.state === 'paying') used[p]!++;
    out.push(h);
  }
  return { holds: out, overfull };
}
