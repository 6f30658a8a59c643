import type { SaleStats } from '../admission/sale-schema.js';

/** One second of a sale as the console's chart draws it. */
export interface HistorySample {
  at: number;
  available: number;
  held: number;
  paying: number;
  sold: number;
  waiting: number;
}

/** Five minutes of one-second samples: what a console opened mid-sale is shown at once. */
export const HISTORY_SAMPLES = 300;

/**
 * A fixed ring of samples: memory per sale is bounded by `size` whatever the sale's length, and a push
 * costs O(1) (no array shifting at one sample per second per sale).
 */
export class SampleRing {
  private readonly items: (HistorySample | undefined)[];
  private next = 0;
  private count = 0;
  constructor(readonly size = HISTORY_SAMPLES) {
    this.items = new Array<HistorySample | undefined>(size);
  }

  push(s: HistorySample): void {
    this.items[this.next] = s;
    this.next = (this.next + 1) % this.size;
    this.count = Math.min(this.size, this.count + 1);
  }

  get length(): number {
    return this.count;
  }

  /** Oldest first; only samples taken after `since` (ms), so a sale that stopped being sampled ages out. */
  list(since = Number.NEGATIVE_INFINITY): HistorySample[] {
    const out: HistorySample[] = [];
    for (let i = 0; i < this.count; i++) {
      const s = this.items[(this.next - this.count + i + this.size) % this.size]!;
      if (s.at > since) out.push(s);
    }
    return out;
  }
}

/**
 * Per-sale rings, fed by the live stats round every second whether or not a console listens, so a
 * console opened mid-sale draws the last five minutes at once instead of starting from an empty chart.
 */
export class SaleHistory {
  private readonly rings = new Map<string, SampleRing>();
  constructor(private readonly size = HISTORY_SAMPLES, private readonly intervalMs = 1000) {}

  add(saleId: string, at: number, st: SaleStats): void {
    let ring = this.rings.get(saleId);
    if (!ring) this.rings.set(saleId, (ring = new SampleRing(this.size)));
    ring.push({ at, available: st.available, held: st.held, paying: st.paying, sold: st.sold, waiting: st.waiting });
  }

  /** A sale that no longer exists (not listed) keeps no memory. */
  retain(ids: Set<string>): void {
    for (const id of this.rings.keys()) if (!ids.has(id)) this.rings.delete(id);
  }

  /**
   * The `history` events a console gets on connect, one per sale with samples in the window: a sale
   * re-read rarely (ended long ago) has none and sends nothing.
   */
  chunks(now: number): string[] {
    const since = now - this.size * this.intervalMs;
    const out: string[] = [];
    for (const [id, ring] of this.rings) {
      const samples = ring.list(since);
      if (samples.length > 0) out.push(`event: history\ndata: ${JSON.stringify({ id, samples })}\n\n`);
    }
    return out;
  }
}
