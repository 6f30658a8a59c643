import { spawn } from 'node:child_process';
import { createServer, type Server, type Socket } from 'node:net';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { createDb } from './db.js';
import { createRedis, reconnectDelay, REDIS_DEFAULTS, type RedisClient } from './redis.js';
import { databaseUrl, redisUrl, silentLog } from '../tests/helpers/env.js';

// The clients of shared/ survive their connection being cut under them. Each test cuts only a
// connection it opened itself (its own backend pid, its own Redis client id): Postgres and Redis are
// shared with other test files.
const closers: (() => Promise<unknown> | void)[] = [];
afterAll(async () => {
  for (const close of closers.reverse()) await within(5000, Promise.resolve(close()), 'close').catch(() => {});
});

function within<T>(ms: number, p: Promise<T>, what: string): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  return Promise.race([p, new Promise<never>((_, rej) => (t = setTimeout(() => rej(new Error(`${what} in ${ms} ms`)), ms)))]).finally(() => clearTimeout(t));
}

async function terminateBackend(pid: number): Promise<void> {
  const admin = new pg.Client({ connectionString: databaseUrl() });
  await admin.connect();
  try {
    const r = await admin.query<{ ok: boolean }>('SELECT pg_terminate_backend($1) AS ok', [pid]);
    expect(r.rows[0]?.ok).toBe(true);
  } finally {
    await admin.end();
  }
}

describe('createDb', () => {
  it('a checked-out client whose backend is terminated between queries does not crash the process', async () => {
    const db = createDb(databaseUrl(), 2, undefined, silentLog);
    closers.push(() => db.end());
    const c = await db.connect();
    // Idle in checkout: no query in flight, the pool's own idle listener detached. Without an 'error'
    // listener of the client's own, `terminating connection due to administrator command` is thrown
    // as an uncaught exception here, and vitest fails the file.
    // Waits on 'end', not 'error': a listener of the test's own on 'error' would hide a missing one.
    const ended = new Promise<void>((resolve) => c.once('end', () => resolve()));
    await terminateBackend((c as unknown as { processID: number }).processID);
    // (Without the listener the throw cuts pg's handling short and 'end' never comes.)
    await within(5000, ended, 'the client did not see its connection end');
    await expect(c.query('SELECT 1')).rejects.toThrow();
    c.release(new Error('connection lost'));
    // The pool discarded the broken client and hands out working ones.
    expect((await db.query<{ n: number }>('SELECT 1 AS n')).rows).toEqual([{ n: 1 }]);
    expect(db.totalCount).toBeLessThanOrEqual(2);
  });

  it('a query in flight when its backend is terminated rejects, and the pool recovers', async () => {
    const db = createDb(databaseUrl(), 1, undefined, silentLog);
    closers.push(() => db.end());
    const c = await db.connect();
    const pid = (c as unknown as { processID: number }).processID;
    c.release();
    const slow = db.query('SELECT pg_sleep(5)').then(() => null, (err: Error) => err);
    await new Promise((r) => setTimeout(r, 200));
    await terminateBackend(pid);
    expect((await slow)?.message).toMatch(/terminating connection|Connection terminated/);
    expect((await db.query<{ n: number }>('SELECT 1 AS n')).rows).toEqual([{ n: 1 }]);
  });
});

describe('createRedis', () => {
  const own = (c: RedisClient) => {
    closers.push(() => c.disconnect());
    return c;
  };

  it('reconnects by itself after its connection is killed, and keeps working', async () => {
    const c = own(createRedis(redisUrl(), { name: 'test-lost-conn', log: silentLog }));
    const id = Number(await c.client('ID'));
    const killer = own(createRedis(redisUrl(), { name: 'test-lost-conn-killer', log: silentLog }));
    await killer.client('KILL', 'ID', String(id));
    // ioredis notices the close, reconnects with backoff and resends: the next command just works.
    expect(await c.ping()).toBe('PONG');
    expect(Number(await c.client('ID'))).not.toBe(id);
  });

  it('a request client gives up on an unanswered command after its timeout; a subscriber client has none', async () => {
    // A server that accepts and never answers: a connection that died without a FIN looks the same.
    const sockets: Socket[] = [];
    const silent: Server = createServer((s) => void sockets.push(s));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    closers.push(() => new Promise((r) => {
      silent.close(r);
      for (const s of sockets) s.destroy();
    }));
    const port = (silent.address() as { port: number }).port;
    const c = own(createRedis(`redis://127.0.0.1:${port}`, { commandTimeoutMs: 200, log: silentLog }));
    const began = Date.now();
    await expect(c.ping()).rejects.toThrow(/Command timed out/);
    expect(Date.now() - began).toBeLessThan(2000);
    const sub = own(createRedis(`redis://127.0.0.1:${port}`, { subscriber: true, log: silentLog }));
    expect((sub as unknown as { options: { commandTimeout?: number; maxRetriesPerRequest: unknown } }).options).toMatchObject({ maxRetriesPerRequest: null });
    expect((sub as unknown as { options: { commandTimeout?: number } }).options.commandTimeout).toBeUndefined();
  });

  it('the reconnect delay grows from the base to the cap, with jitter, and never gives up', () => {
    const mid = () => 0.5;
    expect(reconnectDelay(1, mid)).toBe(REDIS_DEFAULTS.reconnectBaseMs);
    expect(reconnectDelay(2, mid)).toBe(REDIS_DEFAULTS.reconnectBaseMs * 2);
    expect(reconnectDelay(1000, mid)).toBe(REDIS_DEFAULTS.reconnectCapMs);
    for (let times = 1; times < 10_000; times *= 3) {
      for (const r of [0, 0.999]) {
        const d = reconnectDelay(times, () => r);
        expect(d).toBeGreaterThan(0);
        expect(d).toBeLessThanOrEqual(REDIS_DEFAULTS.reconnectCapMs * 1.25);
      }
    }
  });
});

describe('survivesConnectionLoss', () => {
  /** Runs a process that installs the handler and then leaves `reason` rejected with nobody waiting. */
  function runWith(reason: string): Promise<{ code: number | null; out: string }> {
    const script = `
      import { survivesConnectionLoss } from ${JSON.stringify(new URL('./process.ts', import.meta.url).pathname)};
      import { createLogger } from ${JSON.stringify(new URL('./logger.ts', import.meta.url).pathname)};
      survivesConnectionLoss(createLogger('t'));
      void Promise.reject(${reason});
      setTimeout(() => { console.log('still running'); process.exit(0); }, 300);`;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    return new Promise((resolve) => child.once('exit', (code) => resolve({ code, out })));
  }

  it('a rejection from a lost connection nobody awaited is logged and the process carries on', async () => {
    const r = await runWith(`Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' })`);
    expect(r.code, r.out).toBe(0);
    expect(r.out).toContain('still running');
    expect(r.out).toContain('nobody awaited it');
  });

  it('any other unhandled rejection is a bug: logged, and the process exits 1 for its supervisor to restart', async () => {
    const r = await runWith(`new TypeError('x is not a function')`);
    expect(r.code, r.out).toBe(1);
    expect(r.out).not.toContain('still running');
    expect(r.out).toContain('unhandled promise rejection');
  });
});
