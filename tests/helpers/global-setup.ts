import { existsSync } from 'node:fs';
import pg from 'pg';
import { Redis } from 'ioredis';
import type { TestProject } from 'vitest/node';
import { migrate } from '../../shared/db.js';
import { startTestCluster } from './test-cluster.js';

declare module 'vitest' {
  export interface ProvidedContext {
    redisUrl: string;
    /**
     * What `redisUrl` names: one server, or a Cluster seed (`?cluster=1`). The project "redis" runs on
     * 'single', "cluster" on 'cluster' (vitest.config.ts); the few assertions that differ ask this.
     */
    redisMode: 'single' | 'cluster';
    databaseUrl: string;
    /** The server's maintenance database, to create databases of one's own from `templateDb`. */
    baseDatabaseUrl: string;
    /** A migrated database nobody connects to: the template of per-stack databases. */
    templateDb: string;
  }
}

type Stop = () => Promise<unknown>;

const dockerAvailable = () => existsSync('/var/run/docker.sock') && process.env.TESTCONTAINERS !== '0';

/**
 * Tests run against a real Redis (or Redis Cluster) and a real Postgres. Missing services fail the
 * run loudly: nothing is skipped. vitest.config.ts names this file three times: the root's run only
 * readies the page tests' browser; project "redis" brings a single Redis, project "cluster" a Redis
 * Cluster, and each its own Postgres database: both run at once, and a test that names a fixed hold id
 * or reads every sale of the ledger must not meet the other project's rows. Each returns its own teardown.
 */
export async function setup(project: TestProject): Promise<() => Promise<void>> {
  const stops: Stop[] = [];
  const teardown = async () => {
    for (const stop of stops.reverse()) await stop().catch(() => {});
  };
  try {
    if (project.name === 'cluster' || project.name === 'redis') {
      await (project.name === 'cluster' ? provideCluster(project, stops) : provideSingleRedis(project, stops));
      await providePostgres(project, stops);
    } else {
      await readyChromium();
    }
  } catch (err) {
    await teardown();
    throw err;
  }
  return teardown;
}

/** REDIS_URL; else, with a Docker engine, a `redis:7-alpine` container; else the local server. */
async function provideSingleRedis(project: TestProject, stops: Stop[]): Promise<void> {
  let redisUrl = process.env.REDIS_URL;
  if (!redisUrl && dockerAvailable()) {
    const { GenericContainer } = await import('testcontainers');
    const redis = await new GenericContainer('redis:7-alpine').withExposedPorts(6379).start();
    stops.push(() => redis.stop());
    redisUrl = `redis://${redis.getHost()}:${redis.getMappedPort(6379)}`;
  }
  redisUrl ??= 'redis://127.0.0.1:6379';
  const u = new URL(redisUrl);
  if (u.searchParams.get('cluster') === '1') {
    throw new Error(`REDIS_URL names a Cluster (${u.host}?cluster=1): the "redis" project runs on one server; give the Cluster as REDIS_CLUSTER_URL`);
  }
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1, retryStrategy: () => null, lazyConnect: true });
  redis.on('error', () => {});
  try {
    await redis.connect();
    await redis.ping();
  } catch (err) {
    throw new Error(`tests need Redis at ${redisUrl} (set REDIS_URL): ${(err as Error).message}`, { cause: err });
  } finally {
    redis.disconnect();
  }
  project.provide('redisUrl', redisUrl);
  project.provide('redisMode', 'single');
}

/** REDIS_CLUSTER_URL, a Cluster in Docker or a private one: tests/helpers/test-cluster.ts. */
async function provideCluster(project: TestProject, stops: Stop[]): Promise<void> {
  const cluster = await startTestCluster();
  stops.push(() => cluster.stop());
  project.provide('redisUrl', cluster.url);
  project.provide('redisMode', 'cluster');
}

/** DATABASE_URL; else, with a Docker engine, a `postgres:15-alpine` container; else the local server. */
async function providePostgres(project: TestProject, stops: Stop[]): Promise<void> {
  let baseDbUrl = process.env.DATABASE_URL;
  if (!baseDbUrl && dockerAvailable()) {
    const { GenericContainer, Wait } = await import('testcontainers');
    const postgres = await new GenericContainer('postgres:15-alpine')
      .withEnvironment({ POSTGRES_HOST_AUTH_METHOD: 'trust', POSTGRES_DB: 'test' })
      .withExposedPorts(5432)
      .withWaitStrategy(Wait.forLogMessage(/database system is ready to accept connections/, 2))
      .start();
    stops.push(() => postgres.stop());
    baseDbUrl = `postgres://postgres@${postgres.getHost()}:${postgres.getMappedPort(5432)}/test`;
  }
  baseDbUrl ??= 'postgres://postgres@127.0.0.1:5432/test';

  // A database of our own per run, so runs never collide; dropped afterwards.
  const dbName = `fs_test_${project.name}_${Date.now()}_${process.pid}`;
  const admin = new pg.Client({ connectionString: baseDbUrl, connectionTimeoutMillis: 3000 });
  try {
    await admin.connect();
  } catch (err) {
    throw new Error(`tests need Postgres at ${baseDbUrl} (set DATABASE_URL): ${(err as Error).message}`, { cause: err });
  }
  await admin.query(`CREATE DATABASE ${dbName}`);
  await admin.end();
  stops.push(async () => {
    const c = new pg.Client({ connectionString: baseDbUrl });
    await c.connect();
    const all = await c.query<{ datname: string }>('SELECT datname FROM pg_database WHERE datname LIKE $1', [`${dbName}%`]);
    for (const { datname } of all.rows) await c.query(`DROP DATABASE IF EXISTS ${datname} WITH (FORCE)`);
    await c.end();
  });
  const u = new URL(baseDbUrl);
  u.pathname = `/${dbName}`;
  const databaseUrl = u.toString();
  await migrate(databaseUrl);
  // Stacks of processes (gateways, workers with their reconcilers) each get a database copied from
  // this template, so one stack's reconciliation never sees another test's payments.
  const templateDb = `${dbName}_tpl`;
  const tpl = new URL(baseDbUrl);
  tpl.pathname = `/${templateDb}`;
  const creator = new pg.Client({ connectionString: baseDbUrl });
  await creator.connect();
  await creator.query(`CREATE DATABASE ${templateDb}`);
  await creator.end();
  await migrate(tpl.toString());
  project.provide('databaseUrl', databaseUrl);
  project.provide('baseDatabaseUrl', baseDbUrl);
  project.provide('templateDb', templateDb);
}

/**
 * Without a system Chromium the page tests use @sparticuz/chromium's, which unpacks itself into the
 * temp dir on first use, not atomically: unpack it once, before test files run side by side.
 */
async function readyChromium(): Promise<void> {
  if (process.env.CHROMIUM_PATH || existsSync('/usr/bin/chromium')) return;
  const { default: packaged } = await import('@sparticuz/chromium');
  await packaged.executablePath();
}
