import { Redis, Cluster } from 'ioredis';

export type RedisClient = Redis | Cluster;

/**
 * One client per role. `REDIS_URL` may name a Cluster seed node with `?cluster=1`; otherwise a
 * single server. maxRetriesPerRequest stays finite for request clients so a lost Redis turns into
 * an error the caller can answer, instead of a request hanging forever.
 */
export function createRedis(url: string, opts: { subscriber?: boolean; name?: string; autoPipelining?: boolean } = {}): RedisClient {
  const u = new URL(url);
  const autoPipelining = opts.autoPipelining ?? !opts.subscriber;
  const common = {
    connectionName: opts.name,
    maxRetriesPerRequest: opts.subscriber ? null : 3,
    enableAutoPipelining: autoPipelining,
    lazyConnect: false,
  };
  if (u.searchParams.get('cluster') === '1') {
    return new Cluster([{ host: u.hostname, port: Number(u.port || 6379) }], {
      redisOptions: { ...common, password: u.password || undefined },
      enableAutoPipelining: autoPipelining,
    });
  }
  u.searchParams.delete('cluster');
  return new Redis(u.toString(), common);
}

/**
 * The client a process's BullMQ queues share (enqueue, job lookups, dead letters), apart from its
 * request client. BullMQ defines its ~65 scripts on the client it is given, and an autopipelining
 * client copies every script defined on it onto each pipeline it builds (ioredis Pipeline's
 * constructor): on the request client that cost ~70 µs per batch of commands, in every gateway and
 * worker. Queue calls are few and not batched here, so this client does not autopipeline.
 */
export function createQueueRedis(url: string, name: string): RedisClient {
  return createRedis(url, { name, autoPipelining: false });
}

type Reply = string | number | null | Reply[];

/** Calls a script defined with defineCommand; keys first, then args, as ioredis expects. */
export function runScript<T = Reply>(client: RedisClient, name: string, keys: string[], args: (string | number)[]): Promise<T> {
  const fn = (client as unknown as Record<string, (...a: unknown[]) => Promise<T>>)[name];
  if (typeof fn !== 'function') throw new Error(`redis script ${name} is not defined on this client`);
  return fn.call(client, ...keys, ...args);
}
