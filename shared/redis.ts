import { Redis, Cluster, type ChainableCommander, type RedisOptions } from 'ioredis';
import { createLogger, type Logger } from './logger.js';
import { rateLimitedWarn } from './connection-errors.js';
import { TEST_CLOCK, type TestClockHook } from './lua-loader.js';

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

/** What a `REDIS_URL` says: one server, or the seed node of a Cluster (`?cluster=1`). */
export interface RedisTarget {
  cluster: boolean;
  host: string;
  port: number;
  username?: string;
  password?: string;
  /** `rediss://`: TLS to every node (a Cluster's nodes are reached by the addresses they announce). */
  tls: boolean;
  db?: number;
}

/**
 * Parses `redis://[user:password@]host[:port][/db][?cluster=1]` (or `rediss://` for TLS). On a Cluster
 * the credentials and TLS go to every node's connection, not only to the seed's: ioredis takes them
 * from `redisOptions`, and a URL on the seed alone would leave the other nodes unauthenticated.
 */
export function parseRedisUrl(url: string): RedisTarget {
  const u = new URL(url);
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') throw new Error(`REDIS_URL must start with redis:// or rediss:// (got ${u.protocol}//)`);
  const cluster = u.searchParams.get('cluster') === '1';
  const db = u.pathname.length > 1 ? Number(u.pathname.slice(1)) : undefined;
  if (db !== undefined && !(Number.isInteger(db) && db >= 0)) throw new Error('REDIS_URL: the path must be a database number');
  if (cluster && db) throw new Error('REDIS_URL: a Redis Cluster has only database 0');
  return {
    cluster,
    host: u.hostname.replace(/^\[(.*)\]$/, '$1') || '127.0.0.1',
    port: Number(u.port || 6379),
    username: u.username ? decodeURIComponent(u.username) : undefined,
    password: u.password ? decodeURIComponent(u.password) : undefined,
    tls: u.protocol === 'rediss:',
    db,
  };
}

/** True for a client of a Redis Cluster (its keys live on several masters; see docs/decisions.md, Redis Cluster). */
export function isCluster(client: RedisClient): client is Cluster {
  return client instanceof Cluster;
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
  const t = parseRedisUrl(url);
  const autoPipelining = opts.autoPipelining ?? !opts.subscriber;
  const common: RedisOptions = {
    connectionName: opts.name,
    maxRetriesPerRequest: opts.subscriber ? null : 3,
    enableAutoPipelining: autoPipelining,
    lazyConnect: false,
    retryStrategy: (times) => reconnectDelay(times),
    username: t.username,
    password: t.password,
    ...(t.tls ? { tls: {} } : {}),
    ...(opts.subscriber ? {} : { commandTimeout: opts.commandTimeoutMs ?? REDIS_DEFAULTS.commandTimeoutMs }),
  };
  let client: RedisClient;
  if (t.cluster) {
    // Each node's connection is the Cluster's to re-establish (clusterRetryStrategy, slot refreshes).
    const { retryStrategy: _perNode, enableAutoPipelining: _pipelines, ...redisOptions } = common;
    client = new Cluster([{ host: t.host, port: t.port }], {
      redisOptions,
      // Autopipelining on a Cluster batches per node: commands of one tick for several slots of one
      // master share a round trip (ioredis groups them by the slots' node).
      enableAutoPipelining: autoPipelining,
      clusterRetryStrategy: (times) => reconnectDelay(times),
    });
  } else {
    client = new Redis({ ...common, host: t.host, port: t.port, db: t.db ?? 0 });
  }
  const log = opts.log ?? defaultLog();
  // The URL is not logged: it may carry a password.
  client.on('error', rateLimitedWarn(log, 'redis connection error; reconnecting', { client: opts.name ?? 'redis' }));
  return client;
}

/**
 * Every key matching `pattern`: SCAN on one server, on every master of a Cluster (a SCAN sent to a
 * Cluster client reaches one node only). For tests and tools, never on the buyer path.
 */
export async function scanKeys(client: RedisClient, pattern: string): Promise<string[]> {
  const nodes: Redis[] = isCluster(client) ? client.nodes('master') : [client];
  const keys: string[] = [];
  for (const node of nodes) {
    let cursor = '0';
    do {
      const [next, batch] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 10_000);
      keys.push(...batch);
      cursor = next;
    } while (cursor !== '0');
  }
  return keys;
}

/** DEL of keys in any slots: one DEL per slot on a Cluster (a multi-key DEL must stay in one slot). */
export async function deleteKeys(client: RedisClient, keys: string[]): Promise<number> {
  if (keys.length === 0) return 0;
  if (!isCluster(client)) return client.del(...keys);
  const bySlot = new Map<number, string[]>();
  for (const k of keys) {
    const slot = keySlot(k);
    const list = bySlot.get(slot);
    if (list) list.push(k);
    else bySlot.set(slot, [k]);
  }
  const counts = await Promise.all([...bySlot.values()].map((ks) => client.del(...ks)));
  return counts.reduce((a, b) => a + b, 0);
}

/** The Cluster hash slot of a key (CRC16 of its hash tag, or of the whole key), as Redis computes it. */
export function keySlot(key: string): number {
  const open = key.indexOf('{');
  if (open >= 0) {
    const close = key.indexOf('}', open + 1);
    if (close > open + 1) key = key.slice(open + 1, close);
  }
  return crc16(Buffer.from(key)) % 16384;
}

function crc16(buf: Buffer): number {
  let crc = 0;
  for (const byte of buf) {
    crc ^= byte << 8;
    for (let i = 0; i < 8; i++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc;
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
  // Tests only (lua-loader.ts TEST_CLOCK): a test client's clock-reading scripts take the time last.
  const clock = (client as unknown as { [TEST_CLOCK]?: TestClockHook })[TEST_CLOCK];
  if (clock?.scripts.has(name)) return fn.call(client, ...keys, ...args, clock.now());
  return fn.call(client, ...keys, ...args);
}

/** The run id of the Redis server that holds a key (null when it cannot be told). */
/**
 * Runs a MULTI and gives each command's reply in order, or throws: the first command's error, or the
 * abort of the whole transaction (`what` names it in the message). One instant of one slot.
 */
export async function execMulti(multi: ChainableCommander, what: string): Promise<unknown[]> {
  const r = await multi.exec();
  if (!r) throw new Error(`${what}: transaction aborted`);
  for (const [err] of r) if (err) throw err;
  return r.map(([, reply]) => reply);
}

export type RunIdOf = (key: string) => string | null;

const RUN_ID = /run_id:([0-9a-f]+)/;

/**
 * The servers' run ids, read once (a restart or a failover changes a server's run id): one server's
 * for every key, or on a Cluster each master's, looked up by the key's slot in the client's slot map.
 * A FLUSHALL or a restart of one master of a Cluster thus shows on the keys of that master only.
 */
export async function serverRunIds(client: RedisClient): Promise<RunIdOf> {
  if (!isCluster(client)) {
    const id = RUN_ID.exec(await client.info('server'))?.[1] ?? null;
    return () => id;
  }
  const ids = new Map<string, string | null>(await Promise.all(client.nodes('master').map(async (n) =>
    [`${n.options.host}:${n.options.port}`, RUN_ID.exec(await n.info('server'))?.[1] ?? null] as const)));
  return (key) => {
    const node = client.slots[keySlot(key)]?.[0];
    return node ? ids.get(node) ?? null : null;
  };
}
