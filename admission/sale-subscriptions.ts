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
   * by every sale.
   */
  onResubscribed(): void;
  /** Cluster: the heartbeat period; a probe not back within it marks the subscription lost (ms). */
  heartbeatMs?: number;
}

/**
 * A process's subscription to sale events: one PSUBSCRIBE of every sale's channel (`eventsPattern`),
 * on a single Redis and on a Redis Cluster alike (there PUBLISH reaches every node over the cluster bus,
 * and ioredis keeps one subscriber connection, moved to another node when its node fails).
 *
 * Events published while the subscription is down are missed, so a lost subscription must be noticed
 * and, once it is certainly active again, answered with `onResubscribed()` (every sale's buyers
 * re-read their state):
 * - **Single Redis**: after a reconnect ioredis subscribes again by itself; our own PSUBSCRIBE's answer is
 *   the moment the subscription is certainly active again.
 * - **Redis Cluster**: ioredis moves and re-subscribes its subscriber connection itself (a failover, a
 *   node killed, a cut link) without a reliable event for it. So a heartbeat: every `heartbeatMs` a probe
 *   of our own is published on a channel under the pattern; one not back within that time (or a node
 *   error / lost node the client reports) marks the subscription lost, and the first probe that comes
 *   back afterwards proves it active again. A subscriber silent for REPLACE_AFTER_MISSED heartbeats is
 *   replaced by a new connection.
 *
 * Sharded pub/sub (SSUBSCRIBE per sale) was tried and dropped: ioredis 5.11 does not restore sharded
 * subscriptions after a master failover (reproduced with ioredis alone; docs/decisions.md).
 */
/** Heartbeats in a row without their probe back before the subscriber connection is replaced (Cluster). */
const REPLACE_AFTER_MISSED = 5;

export class SaleSubscriptions {
  sub: RedisClient;
  private readonly cluster: boolean;
  private readonly probeChannel: string;
  /** The probe in flight (Cluster): its nonce and when it was sent. */
  private probe: { nonce: string } | null = null;
  private lost = false;
  /** Heartbeat probes that came back (Cluster), for tests and diagnosis. */
  probesBack = 0;
  /** Heartbeats in a row whose probe did not come back. */
  private missed = 0;
  private timer: NodeJS.Timeout | undefined;
  private started = false;
  private closed = false;

  constructor(private readonly o: SaleSubscriptionsOptions) {
    this.sub = this.connect();
    this.cluster = isCluster(this.sub);
    // Under the pattern, but no sale's: saleIdOfChannel refuses the '.' of the name.
    this.probeChannel = `${o.prefix}fs:{sale:probe.${randomBytes(6).toString('hex')}}:events`;
  }

  private connect(): RedisClient {
    const sub = createRedis(this.o.redisUrl, { subscriber: true, name: this.o.name, log: this.o.log });
    sub.on('pmessage', (_p: string, channel: string, message: string) => this.deliver(channel, message));
    if (isCluster(sub)) {
      const markLost = () => {
        if (this.started) this.lost = true;
      };
      sub.on('node error', markLost);
      sub.on('-node', markLost);
    } else {
      sub.on('ready', () => {
        if (!this.started || this.closed) return;
        sub.psubscribe(eventsPattern(this.o.prefix)).then(
          () => this.o.onResubscribed(),
          (err: unknown) => this.o.log.warn({ err }, 'could not resubscribe to sale events; the next reconnect tries again'),
        );
      });
    }
    return sub;
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
      this.sendProbe();
    }
  }

  /**
   * A probe is judged a full period after Redis acknowledged its PUBLISH, and only after one more turn
   * of reading the sockets (setImmediate runs after the event loop's poll phase). So a busy loop (a
   * gateway pushing positions to 17,000 sockets; autopipelining itself writes the PUBLISH only on a
   * later turn) never calls a probe missed whose answer sits unread in the socket. With a fixed
   * interval a late timer did: every buyer was resynced, and the loop got busier still.
   */
  private heartbeat(): void {
    if (this.closed) return;
    setImmediate(() => {
      if (this.closed) return;
      if (this.probe) {
        // The last probe did not come back within a period.
        this.lost = true;
        if (++this.missed >= REPLACE_AFTER_MISSED) this.replace();
      }
      this.sendProbe();
    });
  }

  private sendProbe(): void {
    const nonce = randomBytes(8).toString('hex');
    const probe = { nonce };
    this.probe = probe;
    const message = JSON.stringify({ t: 'probe', n: nonce } satisfies SaleEvent);
    const next = () => {
      if (this.closed) return;
      this.timer = setTimeout(() => this.heartbeat(), this.o.heartbeatMs ?? 1000);
      this.timer.unref();
    };
    this.o.publisher.publish(this.probeChannel, message).then(next, (err: unknown) => {
      this.lost = true;
      this.o.log.warn({ err: (err as Error).message }, 'could not probe the sale events subscription; retrying');
      next();
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
    this.probesBack++;
    this.missed = 0;
    if (!this.lost) return;
    this.lost = false;
    this.o.onResubscribed();
  }

  /**
   * A subscriber that stays deaf (seen when every master of a Cluster restarted at once: ioredis kept a
   * subscriber connection that never subscribed again) is replaced by a new client and subscription.
   */
  private replace(): void {
    this.missed = 0;
    this.o.log.warn('sale events subscription silent; replacing the subscriber connection');
    const old = this.sub;
    this.sub = this.connect();
    old.disconnect();
    this.sub.psubscribe(eventsPattern(this.o.prefix)).catch((err: unknown) => this.o.log.warn({ err: (err as Error).message }, 'could not subscribe to sale events; the heartbeat tries again'));
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    this.sub.disconnect();
  }
}
