import type { ChildProcess } from 'node:child_process';

/**
 * How `npm start` restarts a child that died: after 0.5 s, doubling up to 30 s, and back to 0.5 s once
 * a child has stayed up a minute. A crash loop (Postgres away for ten minutes) then costs a start every
 * 30 s, not a busy loop; one crash in a day costs half a second.
 */
export const RESTART_POLICY = { baseMs: 500, capMs: 30_000, stableAfterMs: 60_000 } as const;

/**
 * Milliseconds before restart number `restart` (1, 2, …): the exponential step with "equal jitter"
 * (between half of it and all of it), so a gateway and a worker that died of the same outage do not
 * come back in the same millisecond, and never sooner than half the step.
 */
export function restartDelay(restart: number, random: () => number = Math.random): number {
  const step = Math.min(RESTART_POLICY.capMs, RESTART_POLICY.baseMs * 2 ** Math.min(Math.max(restart - 1, 0), 20));
  return Math.round(step / 2 + (random() * step) / 2);
}

/**
 * One child process of `npm start`, kept running: when it exits on its own it is started again after
 * `restartDelay`, and the console says so. `stop()` ends it for good.
 */
export class Supervised {
  private child: ChildProcess | undefined;
  private restarts = 0;
  private startedAt = 0;
  private timer: NodeJS.Timeout | undefined;
  private stopping = false;
  /** Set once the first child was ready: only from then on is a death restarted. */
  private supervising = false;

  constructor(
    readonly name: string,
    private readonly launch: () => ChildProcess,
    private readonly say: (line: string) => void,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Starts the first child; resolves once it says it is ready. A first start that fails is not
   * retried (rejects): a wrong configuration does not heal by trying again, and the operator is there.
   */
  start(): Promise<void> {
    const child = this.spawn();
    return new Promise((resolve, reject) => {
      const early = (code: number | null, signal: NodeJS.Signals | null) => {
        reject(new Error(`${this.name} exited with ${describeExit(code, signal)} before it was ready`));
      };
      child.once('exit', early);
      child.once('message', () => {
        child.off('exit', early);
        this.supervising = true;
        resolve();
      });
    });
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Ends the child for good (SIGTERM, so it gives back its leases and finishes its jobs). */
  async stop(): Promise<void> {
    this.stopping = true;
    clearTimeout(this.timer);
    const c = this.child;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    await new Promise((r) => {
      c.once('exit', r);
      c.kill('SIGTERM');
    });
  }

  private spawn(): ChildProcess {
    const child = this.launch();
    this.child = child;
    this.startedAt = this.now();
    child.once('exit', (code, signal) => this.exited(child, code, signal));
    return child;
  }

  private exited(child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (this.stopping || !this.supervising || child !== this.child) return;
    if (this.now() - this.startedAt >= RESTART_POLICY.stableAfterMs) this.restarts = 0;
    this.restarts++;
    const delay = restartDelay(this.restarts);
    const n = this.restarts;
    this.say(`${this.name} exited with ${describeExit(code, signal)}; restarting in ${(delay / 1000).toFixed(1)} s (restart ${n})`);
    this.timer = setTimeout(() => {
      if (this.stopping) return;
      this.spawn().once('message', () => this.say(`${this.name} is back (restart ${n}, pid ${this.child?.pid})`));
    }, delay);
  }
}

function describeExit(code: number | null, signal: NodeJS.Signals | null): string {
  return signal ? `signal ${signal}` : `code ${code}`;
}
