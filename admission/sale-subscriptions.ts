import { randomBytes } from 'node:crypto';
import { createRedis, isCluster, type RedisClient } from '../shared/redis.js';
import type { Logger } from '../shared/logger.js';
import { eventsPattern, saleIdOfChannel } from './keys.js';
import type { SaleEvent } from './sale-events.js';

export interface SaleSubscriptionsOptions {
  redisUrl: string;
  prefix: string;
  log: Logger;
  /** Name of the subscriber connection(s) (CLIENT SETNAME). */
  name: string;
  /** A request client, to publish heartbeat probes with (Cluster). */
  publisher: RedisClient;
  onEvent(saleId: string, event: SaleEvent): void;
  /**
   * The subscription was lost and is certainly active again: events published meanwhile were missed,
   * by every sale (`null`).
   */
  onResubscribed(saleId: null): void;
  /** Cluster: the heartbeat period; a probe not back within it marks the subscription lost (ms). */
  probeRetryMs?: number;
}

/**
 * A process's subscription to sale events: one PSUBSCRIBE of every sale's channel (`eventsPattern`),
 * on a single Redis and on a Redis Cluster alike (there PUBLISH reaches every node over the cluster bus,
 * and ioredis keeps one subscriber connection, moved to another node when its node fails).
 *
 * Events published while the subscription is down are missed, so a lost subscription must be noticed
 * and, once it is certainly active again, answered with `onResubscribed(null)` (every sale's buyers
 * re-read their state):
 * - **Single Redis**: after a reconnect ioredis subscribes again by itself; our own PSUBSCRIBE's answer is
 *   the moment the subscription is certainly active again.
 * - **Redis Cluster**: ioredis moves and re-subscribes its subscriber connection itself (a failover, a
 *   node killed, a cut link) without a reliable event for it. So a heartbeat: every `probeRetryMs` a probe
 *   of our own is published on a channel under the pattern; one not back within that time (or a node
 *   error / lost node the client reports) marks the subscription lost, and the first probe that comes
 *   back afterwards proves it active again.
 *
 * Sharded pub/sub (SSUBSCRIBE per sale) was tried and dropped: ioredis 5.11 does not restore sharded
 * subscriptions after a master failover (reproduced with ioredis alone; docs/decisions.md).
 */
export class SaleSubscriptions {
  readonly sub: RedisClient;
  private readonly cluster: boolean;
  private readonly probeChannel: string;
  /** The probe in flight (Cluster): its nonce and when it was sent. */
  private probe: { nonce: string; sentAt: number } | null = null;
  private lost = false;
  private timer: NodeJS.Timeout | undefined;
  private started = false;
  private closed = false;

  constructor(private readonly o: SaleSubscriptionsOptions) {
    this.sub = createRedis(o.redisUrl, { subscriber: true, name: o.name, log: o.log });
    this.cluster = isCluster(this.sub);
    // Under the pattern, but no sale's: saleIdOfChannel refuses the '.' of the name.
    this.probeChannel = `${o.prefix}fs:{sale:probe.${randomBytes(6).toString('hex')}}:events`;
    this.sub.on('pmessage', (_p: string, channel: string, message: string) => this.deliver(channel, message));
    if (this.cluster) {
      const markLost = () => {
        if (this.started) this.lost = true;
      };
      this.sub.on('node error', markLost);
      this.sub.on('-node', markLost);
    } else {
      this.sub.on('ready', () => {
        if (!this.started || this.closed) return;
        this.sub.psubscribe(eventsPattern(o.prefix)).then(
          () => o.onResubscribed(null),
          (err: unknown) => o.log.warn({ err }, 'could not resubscribe to sale events; the next reconnect tries again'),
        );
      });
    }
  }

  private deliver(channel: string, message: string): void {
    if (channel === this.probeChannel) return this.probeReturned(message);
    const saleId = saleIdOfChannel(this.o.prefix, channel);
    if (!saleId) return;
    let ev: SaleEvent;
    try {
      ev = JSON.parse(message) as SaleEvent;
    } catch (err) {
      this.o.log.error({ err, channel }, 'bad sale event');
      return;
    }
    try {
      this.o.onEvent(saleId, ev);
    } catch (err) {
      this.o.log.error({ err, channel }, 'sale event handler failed');
    }
  }

  async start(): Promise<void> {
    await this.sub.psubscribe(eventsPattern(this.o.prefix));
    this.started = true;
    if (this.cluster) {
      this.timer = setInterval(() => this.heartbeat(), this.o.probeRetryMs ?? 1000);
      this.timer.unref();
    }
  }

  /**
   * Resolves once this process receives the sale's events. With one pattern for every sale that is at
   * once; kept so callers read a socket's first state only after subscribing, whatever the scheme.
   */
  ensure(_saleId: string): Promise<void> {
    return Promise.resolve();
  }

  private heartbeat(): void {
    if (this.closed) return;
    if (this.probe) this.lost = true; // the last probe did not come back within a period
    const nonce = randomBytes(8).toString('hex');
    this.probe = { nonce, sentAt: Date.now() };
    const message = JSON.stringify({ t: 'probe', n: nonce } satisfies SaleEvent);
    this.o.publisher.publish(this.probeChannel, message).catch((err: unknown) => {
      this.lost = true;
      this.o.log.warn({ err: (err as Error).message }, 'could not probe the sale events subscription; retrying');
    });
  }

  private probeReturned(message: string): void {
    let n: string | undefined;
    try {
      n = (JSON.parse(message) as { n?: string }).n;
    } catch {
      return;
    }
    if (!this.probe || this.probe.nonce !== n) return;
    this.probe = null;
    if (!this.lost) return;
    this.lost = false;
    this.o.onResubscribed(null);
  }

  close(): void {
    this.closed = true;
    clearInterval(this.timer);
    this.sub.disconnect();
  }
}
