/**
 * Coalesces the calls of one event-loop turn into batched calls, per group: the waiting room's joins
 * (one join-4 script call per sale) and settlement's group commit (one multi-row statement per kind)
 * are both "many callers, one round trip, each caller its own answer". Under light load a batch holds
 * one item and costs what the single call did.
 */
export interface TurnBatcherOptions<I, O> {
  /**
   * Runs `items` (all of one group) as one call; answers one result per item, in the items' order.
   * Called synchronously from `add`/`flush`/the turn's end, never a microtask later: what a caller
   * sends after `flush(group)` reaches the server after this batch (one connection keeps order).
   */
  run(items: I[], group: string): Promise<O[]>;
  /** Items per call at most; a group reaching it is sent at once rather than at the end of the turn. */
  maxBatch: number;
  /**
   * Calls of one group in flight at once (unlimited if absent); later callers gather into the next
   * batch meanwhile, which is sent as soon as one returns.
   */
  maxInFlight?: number;
  /**
   * Items with the same key never share a batch (a multi-row UPDATE must not touch one row twice):
   * a second item for the same key waits for a later batch, exactly as if it came later.
   */
  keyOf?(item: I): string;
  /**
   * True when a failed call failed because of its items' content (a constraint, bad data, a
   * deadlock), not because of the connection: then each item is run alone, so one bad item fails only
   * its own caller. Any other error reaches every caller of the batch.
   */
  rowError?(err: unknown): boolean;
}

interface Pending<I, O> {
  item: I;
  resolve: (o: O) => void;
  reject: (err: unknown) => void;
}

interface Group<I, O> {
  queue: Pending<I, O>[];
  inFlight: number;
}

export class TurnBatcher<I, O> {
  private readonly groups = new Map<string, Group<I, O>>();
  private scheduled = false;
  private readonly maxInFlight: number;

  constructor(private readonly o: TurnBatcherOptions<I, O>) {
    this.maxInFlight = o.maxInFlight ?? Infinity;
  }

  add(item: I, group = ''): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      let g = this.groups.get(group);
      if (!g) this.groups.set(group, (g = { queue: [], inFlight: 0 }));
      g.queue.push({ item, resolve, reject });
      if (g.queue.length >= this.o.maxBatch) this.flush(group);
      else this.schedule();
    });
  }

  /** Sends the group's queued items now (as many batches as maxInFlight allows). */
  flush(group = ''): void {
    const g = this.groups.get(group);
    if (!g) return;
    while (g.inFlight < this.maxInFlight && g.queue.length > 0) {
      const batch = this.take(g);
      g.inFlight++;
      void this.send(batch, group).finally(() => {
        g.inFlight--;
        if (g.queue.length > 0) this.schedule();
        else if (g.inFlight === 0 && this.groups.get(group) === g) this.groups.delete(group);
      });
    }
    if (g.queue.length === 0 && g.inFlight === 0) this.groups.delete(group);
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    // setImmediate, not a microtask: callers woken by the same batch of socket reads join this one,
    // and a lone call waits for no timer, only for the rest of the current turn.
    setImmediate(() => {
      this.scheduled = false;
      for (const group of [...this.groups.keys()]) this.flush(group);
    });
  }

  /** The next batch: queue order, at most maxBatch, no two items with the same key. */
  private take(g: Group<I, O>): Pending<I, O>[] {
    if (!this.o.keyOf) return g.queue.splice(0, this.o.maxBatch);
    const batch: Pending<I, O>[] = [];
    const rest: Pending<I, O>[] = [];
    const keys = new Set<string>();
    for (const p of g.queue) {
      const k = this.o.keyOf(p.item);
      if (batch.length >= this.o.maxBatch || keys.has(k)) rest.push(p);
      else {
        keys.add(k);
        batch.push(p);
      }
    }
    g.queue = rest;
    return batch;
  }

  private async send(batch: Pending<I, O>[], group: string): Promise<void> {
    try {
      // Inside the try: a run that throws before returning its promise fails its batch, not `add`.
      const out = await this.o.run(batch.map((p) => p.item), group);
      if (out.length !== batch.length) throw new Error(`batched call answered ${out.length} results for ${batch.length} items`);
      batch.forEach((p, i) => p.resolve(out[i] as O));
    } catch (err) {
      if (batch.length > 1 && this.o.rowError?.(err)) {
        // One item spoilt the call: each item alone, so the others still succeed.
        await Promise.all(batch.map((p) => this.o.run([p.item], group).then((out) => p.resolve(out[0] as O), p.reject)));
        return;
      }
      for (const p of batch) p.reject(err);
    }
  }
}
