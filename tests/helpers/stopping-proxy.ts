import type { Socket } from 'node:net';
import { hostname } from 'node:os';
import { TcpProxy } from './tcp-proxy.js';

/**
 * A TCP proxy between processes and Redis that can freeze one of those processes (SIGSTOP) at an exact
 * point of its work: right after forwarding a command of its that matches a pattern, before Redis'
 * answer can reach it. The process then wakes (SIGCONT, by the test) holding what it read just before
 * the stop, which is what a stop at a random moment only rarely gives.
 *
 * A connection is tied to a process by the admitter lease calls it carries: their owner id is
 * `<hostname>:<pid>:...` (Admitter.owner), and the admitter runs on the process's request client.
 */
export class StoppingProxy extends TcpProxy {
  private readonly pidOf = new Map<Socket, number>();
  private armed: { pid: number; pattern: RegExp; stopped: (at: number) => void } | undefined;
  private readonly owner = new RegExp(`${hostname().replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:(\\d+):[0-9a-f]{8}`);

  /** Stops process `pid` right after it next sends a command matching `pattern`; resolves with when. */
  stopAfter(pid: number, pattern: RegExp): Promise<number> {
    return new Promise((resolve) => {
      this.armed = { pid, pattern, stopped: resolve };
    });
  }

  protected override sent(client: Socket, chunk: Buffer): void {
    const text = chunk.toString('latin1');
    const m = this.owner.exec(text);
    if (m) this.pidOf.set(client, Number(m[1]));
    const a = this.armed;
    if (a && this.pidOf.get(client) === a.pid && a.pattern.test(text)) {
      this.armed = undefined;
      // Synchronously, before this loop can forward Redis' answer: the process stops with its
      // command sent and its answer not yet read.
      process.kill(a.pid, 'SIGSTOP');
      a.stopped(Date.now());
    }
  }
}
