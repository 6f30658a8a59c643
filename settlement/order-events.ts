import type { RedisClient } from '../shared/redis.js';
import { orderEventsStream } from './outbox-relay.js';

export interface OrderEvent {
  key: string;
  type: string;
  outboxId: string;
  payload: Record<string, unknown>;
}

/**
 * A consumer of the order-events stream, as downstream services (fulfilment, e-mail) would run it. The
 * relay publishes at least once, so the consumer dedupes on the event key: an event already handled
 * is acknowledged without calling the handler again. (A consumer whose effect lives in a database
 * should store the key in the same transaction as the effect; this one keeps it in Redis.)
 */
export class OrderEventConsumer {
  constructor(
    readonly redis: RedisClient,
    readonly prefix: string,
    readonly group: string,
    readonly name: string,
    readonly handle: (e: OrderEvent) => Promise<void>,
    readonly dedupeTtlSeconds = 7 * 24 * 3600,
  ) {}

  private get stream(): string {
    return orderEventsStream(this.prefix);
  }

  private seenKey(key: string): string {
    return `${this.prefix}fs:consumer:${this.group}:seen:${key}`;
  }

  async ensureGroup(): Promise<void> {
    try {
      await this.redis.xgroup('CREATE', this.stream, this.group, '0', 'MKSTREAM');
    } catch (err) {
      if (!String((err as Error).message).includes('BUSYGROUP')) throw err;
    }
  }

  /**
   * Reads and handles up to `count` entries: first its own unacknowledged ones (it crashed before
   * acknowledging), then new ones. Returns how many entries it handled or skipped as duplicates.
   */
  async poll(count = 100, blockMs = 0): Promise<{ handled: number; duplicates: number }> {
    const own = await this.read('0', count, 0);
    const entries = own.length > 0 ? own : await this.read('>', count, blockMs);
    let handled = 0;
    let duplicates = 0;
    for (const [id, fields] of entries) {
      const f = toObject(fields);
      const key = f.key ?? id;
      if (await this.redis.exists(this.seenKey(key))) {
        duplicates++;
      } else {
        await this.handle({ key, type: f.type ?? '', outboxId: f.outboxId ?? '', payload: JSON.parse(f.payload ?? '{}') as Record<string, unknown> });
        await this.redis.set(this.seenKey(key), '1', 'EX', this.dedupeTtlSeconds);
        handled++;
      }
      await this.redis.xack(this.stream, this.group, id);
    }
    return { handled, duplicates };
  }

  private async read(from: string, count: number, blockMs: number): Promise<[string, string[]][]> {
    const args: (string | number)[] = ['GROUP', this.group, this.name, 'COUNT', count];
    if (blockMs > 0) args.push('BLOCK', blockMs);
    const xreadgroup = () => (this.redis as unknown as { xreadgroup(...a: (string | number)[]): Promise<unknown> })
      .xreadgroup(...args, 'STREAMS', this.stream, from) as Promise<[string, [string, string[]][]][] | null>;
    let res;
    try {
      res = await xreadgroup();
    } catch (err) {
      // Redis lost the group with the stream (a flush, a restart without it): the group is made again
      // from the stream's start, where the relay republishes what was lost (duplicates are skipped).
      if (!String((err as Error).message).startsWith('NOGROUP')) throw err;
      await this.ensureGroup();
      res = await xreadgroup();
    }
    return res?.[0]?.[1] ?? [];
  }
}

function toObject(fields: string[]): Record<string, string> {
  const o: Record<string, string> = {};
  for (let i = 0; i + 1 < fields.length; i += 2) o[fields[i]!] = fields[i + 1]!;
  return o;
}
