import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { FromWorker, TakeJob, ToWorker } from './take-worker.js';

export interface RoundResult {
  wins: string[];
  losses: number;
  errors: string[];
  elapsedMs: number;
  /** Wall-clock ms (Date.now) of the process's first and last taker, to show the processes overlapped. */
  startedAt: number;
  finishedAt: number;
}

/** True when every process started its takers before any process had finished all of its own. */
export function overlapped(rounds: RoundResult[]): boolean {
  return Math.max(...rounds.map((r) => r.startedAt)) < Math.min(...rounds.map((r) => r.finishedAt));
}

/** Separate OS processes full of concurrent takers, driven over IPC (see take-worker.ts). */
export interface TakerProcesses {
  count: number;
  /** Prepares `jobOf(i)` in process i, waits until every process is ready, then starts them all at once. */
  round(jobOf: (i: number) => TakeJob, timeoutMs?: number): Promise<RoundResult[]>;
  stderr(i: number): string;
  close(): Promise<void>;
}

class Mailbox {
  private readonly queue: FromWorker[] = [];
  private waiter: { resolve: (m: FromWorker) => void; reject: (e: Error) => void } | undefined;
  private gone: Error | undefined;
  err = '';

  constructor(readonly child: ChildProcess, readonly index: number) {
    child.on('message', (m: FromWorker) => {
      if (this.waiter) {
        const w = this.waiter;
        this.waiter = undefined;
        w.resolve(m);
      } else this.queue.push(m);
    });
    child.stderr?.on('data', (d: Buffer) => {
      this.err = (this.err + d.toString()).slice(-20_000);
    });
    child.once('exit', (code, signal) => {
      this.gone = new Error(`taker process ${index} exited (${code ?? signal}): ${this.err}`);
      this.waiter?.reject(this.gone);
      this.waiter = undefined;
    });
  }

  /** The next message of this child, in order; rejects when the child dies or after `timeoutMs`. */
  next(timeoutMs: number): Promise<FromWorker> {
    const queued = this.queue.shift();
    if (queued) return Promise.resolve(queued);
    if (this.gone) return Promise.reject(this.gone);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => {
        this.waiter = undefined;
        reject(new Error(`taker process ${this.index}: no message in ${timeoutMs} ms; stderr: ${this.err}`));
      }, timeoutMs);
      this.waiter = {
        resolve: (m) => { clearTimeout(t); resolve(m); },
        reject: (e) => { clearTimeout(t); reject(e); },
      };
    });
  }

  async expect<T extends FromWorker['type']>(type: T, timeoutMs: number): Promise<Extract<FromWorker, { type: T }>> {
    const m = await this.next(timeoutMs);
    if (m.type === 'failed') throw new Error(`taker process ${this.index} failed: ${m.error}`);
    if (m.type !== type) throw new Error(`taker process ${this.index}: expected ${type}, got ${JSON.stringify(m)}`);
    return m as Extract<FromWorker, { type: T }>;
  }
}

export async function startTakerProcesses(count: number, env: { REDIS_URL: string; REDIS_PREFIX: string; DATABASE_URL: string }): Promise<TakerProcesses> {
  const script = fileURLToPath(new URL('./take-worker.ts', import.meta.url));
  const boxes = Array.from({ length: count }, (_, i) => new Mailbox(
    fork(script, [], {
      execArgv: ['--import', 'tsx'],
      env: { PATH: process.env.PATH, HOME: process.env.HOME, NODE_ENV: 'test', ...env },
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    }),
    i,
  ));
  const post = (b: Mailbox, m: ToWorker) => b.child.send(m);
  try {
    await Promise.all(boxes.map((b) => b.expect('up', 30_000)));
  } catch (err) {
    for (const b of boxes) b.child.kill();
    throw err;
  }
  return {
    count,
    stderr: (i) => boxes[i]!.err,
    round: async (jobOf, timeoutMs = 60_000) => {
      boxes.forEach((b, i) => post(b, { cmd: 'prepare', job: jobOf(i) }));
      await Promise.all(boxes.map((b) => b.expect('ready', timeoutMs)));
      // Every process is connected and idle: start them in the same turn of this event loop.
      for (const b of boxes) post(b, { cmd: 'go' });
      const done = await Promise.all(boxes.map((b) => b.expect('done', timeoutMs)));
      return done.map(({ wins, losses, errors, elapsedMs, startedAt, finishedAt }) => ({ wins, losses, errors, elapsedMs, startedAt, finishedAt }));
    },
    close: async () => {
      await Promise.all(boxes.map((b) => new Promise<void>((resolve) => {
        if (b.child.exitCode !== null || b.child.signalCode !== null) return resolve();
        b.child.once('exit', () => resolve());
        post(b, { cmd: 'exit' });
        // A child that hangs on its way out must not hang the suite.
        setTimeout(() => b.child.kill('SIGKILL'), 5_000).unref();
      })));
    },
  };
}
