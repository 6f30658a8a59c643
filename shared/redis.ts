import { Redis, Cluster } from 'ioredis';

export type RedisClient = Redis | Cluster;

/**
 * One client per role. `REDIS_URL` may name a Cluster seed node with `?cluster=1`; otherwise a
 * single server. maxRetriesPerRequest stays finite for request clients so a lost Redis turns into
 * an error the caller can answer, instead of a request hanging forever.
 */
export function createRedis(url: string, opts: { subscriber?: boolean; name?: string } = {}): RedisClient {
  const u = new URL(url);
  const common = {
    connectionName: opts.name,
    maxRetriesPerRequest: opts.subscriber ? null : 3,
    enableAutoPipelining: !opts.subscriber,
    lazyConnect: false,
  };
  if (u.searchParams.get('cluster') === '1') {
    return new Cluster([{ host: u.hostname, port: Number(u.port || 6379) }], {
      redisOptions: { ...common, password: u.password || undefined },
      enableAutoPipelining: !opts.subscriber,
    });
  }
  u.searchParams.delete('cluster');
  return new Redis(u.toString(), common);
}

type Reply = string | number | null | Reply[];

/** Calls a script defined with defineCommand; keys first, then args, as ioredis expects. */
export function runScript<T = Reply>(client: RedisClient, name: string, keys: string[], args: (string | number)[]): Promise<T> {
  const fn = (client as unknown as Record<string, (...a: unknown[]) => Promise<T>>)[name];
  if (typeof fn !== 'function') throw new Error(`redis script ${name} is not defined on this client`);
  return fn.call(client, ...keys, ...args);
}
