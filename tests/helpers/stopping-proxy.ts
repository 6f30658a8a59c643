import type { Socket } from 'node:net';
import { hostname } from 'node:os';
import { TcpProxy } from './tcp-proxy.js';
import { tcpPortsTo } from './own-connections.js';

/**
 * A TCP proxy between processes and Redis that can freeze one of those processes (SIGSTOP) at an exact
 * point of its work: right after forwarding a command of its that matches a pattern, before Redis'
 * answer can reach it. The process then wakes (SIGCONT, by the test) holding what it read just before
 * the stop, which is what a stop at a random moment only rarely gives.
 *
 * A connection is tied to a process by the admitter lease calls it carries: their owner id is
 * `<hostname>:<pid>:...` (Admitter.owner), and the admitter runs on the process's request client. On a
 * Redis Cluster the pools live on other nodes than the lease, reached over other connections that
 * never carry it: a matching command on a connection of unknown process is tied by address instead
 * (the local port of a socket the process holds to this proxy, from /proc).
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

  /** Stops nothing after all (another proxy of a group stopped the process first). */
  disarm(): void {
    this.armed = undefined;
  }

  protected override sent(client: Socket, chunk: Buffer): void {
    const text = chunk.toString('latin1');
    const m = this.owner.exec(text);
    if (m) this.pidOf.set(client, Number(m[1]));
    const a = this.armed;
    if (a && !this.pidOf.has(client) && a.pattern.test(text) && tcpPortsTo([a.pid], this.port).has(client.remotePort!)) this.pidOf.set(client, a.pid);
    if (a && this.pidOf.get(client) === a.pid && a.pattern.test(text)) {
      this.armed = undefined;
      // Synchronously, before this loop can forward Redis' answer: the process stops with its
      // command sent and its answer not yet read.
      process.kill(a.pid, 'SIGSTOP');
      a.stopped(Date.now());
    }
  }
}

/** `stopAfter` on every proxy of a group (one per Cluster node): the first to see the command stops the process. */
export async function stopAfterAny(proxies: StoppingProxy[], pid: number, pattern: RegExp): Promise<number> {
  const at = await Promise.race(proxies.map((p) => p.stopAfter(pid, pattern)));
  for (const p of proxies) p.disarm();
  return at;
}
