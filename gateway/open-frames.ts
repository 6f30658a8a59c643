import { SharedReads } from './shared-reads.js';

/** A sale frame as read now, and when the clock alone will change it (the sale's next start or end). */
export interface ReadFrame {
  frame: string | null;
  /** Epoch ms of the sale's next start or end; Infinity once it has ended. */
  changesAt: number;
}

const TTL_MS = 1000;

/**
 * The `sale` frame every socket gets when it opens, read once per sale and second at most instead of
 * once per socket (a Redis read and a serialisation per upgrade, thousands per second in a stampede).
 * An entry is the read itself, so sockets opening while it runs share it. It is dropped on every
 * 'state' event (forget) and never used past the sale's next start or end, so an opening socket is
 * told nothing staler than what the sale cache already holds; the frames published on a change (to
 * every socket already open) are read fresh, not from here.
 */
export class OpenFrames {
  private readonly reads: SharedReads<ReadFrame>;
  constructor(read: (saleId: string) => Promise<ReadFrame>, ttlMs = TTL_MS) {
    this.reads = new SharedReads(read, ttlMs, (r) => r.changesAt);
  }

  async get(saleId: string, now = Date.now()): Promise<string | null> {
    return (await this.reads.get(saleId, now)).frame;
  }

  forget(saleId: string): void {
    this.reads.forget(saleId);
  }

  size(): number {
    return this.reads.size();
  }
}
