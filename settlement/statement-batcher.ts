import { TurnBatcher, type TurnBatcherOptions } from '../shared/turn-batcher.js';

/**
 * Group commit for one kind of statement: the calls that arrive while the previous statements of the
 * same kind are in flight (or in the same tick) are sent together as one multi-row statement, so N
 * concurrent payments cost one round trip and one commit instead of N. Each caller gets its own row's
 * answer. Under light load a batch holds one item and costs what the single statement did. The
 * batching itself is shared/turn-batcher.ts; this names settlement's defaults.
 */
export type BatcherOptions<I, O> = Omit<TurnBatcherOptions<I, O>, 'run' | 'maxBatch'> & {
  /** Runs `items` as one statement; answers one result per item, in the items' order. */
  run(items: I[]): Promise<O[]>;
  /** Items per statement at most (100). */
  maxBatch?: number;
  /** Statements of this kind in flight at once (2); later callers gather into the next batch meanwhile. */
  maxInFlight?: number;
};

export class StatementBatcher<I, O> {
  private readonly batcher: TurnBatcher<I, O>;

  constructor(o: BatcherOptions<I, O>) {
    this.batcher = new TurnBatcher({ ...o, run: (items) => o.run(items), maxBatch: o.maxBatch ?? 100, maxInFlight: o.maxInFlight ?? 2 });
  }

  add(item: I): Promise<O> {
    return this.batcher.add(item);
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
