import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import pg from 'pg';
import { Cluster, Redis } from 'ioredis';
import { migrate } from '../../shared/db.js';
import { createRedis, deleteKeys, scanKeys } from '../../shared/redis.js';
import { PrivateRedis } from './private-redis.js';

/**
 * What every bench needs around it: the services checked up front (a clear message, not a hang),
 * a database and a Redis key prefix of its own, free ports, and cleanup. Child processes and what is
 * measured of them: child-processes.ts.
 */
export const BENCH_ADMIN_TOKEN = 'bench-admin-token';
export const BENCH_BUYER_SECRET = 'bench-buyer-secret';

export class ServiceMissingError extends Error {
  override name = 'ServiceMissingError';
}

export async function requireServices(env: NodeJS.ProcessEnv = process.env): Promise<{ redisUrl: string; databaseUrl: string; redisClusterUrl?: string }> {
  const redisUrl = env.REDIS_URL ?? 'redis://127.0.0.1:6379';
  // Optional: a Cluster of one's own for the cluster bench (`redis://host:port?cluster=1`); without it
  // that bench starts a private one. Checked here so a wrong URL fails before any bench runs.
  const redisClusterUrl = env.REDIS_CLUSTER_URL || undefined;
  if (redisClusterUrl) await requireCluster(redisClusterUrl);
  const databaseUrl = env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
  const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 3000 });
  redis.on('error', () => {});
  try {
    await redis.connect();
    await redis.ping();
  } catch (err) {
    throw new ServiceMissingError(`Redis is not reachable at ${redisUrl} (set REDIS_URL): ${(err as Error).message}`);
  } finally {
    redis.disconnect();
  }
  const c = new pg.Client({ connectionString: databaseUrl, connectionTimeoutMillis: 3000 });
  try {
    await c.connect();
    await c.query('SELECT 1');
  } catch (err) {
    throw new ServiceMissingError(`PostgreSQL is not reachable at ${databaseUrl} (set DATABASE_URL): ${(err as Error).message}`);
  } finally {
    await c.end().catch(() => {});
  }
  return { redisUrl, databaseUrl, ...(redisClusterUrl ? { redisClusterUrl } : {}) };
}

async function requireCluster(url: string): Promise<void> {
  const u = new URL(url);
  if (u.searchParams.get('cluster') !== '1') throw new ServiceMissingError(`REDIS_CLUSTER_URL must name a Cluster seed node with ?cluster=1 (got ${u.host}${u.search})`);
  const c = new Cluster([{ host: u.hostname, port: Number(u.port || 6379) }], { clusterRetryStrategy: () => null, redisOptions: { connectTimeout: 3000, maxRetriesPerRequest: 0 } });
  c.on('error', () => {});
  try {
    const info = await c.cluster('INFO');
    if (!info.includes('cluster_state:ok')) throw new Error(info.split('\n')[0]!.trim());
  } catch (err) {
    throw new ServiceMissingError(`the Redis Cluster at ${u.host} is not reachable or not ok (set REDIS_CLUSTER_URL): ${(err as Error).message}`);
  } finally {
    c.disconnect();
  }
}

/** A migrated database of its own for one bench; `drop()` removes it (and kicks out stray sessions). */
export async function ownDatabase(baseUrl: string, label: string): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `bench_${label.replace(/[^a-z0-9]/g, '_')}_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: baseUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const u = new URL(baseUrl);
  u.pathname = `/${name}`;
  await migrate(u.toString());
  return {
    url: u.toString(),
    drop: async () => {
      const c = new pg.Client({ connectionString: baseUrl });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}

export function benchPrefix(label: string): string {
  return `bench:${label}:${randomBytes(3).toString('hex')}:`;
}

export async function deletePrefix(redisUrl: string, prefix: string): Promise<void> {
  const u = new URL(redisUrl);
  if (u.searchParams.get('cluster') === '1') return deletePrefixInCluster(u, prefix);
  const r = new Redis(redisUrl);
  try {
    for await (const keys of r.scanStream({ match: `${prefix}*`, count: 1000 }) as AsyncIterable<string[]>) if (keys.length > 0) await r.unlink(...keys);
  } finally {
    r.disconnect();
  }
}

/** SCAN runs per master and a DEL may name one slot only: shared/redis.ts knows both. */
async function deletePrefixInCluster(u: URL, prefix: string): Promise<void> {
  const c = createRedis(u.toString(), { name: 'bench-cleanup' }) as Cluster;
  try {
    if (c.status !== 'ready') await new Promise((r) => c.once('ready', r));
    await deleteKeys(c, await scanKeys(c, `${prefix}*`));
  } finally {
    c.disconnect();
  }
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/**
 * A private redis-server on a free port, for figures other people's keys must not disturb (memory).
 * Null when no redis-server binary is on the PATH.
 */
export async function privateRedis(): Promise<{ url: string; stop(): Promise<void> } | null> {
  const own = new PrivateRedis();
  try {
    await own.start();
  } catch {
    await own.stop();
    return null;
  }
  return { url: own.url, stop: () => own.stop() };
}

/** The environment of our processes under a bench: its own prefix and database, quiet logs. */
export function stackEnv(o: { redisUrl: string; databaseUrl: string; prefix: string; standInUrl: string; extra?: Record<string, string> }): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH, HOME: process.env.HOME,
    NODE_ENV: 'test', LOG_LEVEL: 'warn', HOST: '127.0.0.1', PORT: '0',
    REDIS_URL: o.redisUrl, DATABASE_URL: o.databaseUrl, REDIS_PREFIX: o.prefix,
    ADMIN_TOKEN: BENCH_ADMIN_TOKEN, BUYER_JWT_SECRET: BENCH_BUYER_SECRET, STRIPE_SECRET_KEY: 'sk_test_bench', STRIPE_WEBHOOK_SECRET: 'whsec_bench', STRIPE_API_URL: o.standInUrl,
    // A bench's crowd connects from a few loopback addresses: no per-address upgrade limit.
    UPGRADES_PER_ADDRESS_PER_SECOND: '0',
    ...o.extra,
  };
}

export async function adminCall(baseUrl: string, method: string, path: string, body?: unknown): Promise<any> {
  const res = await fetch(`${baseUrl}${path}`, {
    method, headers: { authorization: `Bearer ${BENCH_ADMIN_TOKEN}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

export interface BenchContext {
  quick: boolean;
  redisUrl: string;
  databaseUrl: string;
  /** REDIS_CLUSTER_URL when given: the cluster bench runs there instead of on a private Cluster. */
  redisClusterUrl?: string;
  /** Progress and side figures for people, on stderr (stdout carries only the JSON lines). */
  note(msg: string): void;
}

/** Runs `fn` from `concurrency` loops until `ms` have passed; returns the successes and the real span. */
export async function forDuration(concurrency: number, ms: number, fn: (loop: number, i: number) => Promise<boolean>): Promise<{ ok: number; spanMs: number }> {
  const began = performance.now();
  const until = began + ms;
  let ok = 0;
  await Promise.all(Array.from({ length: concurrency }, async (_, loop) => {
    for (let i = 0; performance.now() < until; i++) if (await fn(loop, i)) ok++;
  }));
  return { ok, spanMs: performance.now() - began };
}
