import type { Db } from '../shared/db.js';
import type { Logger } from '../shared/logger.js';
import type { RedisClient } from '../shared/redis.js';
import { metrics } from '../shared/metrics.js';

/** The Redis stream order events are published to (consumers read it with a consumer group). */
export function orderEventsStream(prefix: string): string {
  return `${prefix}fs:stream:order-events`;
}

/** The dedupe key consumers use: stable across republishing, unique per event. */
export function eventKey(eventType: string, aggregateId: string): string {
  return `${eventType}:${aggregateId}`;
}

// Bounded stream: consumers that fall further behind than this read from the outbox table instead.
const STREAM_MAXLEN = 1_000_000;

/**
 * Publishes outbox rows at least once. Each batch is locked (FOR UPDATE SKIP LOCKED, so several relays
 * share the work), sent to the stream, then marked published in the same transaction: a relay that
 * dies after sending and before committing sends that batch again after restart — never loses it.
 */
export class OutboxRelay {
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    readonly db: Db,
    readonly redis: RedisClient,
    readonly prefix: string,
    readonly log: Logger,
    /** Test seam: runs after the batch reached Redis and before it is marked published. */
    readonly afterPublish: (ids: string[]) => Promise<void> = async () => {},
  ) {}

  /** Publishes up to `limit` events; returns how many. */
  async pump(limit = 500): Promise<number> {
    const c = await this.db.connect();
    let broken = false;
    // Postgres dropping this client mid-batch makes it emit 'error' on itself (the pool listens only to
    // idle clients): heard here, the batch's own query fails and the batch is sent again later.
    const lost = (): void => void (broken = true);
    c.on('error', lost);
    try {
      await c.query('BEGIN');
      const rows = await c.query<{ id: string; event_type: string; aggregate_id: string; payload: unknown; created_at: Date }>(
        `SELECT id, event_type, aggregate_id, payload, created_at FROM outbox WHERE published_at IS NULL ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED`,
        [limit],
      );
      if (rows.rows.length === 0) {
        await c.query('COMMIT');
        return 0;
      }
      const pipe = this.redis.pipeline();
      for (const r of rows.rows) {
        pipe.xadd(orderEventsStream(this.prefix), 'MAXLEN', '~', STREAM_MAXLEN, '*',
          'key', eventKey(r.event_type, r.aggregate_id), 'type', r.event_type, 'outboxId', r.id,
          'createdAt', r.created_at.toISOString(), 'payload', JSON.stringify(r.payload));
      }
      for (const [err] of (await pipe.exec()) ?? []) if (err) throw err;
      const ids = rows.rows.map((r) => r.id);
      await this.afterPublish(ids);
      await c.query('UPDATE outbox SET published_at = now() WHERE id = ANY($1::bigint[])', [ids]);
      await c.query('COMMIT');
      metrics.outboxPublished.inc(ids.length);
      return ids.length;
    } catch (err) {
      broken = await c.query('ROLLBACK').then(() => broken, () => true);
      throw err;
    } finally {
      // A connection that cannot even roll back is dead: destroy it rather than pool it.
      c.off('error', lost);
      c.release(broken);
    }
  }

  async pending(): Promise<number> {
    const r = await this.db.query<{ n: string }>('SELECT count(*) AS n FROM outbox WHERE published_at IS NULL');
    return Number(r.rows[0]?.n ?? 0);
  }

  /** Pumps until the outbox is empty, then waits `pollMs`; errors are logged and retried. */
  start(pollMs: number): void {
    const loop = async (): Promise<void> => {
      if (this.stopped) return;
      try {
        while (!this.stopped && (await this.pump()) > 0);
        metrics.outboxPending.set(await this.pending());
      } catch (err) {
        this.log.warn({ err }, 'outbox relay pass failed; retrying');
      }
      if (!this.stopped) this.timer = setTimeout(() => void loop(), pollMs);
    };
    void loop();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }
}
