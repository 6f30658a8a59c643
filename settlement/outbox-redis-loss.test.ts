import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDb, type Db } from '../shared/db.js';
import { createRedis, type RedisClient } from '../shared/redis.js';
import { freePort } from '../loadtest/bench/infra.js';
import { isolatedDatabase, silentLog, testPrefix } from '../tests/helpers/env.js';
import { OutboxRelay, eventKey, orderEventsStream } from './outbox-relay.js';
import { OrderEventConsumer } from './order-events.js';

// Order events already handed to the Redis stream, then lost with Redis' data: a real loss, on a
// redis-server of this file's own — SAVE, more events, kill -9, restart from the RDB — and a FLUSHALL.

/** A redis-server of our own, snapshotting only when told (SAVE), so a restart loads exactly that snapshot. */
class PrivateRedis {
  private child: ChildProcess | undefined;
  private constructor(readonly port: number, readonly dir: string) {}

  static async start(): Promise<PrivateRedis> {
    const r = new PrivateRedis(await freePort(), await mkdtemp(join(tmpdir(), 'fs-outbox-redis-')));
    await r.run();
    return r;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async run(): Promise<void> {
    this.child = spawn('redis-server', ['--port', String(this.port), '--bind', '127.0.0.1', '--dir', this.dir, '--dbfilename', 'x.rdb', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    const failed = new Promise<never>((_, reject) => this.child!.once('error', (e) => reject(new Error(`redis-server could not start: ${e.message}`))));
    await Promise.race([failed, this.ready()]);
  }

  private async ready(): Promise<void> {
    for (let i = 0; ; i++) {
      const probe = new Redis(this.port, '127.0.0.1', { lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
      probe.on('error', () => {});
      try {
        await probe.connect();
        if ((await probe.ping()) === 'PONG') return;
      } catch {
        if (i > 200) throw new Error(`redis-server on ${this.port} not ready`);
      } finally {
        probe.disconnect();
      }
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  /** The process dies at once: whatever was written after the last SAVE is gone. */
  async kill9(): Promise<void> {
    const child = this.child!;
    if (child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((r) => {
      child.once('exit', () => r());
      child.kill('SIGKILL');
    });
  }

  async close(): Promise<void> {
    await this.kill9();
    await rm(this.dir, { recursive: true, force: true });
  }
}

let server: PrivateRedis;
let redis: RedisClient;
let db: Db;
const prefix = testPrefix();
const stream = orderEventsStream(prefix);
let made = 0;

beforeAll(async () => {
  server = await PrivateRedis.start();
  redis = createRedis(server.url, { name: 'outbox-loss' });
  // A database of this file's own: the relay works on the whole outbox table.
  db = createDb(await isolatedDatabase(), 4);
});
afterAll(async () => {
  redis?.disconnect();
  await db?.end();
  await server?.close();
});

/** `n` order events written to the outbox, as the order transaction writes them; returns their keys. */
async function events(n: number): Promise<string[]> {
  const ids = Array.from({ length: n }, () => `ord_loss_${++made}`);
  await db.query(
    `INSERT INTO outbox (event_type, aggregate_id, payload) SELECT 'order.created', id, jsonb_build_object('orderId', id) FROM unnest($1::text[]) AS id`,
    [ids],
  );
  return ids.map((id) => eventKey('order.created', id));
}

/** Runs relay passes as the worker's loop does, until one has nothing to do; returns what they reported. */
async function relayUntilIdle(): Promise<number[]> {
  const relay = new OutboxRelay(db, redis, prefix, silentLog);
  const passes: number[] = [];
  for (let n; (n = await relay.pump(10)) > 0;) passes.push(n);
  return passes;
}

const handled = new Map<string, number>();
const consumer = () => new OrderEventConsumer(redis, prefix, 'fulfilment', 'c1', async (e) => void handled.set(e.key, (handled.get(e.key) ?? 0) + 1));

async function drain(): Promise<void> {
  const c = consumer();
  for (;;) {
    const r = await c.poll(50);
    if (r.handled + r.duplicates === 0) return;
  }
}

const publishedRows = async () => Number((await db.query('SELECT count(*) AS n FROM outbox WHERE published_at IS NOT NULL')).rows[0].n);

async function restartFromSnapshot(): Promise<void> {
  redis.disconnect();
  await server.kill9();
  await server.run();
  redis = createRedis(server.url, { name: 'outbox-loss' });
}

describe('order events handed to the stream, then lost with Redis\' data', () => {
  it('Redis restarts from an older snapshot: the relay notices before it appends anything, publishes the lost events again, the consumer misses none', async () => {
    await consumer().ensureGroup();
    const before = await events(10);
    expect((await relayUntilIdle()).reduce((a, b) => a + b, 0)).toBe(10);
    await drain();
    await redis.save();

    // Published and marked published after the snapshot: these are what the restart loses.
    const lost = await events(15);
    expect((await relayUntilIdle()).reduce((a, b) => a + b, 0)).toBe(15);
    expect(await redis.xlen(stream)).toBe(25);
    await restartFromSnapshot();
    expect(await redis.xlen(stream)).toBe(10);
    expect(await publishedRows()).toBe(25);

    // New orders arrive before any relay pass: appending them first would hide the loss for good.
    const after = await events(3);
    const passes = await relayUntilIdle();
    await drain();
    expect([...lost, ...after].filter((k) => !handled.has(k)), 'events the consumer never got').toEqual([]);
    expect(new Set(handled.keys())).toEqual(new Set([...before, ...lost, ...after]));
    // First the 15 lost rows were put back, then 18 rows went out (the 15 and the 3 new ones).
    expect(passes[0]).toBe(15);
    expect(passes.slice(1).reduce((a, b) => a + b, 0)).toBe(18);
    expect(await redis.xlen(stream)).toBe(28);
    expect(await publishedRows()).toBe(28);
    // The consumer's own record of what it handled survived in the snapshot for the first 10: no event twice.
    expect([...handled.values()].every((n) => n === 1)).toBe(true);
    // Nothing lost now: a pass neither appends nor puts anything back.
    expect(await relayUntilIdle()).toEqual([]);
    expect(await redis.xlen(stream)).toBe(28);
  });

  it('FLUSHALL: the stream is gone, so everything recorded is published again; the consumer gets its group back and misses none', async () => {
    const more = await events(4);
    expect((await relayUntilIdle()).reduce((a, b) => a + b, 0)).toBe(4);
    await redis.flushall();
    const passes = await relayUntilIdle();
    await drain();
    expect(passes[0]).toBe(32);
    expect(await redis.xlen(stream)).toBe(32);
    // At least once: every event reached the consumer (those it had seen before come again, its record
    // of them went with the flush; a consumer keeping that record in its own database skips them).
    expect(handled.size).toBe(32);
    for (const key of more) expect(handled.get(key)).toBeGreaterThanOrEqual(1);
    expect(await relayUntilIdle()).toEqual([]);
  });
});
