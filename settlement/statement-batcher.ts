/**
 * Group commit for one kind of statement: the calls that arrive while the previous statements of the
 * same kind are in flight (or in the same tick) are sent together as one multi-row statement, so N
 * concurrent payments cost one round trip and one commit instead of N. Each caller gets its own row's
 * answer. Under light load a batch holds one item and costs what the single statement did.
 */
export interface BatcherOptions<I, O> {
  /** Runs `items` as one statement; answers one result per item, in the items' order. */
  run(items: I[]): Promise<O[]>;
  /**
   * Items with the same key never share a batch: a multi-row UPDATE must not touch one row twice,
   * so a second call for the same row waits for the next batch (exactly as if it came later).
   */
  keyOf?(item: I): string;
  /**
   * True when a failed statement failed because of its rows' content (a constraint, bad data, a
   * deadlock), not because of the connection: then each item is run alone, so one bad row fails only
   * its own caller. Any other error reaches every caller of the batch.
   */
  rowError?(err: unknown): boolean;
  /** Items per statement at most. */
  maxBatch?: number;
  /** Statements of this kind in flight at once; later callers gather into the next batch meanwhile. */
  maxInFlight?: number;
}

interface Pending<I, O> {
  item: I;
  resolve(o: O): void;
  reject(err: unknown): void;
}

export class StatementBatcher<I, O> {
  private queue: Pending<I, O>[] = [];
  private inFlight = 0;
  private scheduled = false;
  private readonly maxBatch: number;
  private readonly maxInFlight: number;

  constructor(private readonly o: BatcherOptions<I, O>) {
    this.maxBatch = o.maxBatch ?? 100;
    this.maxInFlight = o.maxInFlight ?? 2;
  }

  add(item: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.queue.push({ item, resolve, reject });
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.scheduled || this.inFlight >= this.maxInFlight || this.queue.length === 0) return;
    this.scheduled = true;
    // setImmediate, not a microtask: callers woken by the same batch of socket reads join this one.
    setImmediate(() => {
      this.scheduled = false;
      this.flush();
    });
  }

  private flush(): void {
    while (this.inFlight < this.maxInFlight && this.queue.length > 0) {
      const batch = this.take();
      this.inFlight++;
      void this.send(batch).finally(() => {
        this.inFlight--;
        this.schedule();
      });
    }
  }

  /** The next batch: queue order, at most maxBatch, no two items with the same key. */
  private take(): Pending<I, O>[] {
    if (!this.o.keyOf) return this.queue.splice(0, this.maxBatch);
    const batch: Pending<I, O>[] = [];
    const rest: Pending<I, O>[] = [];
    const keys = new Set<string>();
    for (const p of this.queue) {
      const k = this.o.keyOf(p.item);
      if (batch.length >= this.maxBatch || keys.has(k)) rest.push(p);
      else {
        keys.add(k);
        batch.push(p);
      }
    }
    this.queue = rest;
    return batch;
  }

  private async send(batch: Pending<I, O>[]): Promise<void> {
    try {
      const out = await this.o.run(batch.map((p) => p.item));
      if (out.length !== batch.length) throw new Error(`batched statement answered ${out.length} rows for ${batch.length} items`);
      batch.forEach((p, i) => p.resolve(out[i] as O));
    } catch (err) {
      if (batch.length > 1 && this.o.rowError?.(err)) {
        // One row spoilt the statement: each item alone, so the others still commit.
        await Promise.all(batch.map((p) => this.o.run([p.item]).then((out) => p.resolve(out[0] as O), p.reject)));
        return;
      }
      for (const p of batch) p.reject(err);
    }
  }
}

/**
 * Postgres errors that belong to the rows of a statement rather than to the connection: data
 * exceptions (22), integrity constraint violations (23), and transaction rollbacks such as a deadlock
 * or a serialization failure (40). Running the rows one by one then tells each caller its own answer.
 */
export function pgRowError(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code;
  return typeof code === 'string' && /^(22|23|40)/.test(code);
}
