/**
 * Reads by id, each shared by everyone who asks while it runs and kept for `ttlMs` from its start —
 * less when `expiresAt` says its value goes stale sooner. An entry is the read itself, so the askers
 * who arrive during it share it instead of each starting their own (a stampede of frames would
 * otherwise start thousands). A failed read is not kept: the next ask reads again. `forget` drops an
 * entry, in flight or not, so a read started before a change answers its own askers and is never
 * kept for later ones.
 *
 * Expired entries are dropped, not only replaced: ids come from buyers' URLs, so a client asking for
 * thousands of ids that do not exist must not leave an entry for each behind (an id's "no such thing"
 * is a negative cache entry, kept for `ttlMs` and then gone). The sweep runs when the map has doubled
 * since the last one, so it costs O(1) per read amortised and the map holds at most about twice the
 * entries read within the last `ttlMs`.
 */
export class SharedReads<V> {
  private readonly entries = new Map<string, { value: Promise<V>; until: number }>();
  /** The map's size that starts the next sweep of expired entries. */
  private sweepAt = MIN_SWEEP;
  constructor(
    private readonly read: (id: string) => Promise<V>,
    private readonly ttlMs: number,
    private readonly expiresAt?: (value: V) => number,
  ) {}

  get(id: string, now = Date.now()): Promise<V> {
    const had = this.entries.get(id);
    if (had && now < had.until) return had.value;
    if (this.entries.size >= this.sweepAt) this.sweep(now);
    const entry = { value: this.read(id), until: now + this.ttlMs };
    this.entries.set(id, entry);
    // Registered before any asker's own reaction, so it runs first when the read settles.
    entry.value.then(
      (v) => {
        if (this.expiresAt) entry.until = Math.min(entry.until, this.expiresAt(v));
      },
      () => {
        if (this.entries.get(id) === entry) this.entries.delete(id);
      },
    );
    return entry.value;
  }

  forget(id: string): void {
    this.entries.delete(id);
  }

  /** Entries held now (expired ones are dropped first). */
  size(now = Date.now()): number {
    this.sweep(now);
    return this.entries.size;
  }

  private sweep(now: number): void {
    // A read still in flight past its time is dropped too: its askers hold its promise.
    for (const [id, e] of this.entries) if (now >= e.until) this.entries.delete(id);
    this.sweepAt = Math.max(MIN_SWEEP, 2 * this.entries.size);
  }
}

const MIN_SWEEP = 64;
