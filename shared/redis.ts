import { Redis, Cluster, type RedisOptions } from 'ioredis';
import { createLogger, type Logger } from './logger.js';
import { rateLimitedWarn } from './connection-errors.js';

export type RedisClient = Redis | Cluster;

export interface RedisClientOptions {
  /**
   * A client for blocking commands or pub/sub (a BullMQ worker's, a SUBSCRIBE): its commands wait as
   * long as they must, so no command timeout, and `maxRetriesPerRequest: null` (BullMQ requires it).
   */
  subscriber?: boolean;
  /** CLIENT SETNAME, so `CLIENT LIST` tells which role of which process a connection is. */
  name?: string;
  autoPipelining?: boolean;
  /**
   * Request clients only: a command unanswered after this long fails with "Command timed out"
   * (REDIS_COMMAND_TIMEOUT_MS). Without it a command sent into a half-dead connection waits for the
   * kernel to notice (minutes), and the buyer's frame, the admitter's tick or a payment step with it.
   */
  commandTimeoutMs?: number;
  log?: Logger;
}

export const REDIS_DEFAULTS = {
  commandTimeoutMs: 2000,
  /** Reconnect backoff: the first retry after ~50 ms, doubling up to ~2 s, for ever. */
  reconnectBaseMs: 50,
  reconnectCapMs: 2000,
} as const;

/**
 * Milliseconds before reconnect attempt `times` (1, 2, …): exponential from the base up to the cap,
 * with ±25 % jitter so the clients of many processes do not all knock at once when Redis comes back.
 * Never null: ioredis ends a client for good when its strategy returns null, and a process whose
 * client has ended can only be restarted — Redis away for a minute must not need an operator.
 */
export function reconnectDelay(times: number, random: () => number = Math.random): number {
  const exp = Math.min(REDIS_DEFAULTS.reconnectCapMs, REDIS_DEFAULTS.reconnectBaseMs * 2 ** Math.min(Math.max(times - 1, 0), 16));
  return Math.round(exp * (0.75 + random() * 0.5));
}

/**
 * One client per role. `REDIS_URL` may name a Cluster seed node with `?cluster=1`; otherwise a
 * single server. maxRetriesPerRequest stays finite for request clients so a lost Redis turns into
 * an error the caller can answer, instead of a request hanging forever.
 *
 * Every client gets an 'error' listener (rate-limited: ioredis emits one per failed reconnect attempt)
 * and a reconnect strategy that never gives up; commands fail while Redis is away and work again once
 * it is back, without a restart.
 */
export function createRedis(url: string, opts: RedisClientOptions = {}): RedisClient {
  const u = new URL(url);
  const autoPipelining = opts.autoPipelining ?? !opts.subscriber;
  const common: RedisOptions = {
    connectionName: opts.name,
    maxRetriesPerRequest: opts.subscriber ? null : 3,
    enableAutoPipelining: autoPipelining,
    lazyConnect: false,
    retryStrategy: (times) => reconnectDelay(times),
    ...(opts.subscriber ? {} : { commandTimeout: opts.commandTimeoutMs ?? REDIS_DEFAULTS.commandTimeoutMs }),
  };
  let client: RedisClient;
  if (u.searchParams.get('cluster') === '1') {
    const { retryStrategy: _perNode, ...redisOptions } = common;
    client = new Cluster([{ host: u.hostname, port: Number(u.port || 6379) }], {
      redisOptions: { ...redisOptions, password: u.password || undefined },
      enableAutoPipelining: autoPipelining,
      clusterRetryStrategy: (times) => reconnectDelay(times),
    });
  } else {
    u.searchParams.delete('cluster');
    client = new Redis(u.toString(), common);
  }
  const log = opts.log ?? defaultLog();
  // The URL is not logged: it may carry a password.
  client.on('error', rateLimitedWarn(log, 'redis connection error; reconnecting', { client: opts.name ?? 'redis' }));
  return client;
}

/**
 * The client a process's BullMQ queues share (enqueue, job lookups, dead letters), apart from its
 * request client. BullMQ defines its ~65 scripts on the client it is given, and an autopipelining
 * client copies every script defined on it onto each pipeline it builds (ioredis Pipeline's
 * constructor): on the request client that cost ~70 µs per batch of commands, in every gateway and
 * worker. Queue calls are few and not batched here, so this client does not autopipeline.
 */
export function createQueueRedis(url: string, name: string, opts: Pick<RedisClientOptions, 'commandTimeoutMs' | 'log'> = {}): RedisClient {
  return createRedis(url, { ...opts, name, autoPipelining: false });
}

let redisLog: Logger | undefined;
const defaultLog = (): Logger => (redisLog ??= createLogger('redis'));

type Reply = string | number | null | Reply[];

/** Calls a script defined with defineCommand; keys first, then args, as ioredis expects. */
export function runScript<T = Reply>(client: RedisClient, name: string, keys: string[], args: (string | number)[]): Promise<T> {
  const fn = (client as unknown as Record<string, (...a: unknown[]) => Promise<T>>)[name];
  if (typeof fn !== 'function') throw new Error(`redis script ${name} is not defined on this client`);
  return fn.call(client, ...keys, ...args);
}
