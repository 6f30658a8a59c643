import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort } from './infra.js';
import { startRedisServer } from './redis-server-process.js';

/**
 * A redis-server of one's own: the faults a chaos test causes (kill -9, a restart from an old
 * snapshot, FLUSHALL) hit only it, never the shared Redis other sessions and files use, and a bench's
 * memory figures count no one else's keys.
 * It runs in the foreground as our child (`--daemonize no`), on a free port, with a temp `--dir` of
 * its own; nothing is persisted unless the test asks (`SAVE`), and a restart loads what was saved.
 */
export class PrivateRedis {
  private child: ChildProcess | undefined;
  private dir = '';
  port = 0;
  private own: Redis | undefined;

  /** A client for the caller's own commands (SAVE, FLUSHALL, inspection), made on first use; reconnects after restarts. */
  get client(): Redis {
    if (!this.own) {
      this.own = new Redis(this.url, { maxRetriesPerRequest: 2, retryStrategy: (n) => Math.min(50 * n, 500) });
      this.own.on('error', () => {});
    }
    return this.own;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  get dumpPath(): string {
    return join(this.dir, 'dump.rdb');
  }

  async start(): Promise<this> {
    this.dir = await mkdtemp(join(tmpdir(), 'fs-chaos-redis-'));
    this.port = await freePort();
    await this.spawn();
    return this;
  }

  private async spawn(): Promise<void> {
    this.child = await startRedisServer(this.port, ['--dir', this.dir, '--dbfilename', 'dump.rdb']);
  }

  /** SAVE: the snapshot a later `restart()` comes back from. Returns the RDB's size in bytes. */
  async save(): Promise<number> {
    await this.client.call('SAVE');
    return (await stat(this.dumpPath)).size;
  }

  /** kill -9: the server dies mid-write with everything since the last SAVE. */
  kill9(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
    return new Promise((r) => {
      child.once('exit', () => r());
      child.kill('SIGKILL');
    });
  }

  /** Starts the server again on the same port and dir: it loads the last SAVE's snapshot, if any. */
  async restart(): Promise<void> {
    if (this.child) await this.kill9();
    await this.spawn();
  }

  /** The server's run id (changes on every restart: one of the guard's signs of a lost Redis). */
  async runId(): Promise<string> {
    const info = await this.client.info('server');
    return /run_id:(\w+)/.exec(info)?.[1] ?? '';
  }

  async stop(): Promise<void> {
    this.own?.disconnect();
    await this.kill9();
    if (this.dir) await rm(this.dir, { recursive: true, force: true });
  }
}
