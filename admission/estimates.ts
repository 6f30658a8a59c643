import type { PoolStats } from '../inventory/inventory-service.js';
/**
 * Honest chances and ETA ranges for waiting buyers (contract: `queued.chance`, `queued.etaRange`).
 *
 * Split in two so a gateway with 100,000 waiting sockets pays almost nothing per socket: `saleModel`
 * turns a sale's figures into a few numbers once per sale per admitter tick (they travel in the tick
 * event), and `estimate` applies them to one place in O(1).
 *
 * The chance model. A waiter at position k gets a unit iff, when their turn comes, the buyers before
 * them have not bought every unit that is not sold yet (U = available + held + paying: a held or paying
 * unit comes back if its holder does not pay). Those buyers are the current holders and the k - 1
 * tickets ahead. A held hold ends in a sale with probability s (this sale's sold / finished holds:
 * expiries, releases and declines that ran out of time all count against it), a paying one with
 * sPaying, and the j-th ticket ahead is still there when its turn comes with probability a^j (this
 * sale's observed leave rate per waiter-second over the pace of the line). The units bought before my
 * turn are a sum of Bernoullis; a normal approximation with continuity correction and closed-form
 * geometric sums keep the per-place step O(1).
 */

/** A sale's figures at one admitter tick (estimate-tracker.ts derives the rates from their history). */
/** The pools' counters (`expired`: declined payments not retried end there too; `released`: holds given back by buyers who left). */
export interface SaleFigures extends Omit<PoolStats, 'stock'> {
  /** Admissions that may start at once (min(maxActiveHolds - active, available)): they go at the bucket's rate. */
  freeSlots: number;
  admitPerSecond: number;
  /** Tickets per second the line moves once slots are the limit (measured, or a prior from the settings). */
  pace: number;
  /** Evidence on leaving: waiters who left and waiter-seconds watched (Gamma posterior with a weak prior). */
  leaves: number;
  waiterSeconds: number;
}

/** The per-sale model; short keys because it rides in every tick event. */
export interface EstimateModel {
  /** Units that may still go to a waiter. */
  u: number;
  /** Mean and variance of the units the current holders will buy; h: the current holders. */
  m0: number;
  v0: number;
  h: number;
  /** Probability that an admitted buyer buys, and the variance of that estimate. */
  s: number;
  vs: number;
  /**
   * Probability that a waiter is still there one ticket later, at five quantiles of the leave rate's
   * posterior: the chance is their average, so thin evidence gives humble chances.
   */
  a: number[];
  /** ETA: the first f places go at the bucket's rate b, the rest at the line's pace r (tickets/s). */
  f: number;
  b: number;
  r: number;
  /** ETA interval multipliers (EtaCalibration) on (eta + 1). */
  lo: number;
  hi: number;
}

export interface PlaceEstimate {
  etaSeconds: number;
  etaRange: [number, number];
  chance: number;
}

/** Priors as pseudo-counts: sane numbers in a sale's first seconds, that its own observations take over. */
const BUY_PRIOR = { p: 0.75, weight: 4 };
const LEAVE_PRIOR = { leaves: 0.5, waiterSeconds: 600 };
/**
 * A paying hold is past the buyer's decision: it fails only on a decline (and then goes back to held,
 * where s applies again). No counter of declines exists in Redis, so a paying hold is taken to buy at
 * least as often as a held one, and at least 90 % of the time.
 */
const PAYING_BUYS_AT_LEAST = 0.9;
/** Used until the calibration has seen enough of this sale (EtaCalibration.MIN_SAMPLES). */
export const DEFAULT_MULTIPLIERS = { lo: 0.5, hi: 3 };
const QUANTILE_Z = [-1.2816, -0.5244, 0, 0.5244, 1.2816];

/** Wilson-Hilferty: the z-quantile of Gamma(shape, 1). */
function gammaQuantile(shape: number, z: number): number {
  const c = 1 / (9 * shape);
  return Math.max(0, shape * (1 - c + z * Math.sqrt(c)) ** 3);
}

/**
 * The line's pace before any is measured (tickets per second): every active hold turning over in half
 * the hold time, and never faster than the admission rate.
 */
export function priorPace(s: { admitPerSecond: number; maxActiveHolds: number; holdSeconds: number }): number {
  return Math.min(s.admitPerSecond, s.maxActiveHolds / Math.max(1, s.holdSeconds / 2));
}

export function saleModel(f: SaleFigures, mult: { lo: number; hi: number } = DEFAULT_MULTIPLIERS): EstimateModel {
  const alpha = Math.max(0, f.sold) + BUY_PRIOR.p * BUY_PRIOR.weight;
  const beta = Math.max(0, f.expired + f.released) + (1 - BUY_PRIOR.p) * BUY_PRIOR.weight;
  const s = alpha / (alpha + beta);
  const vs = (alpha * beta) / ((alpha + beta) ** 2 * (alpha + beta + 1));
  const sPaying = Math.max(s, PAYING_BUYS_AT_LEAST);
  const r = Math.max(f.pace, 0.01);
  const shape = Math.max(0, f.leaves) + LEAVE_PRIOR.leaves;
  const scale = Math.max(0, f.waiterSeconds) + LEAVE_PRIOR.waiterSeconds;
  return {
    u: Math.max(0, f.available + f.held + f.paying),
    m0: round4(f.held * s + f.paying * sPaying),
    v0: round4(f.held * s * (1 - s) + f.paying * sPaying * (1 - sPaying)),
    h: f.held + f.paying,
    s: round4(s),
    vs: round4(vs),
    a: QUANTILE_Z.map((z) => Math.round(Math.exp(-gammaQuantile(shape, z) / scale / r) * 1e6) / 1e6),
    f: Math.max(0, f.freeSlots),
    b: round4(Math.max(f.admitPerSecond, 0.1)),
    r: round4(r),
    lo: round4(mult.lo),
    hi: round4(mult.hi),
  };
}

/** Sum of x^j for j = 1..n (closed form: O(1) per place). */
function geometric(x: number, n: number): number {
  if (n <= 0) return 0;
  if (x >= 1 - 1e-9) return n;
  return (x * (1 - x ** n)) / (1 - x);
}

/** Probability that a unit is left for the waiter at `position` (1 = next). */
export function chanceAt(m: EstimateModel, position: number): number {
  if (m.u <= 0) return 0;
  const ahead = Math.max(0, position - 1);
  let sum = 0;
  for (const a of m.a) {
    // The j-th ticket ahead is still there when reached with probability a^j, then buys with s.
    const g1 = geometric(a, ahead);
    const g2 = geometric(a * a, ahead);
    const mean = m.m0 + m.s * g1;
    // The last term: s itself is uncertain, and it scales every buyer ahead alike.
    const sd = Math.sqrt(Math.max(0, m.v0 + m.s * g1 - m.s * m.s * g2 + m.vs * (m.h + g1) ** 2));
    // I get a unit iff the units bought before my turn are at most u - 1.
    const margin = m.u - 0.5 - mean;
    sum += sd < 1e-9 ? (margin > 0 ? 1 : 0) : normalCdf(margin / sd);
  }
  return sum / m.a.length;
}

/** Seconds until a waiter at `position` is admitted: the point estimate and the 80 % interval. */
export function etaAt(m: EstimateModel, position: number, startsInSeconds = 0): { etaSeconds: number; etaRange: [number, number] } {
  const before = Math.ceil(Math.max(0, startsInSeconds));
  const fast = Math.min(position, m.f);
  const point = fast / Math.max(m.b, 0.1) + (position - fast) / Math.max(m.r, 0.01);
  // Multipliers apply to (eta + 1): the short waits' error is mostly tick and push granularity, about
  // a second, which a pure ratio would blow up.
  const low = Math.max(0, Math.floor((point + 1) * m.lo - 1));
  const high = Math.max(low, Math.ceil((point + 1) * m.hi - 1));
  return { etaSeconds: before + Math.ceil(point), etaRange: [before + low, before + high] };
}

export function estimate(m: EstimateModel, position: number, startsInSeconds = 0): PlaceEstimate {
  return { ...etaAt(m, position, startsInSeconds), chance: Math.round(chanceAt(m, position) * 1000) / 1000 };
}

/** Standard normal CDF (Abramowitz & Stegun 7.1.26, error < 1.5e-7): a few flops per place. */
export function normalCdf(z: number): number {
  const x = Math.abs(z) / Math.SQRT2;
  const t = 1 / (1 + 0.3275911 * x);
  const poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  const erf = 1 - poly * Math.exp(-x * x);
  return z >= 0 ? (1 + erf) / 2 : (1 - erf) / 2;
}

const round4 = (x: number) => Math.round(x * 10_000) / 10_000;

/** Places up to here get their exact chance; beyond, the chance is read off a grid 2 % apart. */
const EXACT_UP_TO = 64;
const GRID_STEP = 1.02;

/**
 * One tick's model applied to many places: what a gateway runs for every waiting socket of a sale.
 * The chance (the costly part: five normal CDFs) is computed exactly for the first places and, beyond,
 * at grid points 2 % apart (built lazily, at most a few hundred per model) and interpolated: it is a
 * smooth, falling function of the place, and is shown to 0.001 anyway. So a tick costs O(sockets)
 * cheap steps plus O(log of the longest place) exact ones.
 */
export function placeEstimator(m: EstimateModel): (position: number, startsInSeconds?: number) => PlaceEstimate {
  const exact = new Float64Array(EXACT_UP_TO + 1).fill(-1);
  // Grid i sits at EXACT_UP_TO * GRID_STEP^i; 600 points reach past 10 million places.
  const grid = new Float64Array(600).fill(-1);
  const logStep = Math.log(GRID_STEP);
  const gridAt = (i: number) => {
    const c = grid[i]!;
    return c >= 0 ? c : (grid[i] = chanceAt(m, EXACT_UP_TO * GRID_STEP ** i));
  };
  const chance = (p: number): number => {
    if (p <= EXACT_UP_TO) {
      const c = exact[p]!;
      return c >= 0 ? c : (exact[p] = chanceAt(m, p));
    }
    const i = Math.min(grid.length - 2, Math.floor(Math.log(p / EXACT_UP_TO) / logStep));
    const lo = EXACT_UP_TO * GRID_STEP ** i;
    const w = Math.min(1, (p - lo) / (lo * (GRID_STEP - 1)));
    return gridAt(i) * (1 - w) + gridAt(i + 1) * w;
  };
  return (position, startsInSeconds = 0) => {
    const e = etaAt(m, position, startsInSeconds);
    return { etaSeconds: e.etaSeconds, etaRange: e.etaRange, chance: Math.round(chance(position) * 1000) / 1000 };
  };
}
