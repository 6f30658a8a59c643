import { existsSync } from 'node:fs';
import pg from 'pg';
import { Redis } from 'ioredis';
import type { TestProject } from 'vitest/node';
import { migrate } from '../../shared/db.js';

declare module 'vitest' {
  export interface ProvidedContext {
    redisUrl: string;
    databaseUrl: string;
    /** The server's maintenance database, to create databases of one's own from `templateDb`. */
    baseDatabaseUrl: string;
    /** A migrated database nobody connects to: the template of per-stack databases. */
    templateDb: string;
  }
}

const stops: (() => Promise<unknown>)[] = [];

/**
 * Tests run against a real Redis and a real Postgres. With a Docker engine and no REDIS_URL /
 * DATABASE_URL given, testcontainers starts them; otherwise the local servers are used. Missing
 * services fail the run loudly: nothing is skipped.
 */
export async function setup(project: TestProject): Promise<void> {
  let redisUrl = process.env.REDIS_URL;
  let baseDbUrl = process.env.DATABASE_URL;
  if (!redisUrl && !baseDbUrl && existsSync('/var/run/docker.sock') && process.env.TESTCONTAINERS !== '0') {
    const { GenericContainer, Wait } = await import('testcontainers');
    const redis = await new GenericContainer('redis:7-alpine').withExposedPorts(6379).start();
    const postgres = await new GenericContainer('postgres:15-alpine')
      .withEnvironment({ POSTGRES_HOST_AUTH_METHOD: 'trust', POSTGRES_DB: 'test' })
      .withExposedPorts(5432)
      .withWaitStrategy(Wait.forLogMessage(/database system is ready to accept connections/, 2))
      .start();
    stops.push(() => redis.stop(), () => postgres.stop());
    redisUrl = `redis://${redis.getHost()}:${redis.getMappedPort(6379)}`;
    baseDbUrl = `postgres://postgres@${postgres.getHost()}:${postgres.getMappedPort(5432)}/test`;
  }
  redisUrl ??= 'redis://127.0.0.1:6379';
  baseDbUrl ??= 'postgres://postgres@127.0.0.1:5432/test';

  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1, retryStrategy: () => null, lazyConnect: true });
  redis.on('error', () => {});
  try {
    await redis.connect();
    await redis.ping();
  } catch (err) {
    throw new Error(`tests need Redis at ${redisUrl} (set REDIS_URL): ${(err as Error).message}`);
  } finally {
    redis.disconnect();
  }

  // A database of our own per run, so runs never collide; dropped afterwards.
  const dbName = `fs_test_${Date.now()}_${process.pid}`;
  const admin = new pg.Client({ connectionString: baseDbUrl, connectionTimeoutMillis: 3000 });
  try {
    await admin.connect();
  } catch (err) {
    throw new Error(`tests need Postgres at ${baseDbUrl} (set DATABASE_URL): ${(err as Error).message}`);
  }
  await admin.query(`CREATE DATABASE ${dbName}`);
  await admin.end();
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
  stops.push(async () => {
    const c = new pg.Client({ connectionString: baseDbUrl });
    await c.connect();
    const all = await c.query<{ datname: string }>('SELECT datname FROM pg_database WHERE datname LIKE $1', [`${dbName}%`]);
    for (const { datname } of all.rows) await c.query(`DROP DATABASE IF EXISTS ${datname} WITH (FORCE)`);
    await c.end();
  });
  // Without a system Chromium the page tests use @sparticuz/chromium's, which unpacks itself into the
  // temp dir on first use, not atomically: unpack it once here, before test files run side by side.
  if (!process.env.CHROMIUM_PATH && !existsSync('/usr/bin/chromium')) {
    const { default: packaged } = await import('@sparticuz/chromium');
    await packaged.executablePath();
  }
  project.provide('redisUrl', redisUrl);
  project.provide('databaseUrl', databaseUrl);
  project.provide('baseDatabaseUrl', baseDbUrl);
  project.provide('templateDb', templateDb);
}

export async function teardown(): Promise<void> {
  for (const stop of stops.reverse()) await stop().catch(() => {});
}
