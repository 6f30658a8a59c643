import type { PoolStats } from '../inventory/inventory-service.js';
import { DEFAULT_MULTIPLIERS, etaAt, priorPace, saleModel, type EstimateModel } from './estimates.js';

/** What the admitter reads of a sale at one tick. */
export interface TickInput extends Omit<PoolStats, 'stock'> {
  now: number;
  /** Holds ever given (the sale hash's `admitted`). */
  admitted: number;
  /** Tickets ever given (the sale hash's `seq`) and the highest ticket admitted. */
  seq: number;
  served: number;
  /** Buyers waiting in the line (after the seal). */
  waiting: number;
  admitPerSecond: number;
  maxActiveHolds: number;
  holdSeconds: number;
  /** The line moves: the sale is active, sealed, not sold out. Only then are paces and leaves measured. */
  moving: boolean;
  soldOut: boolean;
}

/** The pace is measured over this much of the recent past, on the ticks when slots were the limit. */
const PACE_WINDOW_MS = 30_000;
const PACE_MIN_SPAN_MS = 3_000;

/**
 * One sale's history as the estimator needs it, fed once per admitter tick (the admitter in
 * production, the recorded-sale replay in tests): the line's pace, the waiters' leaving, and the ETA
 * calibration. Memory is O(1) per sale (bounded windows); it lives with the admitter's lease, so a new
 * lease holder starts from the priors and this sale's counters, and relearns the rest in seconds.
 */
export class SaleTracker {
  readonly eta = new EtaCalibration();
  /** Ticks when no slot was free (the line's pace is then the holds' turnover, not the bucket). */
  private readonly bound: { at: number; dt: number; moved: number }[] = [];
  private waiterSeconds = 0;
  private leavesAtStart: number | null = null;
  private last: { at: number; served: number } | null = null;

  tick(t: TickInput): EstimateModel {
    // Each ticket is waiting, admitted or left: what is neither has left (a waiter being admitted
    // right now is counted as left for that moment; a handful against thousands).
    const leaves = Math.max(0, t.seq - t.waiting - t.admitted);
    const freeSlots = Math.max(0, Math.min(t.maxActiveHolds - t.held - t.paying, t.available));
    if (t.moving) {
      if (this.leavesAtStart === null) this.leavesAtStart = leaves;
      if (this.last !== null) {
        const dt = Math.max(0, t.now - this.last.at);
        this.waiterSeconds += (t.waiting * dt) / 1000;
        if (freeSlots === 0 && dt > 0) this.bound.push({ at: t.now, dt, moved: Math.max(0, t.served - this.last.served) });
      }
      this.last = { at: t.now, served: t.served };
    } else {
      this.last = null;
    }
    while (this.bound.length > 0 && t.now - this.bound[0]!.at > PACE_WINDOW_MS) this.bound.shift();
    const model = saleModel({
      ...t, freeSlots, pace: this.pace(t), leaves: leaves - (this.leavesAtStart ?? leaves), waiterSeconds: this.waiterSeconds,
    }, this.eta.multipliers());
    if (t.soldOut) this.eta.dropPending();
    else if (t.moving) this.eta.observe(t.now, t.served, t.waiting, (k) => etaAt(model, k).etaSeconds);
    return model;
  }

  /**
   * Tickets per second the served ticket moved while slots were the limit. Before there are a few
   * seconds of those, a prior from the settings: every active hold turning over in half the hold time.
   */
  private pace(t: TickInput): number {
    let dt = 0;
    let moved = 0;
    for (const b of this.bound) {
      dt += b.dt;
      moved += b.moved;
    }
    if (dt < PACE_MIN_SPAN_MS) return priorPace(t);
    // A line that stood still all along gets half a ticket per window: long ETAs, not infinite ones.
    return Math.max(moved, 0.5) / (dt / 1000);
  }
}

interface Probe {
  ticket: number;
  at: number;
  predicted: number;
}

/**
 * Calibrates the ETA interval on this sale's own admissions, without a record per buyer: once a
 * second it notes the predicted wait of a few places (1, 2, 4, 8, ... up to the line's length) and,
 * when the served ticket passes one, the ratio actual / predicted (both + 1 s). The interval's
 * multipliers are the 10th and 90th percentiles of the last ratios. Probes whose ticket is never
 * reached (sold out) are dropped: they say nothing of the waits of buyers who are admitted.
 */
export class EtaCalibration {
  static readonly MIN_SAMPLES = 12;
  private static readonly KEEP = 400;
  private static readonly MAX_PENDING = 600;
  private readonly pending: Probe[] = [];
  private readonly ratios: number[] = [];
  private lastProbeAt = -Infinity;

  constructor(private readonly probeEveryMs = 1000) {}

  /** One admitter tick: settle the probes the served ticket passed, then probe again (at most once per probeEveryMs). */
  observe(now: number, served: number, waiting: number, predict: (position: number) => number): void {
    for (let i = this.pending.length - 1; i >= 0; i--) {
      const p = this.pending[i]!;
      if (p.ticket > served) continue;
      this.ratios.push(((now - p.at) / 1000 + 1) / (p.predicted + 1));
      this.pending.splice(i, 1);
    }
    if (this.ratios.length > EtaCalibration.KEEP) this.ratios.splice(0, this.ratios.length - EtaCalibration.KEEP);
    if (now - this.lastProbeAt < this.probeEveryMs || waiting <= 0) return;
    this.lastProbeAt = now;
    for (let k = 1; k <= waiting; k *= 2) this.pending.push({ ticket: served + k, at: now, predicted: predict(k) });
    if (this.pending.length > EtaCalibration.MAX_PENDING) this.pending.splice(0, this.pending.length - EtaCalibration.MAX_PENDING);
  }

  /** Forget probes that can no longer settle (the sale sold out or ended). */
  dropPending(): void {
    this.pending.length = 0;
  }

  get samples(): number {
    return this.ratios.length;
  }

  multipliers(): { lo: number; hi: number } {
    if (this.ratios.length < EtaCalibration.MIN_SAMPLES) return DEFAULT_MULTIPLIERS;
    const sorted = [...this.ratios].sort((a, b) => a - b);
    return { lo: quantile(sorted, 0.1), hi: quantile(sorted, 0.9) };
  }
}

function quantile(sorted: number[], p: number): number {
  const i = (sorted.length - 1) * p;
  const lo = Math.floor(i);
  const hi = Math.ceil(i);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (i - lo);
}
