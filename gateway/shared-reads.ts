/**
 * Reads by id, each shared by everyone who asks while it runs and kept for `ttlMs` from its start —
 * less when `expiresAt` says its value goes stale sooner. An entry is the read itself, so the askers
 * who arrive during it share it instead of each starting their own (a stampede of frames would
 * otherwise start thousands). A failed read is not kept: the next ask reads again. `forget` drops an
 * entry, in flight or not, so a read started before a change answers its own askers and is never
 * kept for later ones.
 */
export class SharedReads<V> {
  private readonly entries = new Map<string, { value: Promise<V>; until: number }>();
  constructor(
    private readonly read: (id: string) => Promise<V>,
    private readonly ttlMs: number,
    private readonly expiresAt?: (value: V) => number,
  ) {}

  get(id: string, now = Date.now()): Promise<V> {
    const had = this.entries.get(id);
    if (had && now < had.until) return had.value;
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
}
