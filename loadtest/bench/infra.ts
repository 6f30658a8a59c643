import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { Cluster, Redis } from 'ioredis';
import { migrate } from '../../shared/db.js';
import { createRedis, deleteKeys, scanKeys } from '../../shared/redis.js';
import { PrivateRedis } from './private-redis.js';

/**
 * What every bench needs around it: the services checked up front (a clear message, not a hang),
 * a database and a Redis key prefix of its own, child processes on free ports, and cleanup.
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

export interface Child {
  child: ChildProcess;
  port: number;
  pid: number;
  /** The DevTools WebSocket of a child started with `--inspect=127.0.0.1:0` (see collectGarbage). */
  inspectorUrl?: string;
  stop(): Promise<void>;
}

/**
 * Starts one of our entry points (TypeScript, through tsx) as a child process and waits for its
 * "ready" IPC message; a child that dies first fails the bench with its stderr. With BENCH_DIST=dir
 * (a `npm run build --out-dir`, e.g. dist), the product's entry points run compiled, by node alone, as
 * in the Docker image; the bench's own children stay TypeScript.
 */
const running = new Set<ChildProcess>();
// A bench that dies or times out must not leave gateways and workers behind (they hold ports,
// connections and CPU the next run would measure).
process.on('exit', () => {
  for (const c of running) c.kill('SIGKILL');
});

export function startChild(script: string, env: NodeJS.ProcessEnv, execArgv: string[] = []): Promise<Child> {
  // BENCH_CPU_PROF=dir: every child writes a V8 CPU profile there when it exits (docs/performance.md).
  const prof = process.env.BENCH_CPU_PROF ? ['--cpu-prof', '--cpu-prof-dir', process.env.BENCH_CPU_PROF] : [];
  const file = compiledEntry(fileURLToPath(new URL(script, import.meta.url)));
  const tsx = file.endsWith('.ts') ? ['--import', 'tsx'] : [];
  const child = fork(file, [], { execArgv: [...prof, ...execArgv, ...tsx], env, stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
  running.add(child);
  child.once('exit', () => running.delete(child));
  let err = '';
  // Node prints the inspector's address on stderr before it runs the script, so before "ready".
  let inspectorUrl: string | undefined;
  child.stderr?.on('data', (d: Buffer) => {
    err = (err + d.toString()).slice(-10_000);
    inspectorUrl ??= /Debugger listening on (ws:\/\/\S+)/.exec(err)?.[1];
  });
  return new Promise((resolve, reject) => {
    const onExit = (code: number | null) => reject(new Error(`${script} exited (${code}) before it was ready: ${err}`));
    child.once('exit', onExit);
    child.once('message', (m: { port?: number }) => {
      child.off('exit', onExit);
      resolve({ child, port: m.port ?? 0, pid: child.pid!, inspectorUrl, stop: () => stopChild(child) });
    });
  });
}

/** The compiled twin of a product entry file under BENCH_DIST, else the file itself. */
function compiledEntry(file: string): string {
  const dist = process.env.BENCH_DIST;
  if (!dist) return file;
  const root = fileURLToPath(new URL('../../', import.meta.url));
  const rel = relative(root, file);
  if (rel.startsWith('loadtest')) return file;
  const compiled = fileURLToPath(new URL(`${dist.replace(/\/?$/, '/')}${rel.replace(/\.ts$/, '.js')}`, new URL('../../', import.meta.url)));
  if (!existsSync(compiled)) throw new Error(`BENCH_DIST=${dist}: no ${compiled} (run npm run build first)`);
  return compiled;
}

export function stopChild(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  return new Promise((r) => {
    if (child.exitCode !== null || child.signalCode !== null) return r();
    child.once('exit', () => r());
    child.kill(signal);
    setTimeout(() => child.kill('SIGKILL'), 10_000).unref();
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

/** Node flags that let collectGarbage reach a child: the inspector on a free loopback port. */
export const INSPECT_ARGV = ['--inspect=127.0.0.1:0'];

/**
 * A full, blocking garbage collection in a child started with INSPECT_ARGV, through the DevTools
 * protocol (`HeapProfiler.collectGarbage`, the "collect garbage" button): memory read afterwards is
 * what the child retains, not garbage an idle process has not collected yet. Nothing is added to the
 * measured program: the inspector is Node's own.
 */
export async function collectGarbage(child: Child): Promise<void> {
  if (!child.inspectorUrl) throw new Error(`pid ${child.pid} was not started with ${INSPECT_ARGV.join(' ')}: no inspector to ask for a GC`);
  const { default: WebSocket } = await import('ws');
  const ws = new WebSocket(child.inspectorUrl, { perMessageDeflate: false });
  try {
    await new Promise<void>((resolve, reject) => {
      ws.once('error', reject);
      ws.on('message', (data) => {
        const m = JSON.parse(String(data)) as { id?: number; error?: { message: string } };
        if (m.id !== 1) return;
        if (m.error) reject(new Error(`HeapProfiler.collectGarbage: ${m.error.message}`));
        else resolve();
      });
      ws.once('open', () => ws.send(JSON.stringify({ id: 1, method: 'HeapProfiler.collectGarbage' })));
    });
  } finally {
    ws.close();
  }
}

/**
 * CPU time a process has used so far (user + system), in ms, from /proc (Linux; clock ticks of
 * 10 ms). On a machine shared with other work, a server's CPU per request moves much less than its
 * throughput does.
 */
export async function cpuMs(pid: number): Promise<number> {
  const { readFile } = await import('node:fs/promises');
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces), counted from field 3: utime is 14, stime 15.
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) * 10;
}

/** Resident set size of a process in bytes, from /proc (Linux). */
export async function rssBytes(pid: number): Promise<number> {
  const { readFile } = await import('node:fs/promises');
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const m = /^VmRSS:\s+(\d+) kB/m.exec(status);
  if (!m) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]) * 1024;
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

/** This process's open-file limit (soft), from /proc; Infinity where unknown. */
export async function fdLimit(): Promise<number> {
  const { readFile } = await import('node:fs/promises');
  const m = /^Max open files\s+(\d+|unlimited)/m.exec(await readFile('/proc/self/limits', 'utf8').catch(() => ''));
  return !m || m[1] === 'unlimited' ? Number.POSITIVE_INFINITY : Number(m[1]);
}
