import type { Sale, SaleStats } from '../admission/sale-schema.js';
import type { SaleService } from '../admission/sale-service.js';
import { metrics } from '../shared/metrics.js';
import type { Context } from './context.js';
import { SaleHistory } from './sale-history.js';

/** Active holds of one age bucket, split by state (a paying hold keeps the age it had when paid). */
export interface AgeBucket {
  fromSeconds: number;
  toSeconds: number;
  held: number;
  paying: number;
}

/** One sale as the operator console sees it, pushed once a second. */
export interface SaleLive {
  at: string;
  id: string;
  name: string;
  startsAt: string;
  endsAt: string;
  settings: { admitPerSecond: number; maxActiveHolds: number; holdSeconds: number; perBuyerLimit: number; pools: number };
  stats: SaleStats;
  /** Buyers admitted per second and units sold per second, over the last RATE_WINDOW_MS. */
  admissionRate: number;
  soldRate: number;
  holdsByAge: AgeBucket[];
  /** When sold will reach stock at the current sold rate; null when sold out, ended or nothing sells. */
  projectedSellOutAt: string | null;
  /** When this gateway first saw the sale sold out (cleared by a restock). */
  soldOutAt: string | null;
  /** Set while the sale cannot be reconciled with the ledger (the console shows a banner). */
  quarantine: { reason: string; since: string } | null;
}

const RATE_WINDOW_MS = 10_000;
const AGE_BUCKETS = 4;

interface Sample { at: number; admitted: number; sold: number }

/** Per second over the samples of the last `windowMs` (0 with fewer than two samples). */
export function ratePerSecond(samples: Sample[], field: 'admitted' | 'sold', now: number, windowMs = RATE_WINDOW_MS): number {
  const inWindow = samples.filter((s) => now - s.at <= windowMs);
  if (inWindow.length < 2) return 0;
  const first = inWindow[0]!;
  const last = inWindow[inWindow.length - 1]!;
  const seconds = (last.at - first.at) / 1000;
  return seconds > 0 ? Math.max(0, (last[field] - first[field]) / seconds) : 0;
}

/**
 * Active holds in equal age buckets over the hold time. A hold's age is read from its deadline and the
 * sale's current holdSeconds (holds store no start time); after a live change of holdSeconds the
 * older holds' ages are off by the difference, which is clamped into the first or last bucket.
 */
export function holdsByAge(holds: { state: 'held' | 'paying'; deadline: number }[], holdSeconds: number, now: number): AgeBucket[] {
  const width = holdSeconds / AGE_BUCKETS;
  const buckets: AgeBucket[] = Array.from({ length: AGE_BUCKETS }, (_, i) => ({
    fromSeconds: Math.round(i * width * 10) / 10, toSeconds: Math.round((i + 1) * width * 10) / 10, held: 0, paying: 0,
  }));
  for (const h of holds) {
    const age = holdSeconds - (h.deadline - now) / 1000;
    const i = Math.min(AGE_BUCKETS - 1, Math.max(0, Math.floor(age / width)));
    buckets[i]![h.state]++;
  }
  return buckets;
}

export function projectSellOut(stats: SaleStats, soldRate: number, now: number): string | null {
  if (stats.state === 'sold_out' || stats.state === 'ended' || soldRate <= 0) return null;
  const remaining = stats.stock - stats.sold;
  return new Date(now + (remaining / soldRate) * 1000).toISOString();
}

export type LiveListener = (chunk: string) => void;

/**
 * The operator console's live feed. Every second each sale's stats are read once and serialised once
 * for all listeners of this gateway: the cost follows the number of sales, never the number of
 * consoles or buyers. Once start()ed (the gateway does) the rounds run with no console too, to keep
 * each sale's last five minutes (SaleHistory) for a console opened mid-sale; without one, the holds
 * are not read (only the console's "holds by age" needs them).
 */
export class LiveStats {
  private readonly listeners = new Set<LiveListener>();
  private readonly samples = new Map<string, Sample[]>();
  private readonly soldOutSeen = new Map<string, number>();
  /** The last frame of each sale, so a console that connects sees every sale at once. */
  private readonly latest = new Map<string, string>();
  /** Sales that ended with nothing held or paying: their numbers cannot move, so they are re-read rarely. */
  private readonly finished = new Map<string, { row: string; chunk: string; stats: SaleStats }>();
  readonly history = new SaleHistory();
  /** Set by start(): the rounds go on with no console listening (history is kept). */
  private always = false;
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private generation = 0;
  private busy = false;
  private round = 0;

  /**
   * `sales` should sit on a Redis connection of its own: in a stampede the gateway's main connection
   * carries thousands of queued join scripts, and the console's reads would wait behind all of them.
   */
  constructor(private readonly ctx: Context, private readonly sales: SaleService = ctx.sales, private readonly intervalMs = 1000) {}

  get size(): number {
    return this.listeners.size;
  }

  /** Runs the rounds from now on, console or not, so each sale's history is there when one connects. */
  start(): void {
    this.always = true;
    this.run();
  }

  private run(): void {
    if (this.running) return;
    this.running = true;
    void this.loop(++this.generation);
  }

  subscribe(fn: LiveListener): () => void {
    this.listeners.add(fn);
    metrics.liveConsoles.set(this.listeners.size);
    // The past first (the chart is drawn from it), then each sale's newest numbers.
    for (const chunk of this.history.chunks(Date.now())) fn(chunk);
    for (const chunk of this.latest.values()) fn(chunk);
    this.run();
    return () => {
      this.listeners.delete(fn);
      metrics.liveConsoles.set(this.listeners.size);
      if (this.listeners.size === 0 && !this.always) this.stop();
    };
  }

  /**
   * Each round is scheduled from the start of the previous one, so a slow round (Redis busy in a
   * stampede) delays the next by its overrun only, instead of skipping a whole interval.
   */
  private async loop(generation: number): Promise<void> {
    const began = Date.now();
    await this.tick();
    // A stop and a new start during that round began another loop: this one ends here.
    if (this.running && generation === this.generation) {
      this.timer = setTimeout(() => void this.loop(generation), Math.max(0, this.intervalMs - (Date.now() - began)));
      // Rounds run with no console too: they alone must not keep a process alive.
      this.timer.unref();
    }
  }

  stop(): void {
    this.running = false;
    this.always = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    // Rates restart from fresh samples when a console comes back; old gaps would skew them.
    this.samples.clear();
    this.latest.clear();
    this.finished.clear();
  }

  /** One round: every sale read, one `sale` event each, then a `tick` naming the sales that exist. */
  async tick(now = Date.now()): Promise<void> {
    // A slow round (Redis under a stampede) is not stacked up: the next one starts after it ends.
    if (this.busy) return;
    this.busy = true;
    const began = Date.now();
    this.round++;
    try {
      const sales = await this.sales.list();
      this.history.retain(new Set(sales.map((s) => s.id)));
      const chunks = await Promise.all(sales.map((s) => this.saleChunk(s, now).catch((err) => {
        this.ctx.log.warn({ err, sale: s.id }, 'live stats of a sale failed');
        return null;
      })));
      for (const chunk of chunks) if (chunk) this.broadcast(chunk);
      this.broadcast(`event: tick\ndata: ${JSON.stringify({ at: new Date(now).toISOString(), sales: sales.map((s) => s.id) })}\n\n`);
      const took = Date.now() - began;
      if (took > this.intervalMs) this.ctx.log.warn({ ms: took, sales: sales.length }, 'a live stats round took longer than its interval');
    } catch (err) {
      this.ctx.log.warn({ err }, 'live stats round failed');
    } finally {
      this.busy = false;
    }
  }

  /**
   * One sale's event. Years of past sales would otherwise be re-read every second: a sale that ended
   * with nothing held or paying is re-read every 10th round, or at once when its row changes (an
   * operator moved endsAt), and its last event is sent again meanwhile.
   */
  private async saleChunk(sale: Sale, now: number): Promise<string | null> {
    const row = JSON.stringify(sale);
    const done = this.finished.get(sale.id);
    if (done && done.row === row && this.round % 10 !== 0) {
      this.history.add(sale.id, now, done.stats);
      return done.chunk;
    }
    const f = await this.saleLive(sale, now);
    // Every pool has stock >= 1: a total of 0 is a sale listed in Postgres whose Redis copy is not
    // written yet (being created) or lost (being healed). Nothing is sent or kept from that reading.
    if (f.stats.stock === 0) return null;
    this.history.add(sale.id, now, f.stats);
    const chunk = `event: sale\ndata: ${JSON.stringify(f)}\n\n`;
    this.latest.set(f.id, chunk);
    if (f.stats.state === 'ended' && f.stats.held + f.stats.paying === 0) this.finished.set(sale.id, { row, chunk, stats: f.stats });
    else this.finished.delete(sale.id);
    return chunk;
  }

  private broadcast(chunk: string): void {
    for (const fn of this.listeners) fn(chunk);
  }

  private async saleLive(sale: Sale, now: number): Promise<SaleLive> {
    const stats = await this.sales.stats(sale, now);
    // Holds are read only when some are running and a console shows them: a finished sale, or any
    // sale with no console listening, costs one stats read a second.
    const active = stats.held + stats.paying > 0 && this.listeners.size > 0 ? await this.sales.activeHolds(sale) : [];
    const list = this.samples.get(sale.id) ?? [];
    list.push({ at: now, admitted: stats.admitted, sold: stats.sold });
    while (list.length > 0 && now - list[0]!.at > RATE_WINDOW_MS) list.shift();
    this.samples.set(sale.id, list);
    if (stats.state === 'sold_out') {
      if (!this.soldOutSeen.has(sale.id)) this.soldOutSeen.set(sale.id, now);
    } else {
      this.soldOutSeen.delete(sale.id);
    }
    const soldRate = ratePerSecond(list, 'sold', now);
    const soldOutAt = this.soldOutSeen.get(sale.id);
    return {
      at: new Date(now).toISOString(),
      id: sale.id,
      name: sale.name,
      startsAt: sale.startsAt,
      endsAt: sale.endsAt,
      settings: { admitPerSecond: sale.admitPerSecond, maxActiveHolds: sale.maxActiveHolds, holdSeconds: sale.holdSeconds, perBuyerLimit: sale.perBuyerLimit, pools: sale.pools },
      stats,
      admissionRate: round1(ratePerSecond(list, 'admitted', now)),
      soldRate: round1(soldRate),
      holdsByAge: holdsByAge(active, sale.holdSeconds, now),
      projectedSellOutAt: projectSellOut(stats, soldRate, now),
      soldOutAt: soldOutAt === undefined ? null : new Date(soldOutAt).toISOString(),
      quarantine: sale.quarantine ?? null,
    };
  }
}

const round1 = (x: number) => Math.round(x * 10) / 10;
