import { EventEmitter } from 'node:events';
import type { ChildProcess } from 'node:child_process';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { RESTART_POLICY, restartDelay, Supervised } from './supervisor.js';

describe('restartDelay', () => {
  it('starts at half a second, doubles up to 30 s, with jitter between half a step and a whole one', () => {
    expect(restartDelay(1, () => 1)).toBe(500);
    expect(restartDelay(2, () => 1)).toBe(1000);
    expect(restartDelay(3, () => 0)).toBe(1000);
    expect(restartDelay(7, () => 1)).toBe(RESTART_POLICY.capMs);
    expect(restartDelay(10_000, () => 1)).toBe(RESTART_POLICY.capMs);
    expect(restartDelay(10_000, () => 0)).toBe(RESTART_POLICY.capMs / 2);
  });
});

/** A stand-in child process: an emitter with the fields Supervised reads. */
class FakeChild extends EventEmitter {
  exitCode: number | null = null;
  signalCode: NodeJS.Signals | null = null;
  static next = 1000;
  pid = FakeChild.next++;
  kill(signal: NodeJS.Signals = 'SIGTERM'): boolean {
    this.die(null, signal);
    return true;
  }
  die(code: number | null, signal: NodeJS.Signals | null = null): void {
    this.exitCode = code;
    this.signalCode = signal;
    this.emit('exit', code, signal);
  }
}

describe('Supervised', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  function supervise() {
    vi.useFakeTimers();
    const launched: FakeChild[] = [];
    const lines: string[] = [];
    const s = new Supervised('gateway', () => {
      const c = new FakeChild();
      launched.push(c);
      // Ready on the next turn, as a real child says so over IPC.
      queueMicrotask(() => c.emit('message', { ready: true }));
      return c as unknown as ChildProcess;
    }, (l) => lines.push(l), () => Date.now());
    return { s, launched, lines };
  }

  it('restarts a child that dies, backing off, and starts over once a child stayed up a minute', async () => {
    const { s, launched, lines } = supervise();
    await s.start();
    for (let i = 1; i <= 3; i++) {
      launched.at(-1)!.die(1);
      expect(lines.at(-1)).toMatch(new RegExp(`^gateway exited with code 1; restarting in \\d+\\.\\d s \\(restart ${i}\\)$`));
      await vi.advanceTimersByTimeAsync(restartDelay(i, () => 1));
      expect(launched).toHaveLength(i + 1);
    }
    await vi.advanceTimersByTimeAsync(RESTART_POLICY.stableAfterMs);
    launched.at(-1)!.die(null, 'SIGKILL');
    expect(lines.at(-1)).toMatch(/^gateway exited with signal SIGKILL; restarting in 0\.\d s \(restart 1\)$/);
    await s.stop();
  });

  it('stop() ends the child for good: its exit is not a crash, and a pending restart is called off', async () => {
    const { s, launched, lines } = supervise();
    await s.start();
    launched[0]!.die(1);
    await s.stop();
    await vi.advanceTimersByTimeAsync(RESTART_POLICY.capMs);
    expect(launched).toHaveLength(1);
    expect(lines).toHaveLength(1);
  });

  it('a first start that fails is reported, not retried', async () => {
    vi.useFakeTimers();
    const s = new Supervised('settlement worker', () => {
      const c = new FakeChild();
      queueMicrotask(() => c.die(1));
      return c as unknown as ChildProcess;
    }, () => {});
    await expect(s.start()).rejects.toThrow('settlement worker exited with code 1 before it was ready');
  });
});
