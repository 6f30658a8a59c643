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
  private readonly entries = new Map<string, { frame: Promise<ReadFrame>; until: number }>();
  constructor(private readonly read: (saleId: string) => Promise<ReadFrame>, private readonly ttlMs = TTL_MS) {}

  async get(saleId: string, now = Date.now()): Promise<string | null> {
    const had = this.entries.get(saleId);
    if (had && now < had.until) return (await had.frame).frame;
    const entry = { frame: this.read(saleId), until: now + this.ttlMs };
    this.entries.set(saleId, entry);
    try {
      const r = await entry.frame;
      entry.until = Math.min(entry.until, r.changesAt);
      return r.frame;
    } catch (err) {
      // A failed read is not kept: the next socket tries again.
      if (this.entries.get(saleId) === entry) this.entries.delete(saleId);
      throw err;
    }
  }

  forget(saleId: string): void {
    this.entries.delete(saleId);
  }
}
