/**
 * Milliseconds counted in 10 ms buckets up to 60 s (one overflow bucket beyond): a hundred thousand
 * sockets' position ages and push intervals cross process boundaries as a few hundred numbers, not
 * as every sample, and merge by adding.
 */
export const BUCKET_MS = 10;
const BUCKETS = 6000;

export type MsHistogram = Uint32Array;
/** What crosses IPC: [bucket, count] pairs of the non-empty buckets. */
export type SparseHistogram = [number, number][];

export const msHistogram = (): MsHistogram => new Uint32Array(BUCKETS + 1);

export function record(h: MsHistogram, ms: number): void {
  h[Math.min(BUCKETS, Math.max(0, Math.floor(ms / BUCKET_MS)))]! += 1;
}

export function toSparse(h: MsHistogram): SparseHistogram {
  const out: SparseHistogram = [];
  h.forEach((n, i) => n > 0 && out.push([i, n]));
  return out;
}

export function mergeSparse(hs: SparseHistogram[]): MsHistogram {
  const h = msHistogram();
  for (const s of hs) for (const [i, n] of s) h[i]! += n;
  return h;
}

export interface HistogramFigures {
  n: number;
  p50: number;
  p99: number;
  max: number;
  /** Share of the samples at or below `within` ms. */
  shareWithin: number;
}

/**
 * Nearest-rank percentiles, each given as its bucket's upper edge (a figure never lower than what a
 * socket saw); `max` is the last non-empty bucket's upper edge (60 s + for the overflow bucket).
 */
export function figures(h: MsHistogram, within: number): HistogramFigures {
  const n = h.reduce((a, x) => a + x, 0);
  const at = (p: number) => {
    const rank = Math.max(1, Math.ceil((p / 100) * n));
    let seen = 0;
    for (let i = 0; i < h.length; i++) if ((seen += h[i]!) >= rank) return (i + 1) * BUCKET_MS;
    return 0;
  };
  let last = -1;
  h.forEach((x, i) => x > 0 && (last = i));
  let inside = 0;
  for (let i = 0; i < h.length && (i + 1) * BUCKET_MS <= within; i++) inside += h[i]!;
  return { n, p50: n ? at(50) : 0, p99: n ? at(99) : 0, max: (last + 1) * BUCKET_MS, shareWithin: n ? Math.round((inside / n) * 10_000) / 10_000 : 0 };
}
