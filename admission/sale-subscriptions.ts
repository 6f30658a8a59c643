import { randomBytes } from 'node:crypto';
import type { Cluster } from 'ioredis';
import { createRedis, isCluster, type RedisClient } from '../shared/redis.js';
import type { Logger } from '../shared/logger.js';
import { poolKeys } from '../inventory/keys.js';
import { eventsPattern, saleIdOfChannel, saleKeys } from './keys.js';
import type { SaleEvent } from './sale-events.js';

export interface SaleSubscriptionsOptions {
  redisUrl: string;
  prefix: string;
  log: Logger;
  /** Name of the subscriber connection(s) (CLIENT SETNAME). */
  name: string;
  /** A request client, to publish probes with (Cluster). */
  publisher: RedisClient;
  /** How many pools a sale has (its pools' channels are subscribed too on a Cluster). */
  poolsOf(saleId: string): Promise<number>;
  onEvent(saleId: string, event: SaleEvent): void;
  /**
   * The subscription was lost and is certainly active again: events published meanwhile were missed.
   * `saleId` null: every sale (single Redis); else that sale only.
   */
  onResubscribed(saleId: string | null): void;
  /** How often an unanswered probe is sent again (ms). */
  probeRetryMs?: number;
}

/**
 * A process's subscription to sale events.
 *
 * - **Single Redis**: one PSUBSCRIBE of every sale's channel (`eventsPattern`). After a reconnect ioredis
 *   subscribes again by itself; our own PSUBSCRIBE's answer is the moment the subscription is certainly
 *   active again, from which on nothing is missed: then `onResubscribed(null)`.
 * - **Redis Cluster**: sharded pub/sub. Each sale is subscribed (`ensure`) when the process first needs
 *   it: its own channel and each of its pools' (a pool's script SPUBLISHes in its own slot), SSUBSCRIBE
 *   on the master of each channel's slot (ioredis' `shardedSubscribers`: one connection per master).
 *   When ioredis has re-established its subscribers (a connection lost, a failover, slots moved:
 *   `subscribersReady`), each sale's channels get a probe of our own; once every channel of a sale has
 *   carried it back, that sale's subscription is proven active and `onResubscribed(saleId)` runs. A
 *   probe that does not come back is sent again.
 */
export class SaleSubscriptions {
  readonly sub: RedisClient;
  private readonly cluster: boolean;
  /** Cluster: sale id -> its SSUBSCRIBE calls (a failed one is forgotten, so the next `ensure` retries). */
  private readonly sales = new Map<string, Promise<string[]>>();
  /** Cluster: sale id -> the probe nonce and the channels it has not come back on yet. */
  private readonly probes = new Map<string, { nonce: string; waiting: Set<string>; timer: NodeJS.Timeout }>();
  private started = false;
  private closed = false;

  constructor(private readonly o: SaleSubscriptionsOptions) {
    this.sub = createRedis(o.redisUrl, { subscriber: true, name: o.name, log: o.log });
    this.cluster = isCluster(this.sub);
    const deliver = (channel: string, message: string) => {
      const saleId = saleIdOfChannel(o.prefix, channel);
      if (!saleId) return;
      let ev: SaleEvent;
      try {
        ev = JSON.parse(message) as SaleEvent;
      } catch (err) {
        o.log.error({ err, channel }, 'bad sale event');
        return;
      }
      if (ev.t === 'probe') return this.probeReturned(saleId, channel, ev.n);
      try {
        o.onEvent(saleId, ev);
      } catch (err) {
        o.log.error({ err, channel }, 'sale event handler failed');
      }
    };
    if (this.cluster) {
      this.sub.on('smessage', deliver);
      this.sub.on('subscribersReady', () => this.reprobeAll());
    } else {
      this.sub.on('pmessage', (_p: string, channel: string, message: string) => deliver(channel, message));
      this.sub.on('ready', () => {
        if (!this.started || this.closed) return;
        this.sub.psubscribe(eventsPattern(o.prefix)).then(
          () => o.onResubscribed(null),
          (err: unknown) => o.log.warn({ err }, 'could not resubscribe to sale events; the next reconnect tries again'),
        );
      });
    }
  }

  /**
   * Single Redis: subscribes to every sale at once. Cluster: waits for ioredis' first set of sharded
   * subscribers (its first `subscribersReady` once connected; at most a few seconds), so that one is
   * not taken for a lost subscription; sales are subscribed by `ensure`.
   */
  async start(): Promise<void> {
    if (!this.cluster) await this.sub.psubscribe(eventsPattern(this.o.prefix));
    else await this.firstSubscribers(5000);
    this.started = true;
  }

  private firstSubscribers(maxMs: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, maxMs);
      const onReady = () => this.sub.once('subscribersReady', done);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      if (this.sub.status === 'ready') onReady();
      else this.sub.once('ready', onReady);
    });
  }

  /**
   * Resolves once this process receives the sale's events. Call it before reading state that an event
   * may change (a socket's first status read), so no event falls between the read and the subscription.
   */
  ensure(saleId: string): Promise<void> {
    if (!this.cluster) return Promise.resolve();
    let p = this.sales.get(saleId);
    if (!p) {
      p = this.subscribeSale(saleId);
      this.sales.set(saleId, p);
      p.catch(() => this.sales.delete(saleId));
    }
    return p.then(() => undefined);
  }

  /** The sale's channels on a Cluster: its own and each pool's. */
  private async channelsOf(saleId: string): Promise<string[]> {
    const pools = await this.o.poolsOf(saleId);
    return [saleKeys(this.o.prefix, saleId).channel, ...Array.from({ length: pools }, (_, i) => poolKeys(this.o.prefix, saleId, i).channel)];
  }

  private async subscribeSale(saleId: string): Promise<string[]> {
    const channels = await this.channelsOf(saleId);
    // One SSUBSCRIBE per channel: each is in a slot of its own.
    await Promise.all(channels.map((c) => (this.sub as Cluster).ssubscribe(c)));
    return channels;
  }

  private reprobeAll(): void {
    if (this.closed) return;
    for (const [saleId, p] of this.sales) p.then((channels) => this.probe(saleId, channels), () => {});
  }

  private probe(saleId: string, channels: string[]): void {
    if (this.closed) return;
    const old = this.probes.get(saleId);
    if (old) clearTimeout(old.timer);
    const nonce = randomBytes(8).toString('hex');
    const message = JSON.stringify({ t: 'probe', n: nonce } satisfies SaleEvent);
    const timer = setTimeout(() => this.probe(saleId, channels), this.o.probeRetryMs ?? 1000);
    timer.unref();
    this.probes.set(saleId, { nonce, waiting: new Set(channels), timer });
    for (const c of channels) {
      (this.o.publisher as Cluster).spublish(c, message).catch((err: unknown) => this.o.log.warn({ err: (err as Error).message, sale: saleId }, 'could not probe the sale events subscription; retrying'));
    }
  }

  private probeReturned(saleId: string, channel: string, nonce: string): void {
    const p = this.probes.get(saleId);
    if (!p || p.nonce !== nonce) return;
    p.waiting.delete(channel);
    if (p.waiting.size > 0) return;
    clearTimeout(p.timer);
    this.probes.delete(saleId);
    this.o.onResubscribed(saleId);
  }

  close(): void {
    this.closed = true;
    for (const p of this.probes.values()) clearTimeout(p.timer);
    this.probes.clear();
    this.sub.disconnect();
  }
}
