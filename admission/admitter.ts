import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import type { RedisClient } from '../shared/redis.js';
import type { Logger } from '../shared/logger.js';
import { metrics } from '../shared/metrics.js';
import { sumStats, type Inventory } from '../inventory/inventory-service.js';
import { poolOfHold } from '../inventory/keys.js';
import { saleKeys, salesIndexKey } from './keys.js';
import { AdmissionScripts, type Lease } from './scripts.js';
import { SaleEvents, type BuyerFrame } from './sale-events.js';
import { SaleTracker } from './estimate-tracker.js';
import { EstimateLog } from './estimate-log.js';

export interface AdmitterOptions {
  tickMs: number;
  /** How long a lease outlives its last renewal: a crashed owner's sales move on after this. */
  leaseMs: number;
  /** Most admissions per sale per tick. */
  batch: number;
  /**
   * An admission still unfinished this long after it began is finished by the lease holder's tick
   * (default: three ticks). The tick that begins an admission finishes it itself, so only abandoned
   * ones are left by then; finishing one twice would be harmless (take is idempotent per hold id,
   * admit-done answers 'stale') but costs round trips and a warning.
   */
  finishAfterMs?: number;
  log: Logger;
}

interface SaleMemo {
  lastPublish: number;
  lastServed: number;
  /**
   * Admissions of the last few seconds: the tick's `rate`. This version's gateways take ETAs from the
   * tick's model (`m`); the rate stays for gateways of the previous version during a rolling deploy.
   */
  window: { at: number; n: number }[];
  /** This sale's pace, leave rate and ETA calibration, for the chances and ETAs buyers are shown. */
  estimates: SaleTracker;
}

/**
 * Runs every sale's tick: sweep expired holds, seal the pre-queue at the start, admit up to the token
 * bucket, and publish one message per tick. Any process may run it; a Redis lease per sale makes sure
 * one process at a time does the work for a sale.
 */
export class Admitter {
  readonly owner = `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
  private readonly scripts: AdmissionScripts;
  private readonly events: SaleEvents;
  private readonly estimates: EstimateLog;
  /** Sale id -> the lease value of our current holding of its lease. */
  private readonly leased = new Map<string, string>();
  private readonly memo = new Map<string, SaleMemo>();
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private stopped = true;

  constructor(readonly redis: RedisClient, readonly prefix: string, readonly inventory: Inventory, readonly opts: AdmitterOptions) {
    this.scripts = new AdmissionScripts(redis);
    this.events = new SaleEvents(redis, prefix);
    this.estimates = new EstimateLog(redis, prefix);
  }

  start(): void {
    this.stopped = false;
    const loop = async () => {
      if (this.stopped) return;
      const began = Date.now();
      await this.tickAll().catch((err) => this.opts.log.error({ err }, 'admitter tick failed'));
      if (!this.stopped) this.timer = setTimeout(tick, Math.max(0, this.opts.tickMs - (Date.now() - began)));
    };
    // Fire-and-forget on purpose: loop catches tickAll's failures itself, and nothing else in it rejects.
    const tick = () => void loop();
    this.timer = setTimeout(tick, 0);
  }

  /** Stops ticking and gives the leases back so another process takes over at once. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    while (this.running) await new Promise((r) => setTimeout(r, 5));
    for (const [id, lease] of this.leased) {
      const k = saleKeys(this.prefix, id);
      await this.redis.eval("if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0", 1, k.lease, lease).catch(() => {});
    }
    this.leased.clear();
  }

  async tickAll(): Promise<void> {
    this.running = true;
    try {
      const ids = await this.redis.smembers(salesIndexKey(this.prefix));
      await Promise.all(ids.map((id) => this.tickSale(id).catch((err) => this.opts.log.error({ err, sale: id }, 'sale tick failed'))));
    } finally {
      this.running = false;
    }
  }

  async tickSale(saleId: string): Promise<void> {
    const k = saleKeys(this.prefix, saleId);
    // Every write below that counts on what this tick read is fenced by this holding's lease value:
    // if the process pauses past the lease, they refuse when it wakes (admit-8, admit-done-6).
    const lease = await this.scripts.lease(k, this.owner, this.opts.leaseMs);
    if (!lease) {
      this.leased.delete(saleId);
      return;
    }
    const [poolsS, holdS, maxS, status, startsS, sealed, soldOut, healing, sealAtS, admitPerSecondS, admittedS, seqS] = await this.redis.hmget(
      k.sale, 'pools', 'holdSeconds', 'maxActiveHolds', 'status', 'startsAt', 'sealed', 'soldOut', 'healing', 'sealAt', 'admitPerSecond', 'admitted', 'seq');
    // A sale being healed from the ledger (SaleHealer) admits nobody until its pools are whole again.
    if (!poolsS || healing === '1') return;
    const pools = Number(poolsS);
    const holdSeconds = Number(holdS);
    metrics.admitterTicks.inc();
    const memo = this.memo.get(saleId) ?? { lastPublish: 0, lastServed: -1, window: [], estimates: new SaleTracker() };
    this.memo.set(saleId, memo);
    // A new holding of the lease (this process had lost it to another): what it measured before is
    // stale, and its last tick may be hours old, which would count as one long tick. Start from the priors.
    if (this.leased.get(saleId) !== lease.value) memo.estimates = new SaleTracker();
    // Before the pools are read below: units these admissions take are then in that read.
    const frames = await this.finishUnfinished(saleId, lease, holdSeconds);

    // The pre-queue stays open through the sale's lottery window (sealAt = startsAt + the window).
    if (sealed !== '1' && Date.now() >= Number(sealAtS ?? startsS)) {
      for (let i = 0; i < 20; i++) {
        if ((await this.scripts.seal(k, 5000)) === 1) {
          await this.events.publish(saleId, { t: 'sealed' });
          break;
        }
      }
    }

    // Not fenced: a hold past its deadline is expired by whoever sees it first (each once, in its
    // pool's own script), and an expiry only lowers held, so a paused admitter doing it late is harmless.
    for (const e of await this.inventory.expireDue(saleId, pools)) {
      frames.push({ b: e.buyer, f: { type: 'hold_expired', holdId: e.holdId } });
      metrics.holdsExpired.inc({ sale: saleId });
    }

    const perPool = await this.inventory.poolStats(saleId, pools);
    // Every pool has stock >= 1 (pools <= stock): a pool reading 0 is missing from Redis, and nothing
    // may be concluded from it (least of all sold out) until the Redis guard has healed the sale.
    if (perPool.some((p) => p.stock === 0)) return;
    const total = sumStats(perPool);
    // Sold out only when nothing is free and nothing is held or paying that could come back.
    const isSoldOut = total.available + total.held + total.paying === 0;
    if (isSoldOut !== (soldOut === '1') && (await this.scripts.markSoldOut(k, isSoldOut))) {
      await this.events.publish(saleId, { t: 'state', state: isSoldOut ? 'sold_out' : 'open' });
    }
    const active = total.held + total.paying;
    const maxNew = Math.max(0, Math.min(Number(maxS) - active, total.available));
    let served = memo.lastServed;
    if (status === 'active' && !isSoldOut) {
      const nonce = randomBytes(5).toString('hex');
      const reply = await this.scripts.admit(k, lease.value, maxNew, this.opts.batch, nonce, perPool.map((p) => p.available));
      if (typeof reply === 'number') {
        // AdmissionCode.NotLeaseHolder: our holding ended while this tick ran (a long pause), so its
        // maxNew is stale and admit-8 admitted nobody.
        this.leased.delete(saleId);
        this.opts.log.warn({ sale: saleId, lease: lease.value }, 'admitter lease ended during its tick: admitted nobody');
        // What it did finish or expire before is true, so its buyers are told, but not with a tick
        // message: its served ticket may be older than the new holder's.
        for (const f of frames) await this.events.toBuyer(saleId, f.b, f.f);
        return;
      }
      served = Number(reply[0]);
      const count = Number(reply[1]);
      const done = await Promise.all(
        Array.from({ length: count }, (_, i) => {
          const at = 2 + i * 4;
          const ticket = Number(reply[at + 3]);
          return this.finishAdmission(saleId, lease, String(reply[at]), String(reply[at + 1]), Number(reply[at + 2]), holdSeconds)
            .then((f) => f && (ticket > 0 ? { ...f, t: ticket } : f));
        }),
      );
      for (const f of done) if (f) frames.push(f);
      if (count > 0) metrics.admissions.inc({ sale: saleId }, count);
      memo.window.push({ at: Date.now(), n: count });
    }
    metrics.holdsActive.set({ sale: saleId }, active);
    const waiting = await this.scripts.waitingCount(k);
    metrics.waiting.set({ sale: saleId }, waiting);
    metrics.sold.set({ sale: saleId }, total.sold);

    const now = Date.now();
    memo.window = memo.window.filter((w) => now - w.at <= 5000);
    const span = Math.max(1, Math.min(5000, now - (memo.window[0]?.at ?? now))) / 1000;
    const rate = memo.window.reduce((a, w) => a + w.n, 0) / span;
    const admittedNow = frames.filter((f) => f.f.type === 'admitted').map((f) => f.b);
    // Outcomes of the predictions buyers were shown (the operator's estimate quality); never in a buyer's way.
    await this.estimates.settle(saleId, admittedNow, now).catch((err) => this.opts.log.warn({ err, sale: saleId }, 'could not record estimate outcomes'));
    // Only a moving line measures pace and leaves: waits before the start or while paused are not the line's.
    const model = memo.estimates.tick({
      ...total, now, admitted: Number(admittedS ?? 0) + admittedNow.length, seq: Number(seqS ?? 0), served: Math.max(0, served), waiting,
      admitPerSecond: Number(admitPerSecondS ?? 1), maxActiveHolds: Number(maxS), holdSeconds, moving: status === 'active' && sealed === '1' && !isSoldOut, soldOut: isSoldOut,
    });
    if (frames.length > 0 || served !== memo.lastServed || now - memo.lastPublish >= 1000) {
      await this.events.publish(saleId, { t: 'tick', served, rate: Math.round(rate * 10) / 10, buyers: frames, m: model });
      memo.lastPublish = now;
      memo.lastServed = served;
    }
  }

  /**
   * Takes the unit of one admission in its pool, then points the buyer at it (or re-queues them).
   * A stale caller (lease ended) may still take the unit: admit-8 counted this admission while it is
   * listed, and it stays listed, since admit-done-6 refuses the stale caller ('fenced'), until the
   * holder finishes it and finds that unit (take is idempotent per hold id).
   */
  private async finishAdmission(saleId: string, lease: Lease, buyer: string, holdId: string, pool: number, holdSeconds: number): Promise<{ b: string; f: BuyerFrame } | null> {
    const k = saleKeys(this.prefix, saleId);
    // No unit in the pool: void the hold id before the buyer goes back to the queue, so no late take
    // of it (another admitter, paused with it in hand) can hold a unit nobody points at or counts. If
    // such a take got in first, the unit is this admission's after all.
    const taken = (await this.inventory.take(saleId, pool, holdId, buyer, holdSeconds)) ?? (await this.inventory.voidHold(saleId, pool, holdId));
    if (!taken) {
      await this.scripts.admitDone(k, lease.value, buyer, holdId, 'requeue');
      return null;
    }
    const outcome = await this.scripts.admitDone(k, lease.value, buyer, holdId, 'held');
    if (outcome === 'left') {
      await this.inventory.release(saleId, holdId, '');
      return null;
    }
    if (outcome !== 'held') return null;
    return { b: buyer, f: { type: 'admitted', holdId, expiresAt: new Date(taken.deadline).toISOString() } };
  }

  /**
   * Finishes admissions another tick began and did not finish (crash, lost lease, lost replies between
   * admit-8 and the take): every one when this holding of the lease is new (they are a previous
   * holder's, fenced now), else those older than the grace. Each tick, not only at a lease change, so
   * no buyer stays 'admitting' for good; O(found) per tick.
   */
  private async finishUnfinished(saleId: string, lease: Lease, holdSeconds: number): Promise<{ b: string; f: BuyerFrame }[]> {
    const k = saleKeys(this.prefix, saleId);
    const isNew = this.leased.get(saleId) !== lease.value;
    this.leased.set(saleId, lease.value);
    const pending = isNew
      ? Object.entries(await this.redis.hgetall(k.admitting)).map(([holdId, buyer]) => ({ holdId, buyer }))
      : await this.scripts.admittingDue(k, this.opts.finishAfterMs ?? 3 * this.opts.tickMs, this.opts.batch);
    if (pending.length === 0) return [];
    const done = await Promise.all(pending.map(({ holdId, buyer }) => {
      const pool = poolOfHold(holdId);
      // A hold id naming no pool (admit-8 never makes one) has no unit: back to the queue.
      if (pool === null) return this.scripts.admitDone(k, lease.value, buyer, holdId, 'requeue').then(() => null);
      return this.finishAdmission(saleId, lease, buyer, holdId, pool, holdSeconds);
    }));
    const frames = done.filter((f): f is { b: string; f: BuyerFrame } => f !== null);
    this.opts.log.warn({ sale: saleId, unfinished: pending.length, admitted: frames.length }, 'finished admissions another tick began');
    return frames;
  }
}
