import type { Db } from '../shared/db.js';
import type { Logger } from '../shared/logger.js';
import type { RedisClient } from '../shared/redis.js';
import { metrics } from '../shared/metrics.js';
import { SettlementScripts } from './scripts.js';

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

// One relay publishes at a time (a transaction-scoped advisory lock), see pump().
// Was the number 0x66735f6f7574626f ("fs_outbo"): past 2^53, so a rounded double that node-postgres sent
// as this decimal. Deployed relays lock on this value, so it is kept exactly (a rolling deploy must agree).
const RELAY_LOCK = 7382349146506946000n;

/**
 * Publishes outbox rows at least once. Each batch is locked, sent to the stream, then marked published
 * with the entry id it got, in the same transaction: a relay that dies after sending and before
 * committing sends that batch again after restart — never loses it. And a stream that lost entries
 * after they were marked published (Redis restarted from an older snapshot, or flushed) is noticed on
 * the next pass: its last generated id is below the highest id the ledger recorded, and every row above
 * it is published again (docs/decisions.md, "Order events after a Redis loss").
 */
export class OutboxRelay {
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  private readonly scripts: SettlementScripts;

  constructor(
    readonly db: Db,
    readonly redis: RedisClient,
    readonly prefix: string,
    readonly log: Logger,
    /** Test seam: runs after the batch reached Redis and before it is marked published. */
    readonly afterPublish: (ids: string[]) => Promise<void> = async () => {},
  ) {
    this.scripts = new SettlementScripts(redis);
  }

  /**
   * Publishes up to `limit` events; returns how many — or, when the stream turned out to have lost
   * entries, how many rows were put back to be published again (the caller pumps on while it gets > 0).
   */
  async pump(limit = 500): Promise<number> {
    const c = await this.db.connect();
    let broken = false;
    // Postgres dropping this client mid-batch makes it emit 'error' on itself (the pool listens only to
    // idle clients): heard here, the batch's own query fails and the batch is sent again later.
    const lost = (): void => void (broken = true);
    c.on('error', lost);
    try {
      await c.query('BEGIN');
      // Relays take turns: the check that the stream lost nothing is only sound if no other relay
      // appends between a relay reading the ledger's last id and its own append. Another relay holding
      // the turn publishes these rows too; this one tries again at its next poll.
      const turn = await c.query<{ ok: boolean }>('SELECT pg_try_advisory_xact_lock($1::bigint) AS ok', [RELAY_LOCK]);
      if (!turn.rows[0]?.ok) {
        await c.query('COMMIT');
        return 0;
      }
      const rows = await c.query<{ id: string; event_type: string; aggregate_id: string; payload: unknown; created_at: Date }>(
        `SELECT id, event_type, aggregate_id, payload, created_at FROM outbox WHERE published_at IS NULL ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED`,
        [limit],
      );
      const recorded = await c.query<{ id: string }>(
        `SELECT stream_ms || '-' || stream_seq AS id FROM outbox WHERE published_at IS NOT NULL AND stream_ms IS NOT NULL
         ORDER BY stream_ms DESC, stream_seq DESC LIMIT 1`,
      );
      const ledgerLast = recorded.rows[0]?.id ?? null;
      // Checked on every pass, with or without new rows: a loss must be found before anything is appended.
      const reply = await this.scripts.publishEvents(orderEventsStream(this.prefix), ledgerLast, STREAM_MAXLEN, rows.rows.map((r) => [
        'key', eventKey(r.event_type, r.aggregate_id), 'type', r.event_type, 'outboxId', r.id,
        'createdAt', r.created_at.toISOString(), 'payload', JSON.stringify(r.payload),
      ]));
      if ('behind' in reply) {
        const [ms, seq] = reply.behind.split('-');
        const back = await c.query(
          `UPDATE outbox SET published_at = NULL
           WHERE published_at IS NOT NULL AND stream_ms IS NOT NULL AND (stream_ms, stream_seq) > ($1::bigint, $2::bigint)`,
          [ms, seq],
        );
        await c.query('COMMIT');
        const n = back.rowCount ?? 0;
        this.log.warn({ stream: orderEventsStream(this.prefix), streamLast: reply.behind, ledgerLast, republish: n }, 'order-events stream lost entries (Redis restarted from an older snapshot, or flushed): publishing them again');
        metrics.reconciliationFixes.inc({ action: 'outbox_republished' }, n);
        return n;
      }
      if (rows.rows.length === 0) {
        await c.query('COMMIT');
        return 0;
      }
      const ids = rows.rows.map((r) => r.id);
      await this.afterPublish(ids);
      const positions = reply.appended.map((id) => id.split('-'));
      await c.query(
        `UPDATE outbox o SET published_at = now(), stream_ms = u.ms, stream_seq = u.seq
         FROM unnest($1::bigint[], $2::bigint[], $3::bigint[]) AS u(id, ms, seq) WHERE o.id = u.id`,
        [ids, positions.map((p) => p[0]), positions.map((p) => p[1])],
      );
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
