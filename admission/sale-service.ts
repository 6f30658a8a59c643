import { randomBytes } from 'node:crypto';
import type { Db } from '../shared/db.js';
import { execMulti, type RedisClient } from '../shared/redis.js';
import type { Logger } from '../shared/logger.js';
import { splitUnits, type Inventory, type PoolStats } from '../inventory/inventory-service.js';
import { InventoryError } from '../inventory/errors.js';
import { SaleHealer, type HealResult } from './sale-healer.js';
import { saleKeys, salesIndexKey } from './keys.js';
import { AdmissionScripts } from './scripts.js';
import { SaleEvents } from './sale-events.js';
import { SaleStore } from './sale-store.js';
import { EstimateLog } from './estimate-log.js';
import type { EstimateQuality } from './estimate-quality.js';
import { saleState, sealAt, type Sale, type SaleInput, type SalePatch, type SaleStats, type SaleStatus } from './sale-schema.js';

export class SaleExistsError extends Error {
  override name = 'SaleExistsError';
}

/** The runtime copy of a sale's settings in its Redis hash (times in ms, as the scripts compare). */
function redisFields(s: Sale): Record<string, string | number> {
  return {
    status: s.status,
    startsAt: Date.parse(s.startsAt),
    endsAt: Date.parse(s.endsAt),
    admitPerSecond: s.admitPerSecond,
    maxActiveHolds: s.maxActiveHolds,
    holdSeconds: s.holdSeconds,
    perBuyerLimit: s.perBuyerLimit,
    pools: s.pools,
    prequeueKey: s.prequeueKey,
    sealAt: sealAt(s),
  };
}

/**
 * Creating and steering sales. Postgres is written first (the durable copy), then Redis; Redis is
 * rebuilt from the ledger whenever a sale's hash is missing (Redis lost its data).
 */
export class SaleService {
  readonly store: SaleStore;
  readonly scripts: AdmissionScripts;
  readonly events: SaleEvents;
  readonly healer: SaleHealer;
  /** The first chance and ETA each buyer was shown, and how they turned out (the operator's view). */
  readonly estimates: EstimateLog;
  constructor(readonly db: Db, readonly redis: RedisClient, readonly prefix: string, readonly inventory: Inventory, log?: Logger) {
    this.store = new SaleStore(db);
    this.scripts = new AdmissionScripts(redis);
    this.events = new SaleEvents(redis, prefix);
    this.estimates = new EstimateLog(redis, prefix, undefined, (err) => log?.warn({ err }, 'could not record estimates'));
    this.healer = new SaleHealer({ db, redis, prefix, inventory, store: this.store, scripts: this.scripts, events: this.events, fieldsOf: redisFields }, log);
  }

  async create(input: SaleInput, now = Date.now()): Promise<Sale> {
    const startsAt = input.startsAt ? new Date(input.startsAt).toISOString() : new Date(now).toISOString();
    const endsAt = input.endsAt ? new Date(input.endsAt).toISOString() : new Date(Date.parse(startsAt) + 3600_000).toISOString();
    if (Date.parse(endsAt) <= Date.parse(startsAt)) throw new RangeError('endsAt must be after startsAt');
    const sale: Sale = {
      ...input,
      id: input.id ?? `sale-${randomBytes(6).toString('hex')}`,
      joinChallengeBits: input.joinChallengeBits ?? 0,
      startsAt,
      endsAt,
      lotteryWindowSeconds: input.lotteryWindowSeconds ?? 0,
      status: 'active',
      prequeueKey: randomBytes(16).toString('hex'),
    };
    const stored = await this.store.insert(sale);
    if (!stored) throw new SaleExistsError(`a sale with id ${sale.id} exists`);
    // A new sale's copy is its first generation: settings, then its pools (empty of holds).
    const k = saleKeys(this.prefix, stored.id);
    const runIdOf = await this.healer.runIds();
    await this.scripts.putSale(k, 'create', { ...redisFields(stored), gen: 1, runId: runIdOf(k.sale) ?? '' });
    await this.inventory.healPools(stored.id, splitUnits(stored.stock, stored.pools), [], 1);
    await this.healer.markPools(runIdOf, stored.id, stored.pools);
    await this.redis.sadd(salesIndexKey(this.prefix), stored.id);
    return stored;
  }

  /**
   * Makes sure Redis has the sale as the ledger says: heals it from Postgres when its copy is missing,
   * of another generation or behind the ledger (SaleHealer). A quarantined sale is only marked paused.
   */
  async ensureRedis(sale: Sale): Promise<HealResult | null> {
    if (sale.quarantine) {
      await this.healer.heal(sale.id, 'forced');
      return null;
    }
    // Every sale has its fence rows from its insert on (a sale without them is healed, which finds out).
    const [marks] = await this.store.ledgerMarks(sale.id);
    const reason = marks ? await this.healer.findLoss(marks, await this.healer.runIds()) : 'missing';
    if (reason === null) {
      await this.redis.sadd(salesIndexKey(this.prefix), sale.id);
      return null;
    }
    return this.healer.heal(sale.id, reason);
  }

  /**
   * Loads every sale of Postgres into Redis (start of every process; cheap when they are there). One
   * sale that cannot be loaded is quarantined or left to the Redis guard; the others load, and the
   * process starts either way.
   */
  async loadAll(log?: Logger): Promise<Sale[]> {
    const sales = await this.store.list();
    for (const s of sales) {
      try {
        await this.ensureRedis(s);
      } catch (err) {
        log?.error({ err, sale: s.id }, 'could not load the sale into Redis; the Redis guard retries');
      }
    }
    return sales;
  }

  /** Key names of a sale's waiting room (tests and tools; other modules call functions instead). */
  keysOf(id: string) {
    return saleKeys(this.prefix, id);
  }

  /**
   * The sealed pre-queue's scores in ticket order, or null while it is not sealed yet. The first read
   * after the seal copies it from Redis to Postgres; from then on Postgres' copy is the one published,
   * so the order anyone was shown never changes, even if Redis is lost and the sale rebuilt.
   */
  async prequeueOrder(id: string): Promise<string[] | null> {
    const published = await this.store.prequeueOrder(id);
    if (published) return published;
    const sealed = await this.sealedOrder(id);
    return sealed && this.store.publishPrequeueOrder(id, sealed);
  }

  /** Redis' copy: one MULTI, so a seal moving its last chunk is never read halfway. */
  private async sealedOrder(id: string): Promise<string[] | null> {
    const k = saleKeys(this.prefix, id);
    const [sealed, order] = await execMulti(this.redis.multi().hget(k.sale, 'sealed').lrange(k.order, 0, -1), 'pre-queue order');
    return sealed === '1' ? (order as string[]) : null;
  }

  async isSoldOut(id: string): Promise<boolean> {
    return (await this.redis.hget(saleKeys(this.prefix, id).sale, 'soldOut')) === '1';
  }

  /**
   * The waiting room's part of a sale's funnel: buyers who ever took a place (one record each, kept
   * after they leave or buy) and leaves. One MULTI: one instant of the sale's slot.
   */
  async funnelCounts(id: string): Promise<{ joined: number; left: number }> {
    const k = saleKeys(this.prefix, id);
    const [joined, left] = await execMulti(this.redis.multi().hlen(k.buyers).hget(k.sale, 'left'), 'funnel counts');
    return { joined: Number(joined), left: Number(left ?? 0) };
  }

  get(id: string): Promise<Sale | null> {
    return this.store.get(id);
  }

  list(): Promise<Sale[]> {
    return this.store.list();
  }

  /** `pools`: the sale's pool totals when the caller has just read them (the audit's atomic snapshot). */
  async stats(sale: Sale, now = Date.now(), pools?: PoolStats): Promise<SaleStats> {
    const k = saleKeys(this.prefix, sale.id);
    const [totals, waiting, fields] = await Promise.all([
      pools ?? this.inventory.stats(sale.id, sale.pools),
      this.scripts.waitingCount(k),
      this.redis.hmget(k.sale, 'soldOut', 'admitted'),
    ]);
    return {
      state: saleState(sale, fields[0] === '1', now),
      stock: totals.stock,
      available: totals.available,
      held: totals.held,
      paying: totals.paying,
      sold: totals.sold,
      waiting,
      admitted: Number(fields[1] ?? 0),
      expired: totals.expired,
    };
  }

  /** How good the estimates buyers were shown turned out: a waiter is 'missed' once the sale is sold out or ended. */
  estimateQuality(sale: Sale, stats: SaleStats): Promise<EstimateQuality> {
    return this.estimates.quality(sale.id, stats.state === 'sold_out' || stats.state === 'ended');
  }

  /**
   * The sale's holds that are still running (held or paying) with their deadlines, for the operator
   * console's "holds by age". One atomic snapshot per pool finds them, then only those are read, so
   * the cost is O(pools + active holds), not O(every hold the sale ever had).
   */
  async activeHolds(sale: Sale): Promise<{ holdId: string; state: 'held' | 'paying'; deadline: number }[]> {
    const pools = await this.inventory.snapshot(sale.id, sale.pools);
    const ids = pools.flatMap((p) => p.holds.filter((h) => h.state === 'held' || h.state === 'paying').map((h) => h.holdId));
    const holds = await Promise.all(ids.map((id) => this.inventory.getHold(sale.id, id)));
    const out: { holdId: string; state: 'held' | 'paying'; deadline: number }[] = [];
    // A hold may have moved on between the snapshot and its read: only the ones still running count.
    for (const h of holds) if (h && (h.state === 'held' || h.state === 'paying')) out.push({ holdId: h.holdId, state: h.state, deadline: h.deadline });
    return out;
  }

  async patch(id: string, p: SalePatch): Promise<Sale | null> {
    const current = await this.store.get(id);
    if (!current) return null;
    if (p.endsAt && Date.parse(p.endsAt) <= Date.parse(current.startsAt)) throw new RangeError('endsAt must be after startsAt');
    // The draw's window may move only while the draw is still open: a sealed pre-queue is final.
    if (p.lotteryWindowSeconds !== undefined && p.lotteryWindowSeconds !== current.lotteryWindowSeconds && Date.now() >= sealAt(current)) {
      throw new SaleConflictError('the pre-queue is sealed: its lottery window can no longer change');
    }
    const updated = await this.store.update(id, { ...p, ...(p.endsAt ? { endsAt: new Date(p.endsAt).toISOString() } : {}) });
    if (!updated) return null;
    await this.scripts.putSale(saleKeys(this.prefix, id), 'update', redisFields(updated));
    await this.events.publish(id, { t: 'state', state: (await this.stats(updated)).state });
    return updated;
  }

  async setStatus(id: string, status: SaleStatus): Promise<Sale | null> {
    const current = await this.store.get(id);
    if (!current) return null;
    // An ended sale stays ended: resuming it would reopen a closed shop window.
    if (current.status === 'ended' && status !== 'ended') throw new SaleConflictError('this sale has ended and cannot be paused or resumed');
    if (current.quarantine && status === 'active') {
      // Only a ledger that fits its stock again (a restock moved the fence) lifts the quarantine.
      if ((await this.healer.heal(id, 'forced')).outcome === 'quarantined') {
        throw new SaleQuarantinedError(`this sale is quarantined (${current.quarantine.reason}) until its ledger fits its stock`);
      }
      await this.store.clearQuarantine(id);
      await this.scripts.putSale(saleKeys(this.prefix, id), 'update', { quarantine: '0' });
    }
    const updated = await this.store.update(id, { status });
    if (!updated) return null;
    await this.scripts.putSale(saleKeys(this.prefix, id), 'update', { status });
    await this.events.publish(id, { t: 'state', state: (await this.stats(updated)).state });
    return updated;
  }

  async restock(id: string, quantity: number): Promise<Sale | null> {
    const updated = await this.store.restock(id, quantity);
    if (!updated) return null;
    // The ledger has the units now (stock and fence). A pool Redis lost (or a quarantined sale's,
    // never written) gets them from the ledger at its heal instead.
    if (!updated.quarantine) {
      await this.inventory.restock(id, updated.pools, quantity).catch((err: unknown) => {
        if (!(err instanceof InventoryError && err.code === 'hold_not_found')) throw err;
      });
    }
    await this.scripts.markSoldOut(saleKeys(this.prefix, id), false);
    await this.events.publish(id, { t: 'state', state: (await this.stats(updated)).state });
    return updated;
  }
}

export class SaleConflictError extends Error {
  override name = 'SaleConflictError';
}

export class SaleQuarantinedError extends Error {
  override name = 'SaleQuarantinedError';
}
