import { readFileSync } from 'node:fs';
import WebSocket from 'ws';
import { afterAll } from 'vitest';
import type { Proc, Stack } from '../helpers/stack.js';
import { useStack, type Buyers } from '../e2e/kit.js';

/**
 * Small steps of the front-door files (not a test file itself): an upgrade that may be refused, read
 * as a client sees it, and the gateway process's memory as the kernel and its own metrics report it.
 */

export type Upgrade =
  | { open: true; ws: WebSocket; status: 101 }
  | { open: false; status: number; body: any };

/** Tries one WebSocket upgrade; resolves when it is open or refused (status and parsed body). */
export function tryUpgrade(url: string): Promise<Upgrade> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.once('open', () => resolve({ open: true, ws, status: 101 }));
    ws.once('unexpected-response', (_req, res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => {
        let body: unknown = text;
        try {
          body = JSON.parse(text);
        } catch {
          // Left as text: the assertion on the body says what came.
        }
        resolve({ open: false, status: res.statusCode ?? 0, body });
      });
    });
    ws.once('error', (err) => reject(err));
  });
}

/** Closes a client socket and resolves once the close handshake is done (the gateway's close handler has run). */
export function closeSocket(ws: WebSocket): Promise<void> {
  if (ws.readyState === WebSocket.CLOSED) return Promise.resolve();
  return new Promise((resolve) => {
    ws.once('close', () => resolve());
    ws.close();
  });
}

/** The resident set size of a process, in bytes (VmRSS of /proc/<pid>/status). */
export function rssBytes(p: Proc): number {
  const status = readFileSync(`/proc/${p.child.pid}/status`, 'utf8');
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(status);
  if (!m) throw new Error(`no VmRSS for pid ${p.child.pid}`);
  return Number(m[1]) * 1024;
}

/** Runs `fn` over `items` by `concurrency` workers (`worker` says which); results in the items' order. */
export async function pooled<T, R>(items: readonly T[], concurrency: number, fn: (item: T, worker: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, async (_, worker) => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!, worker);
    }
  }));
  return out;
}

/**
 * The V8 inspector of a process started with `NODE_OPTIONS=--inspect=127.0.0.1:0` (its address is read
 * from the "Debugger listening on ws://..." line on its stderr): a full GC on demand and the heap in use
 * after it, so memory is compared without the noise of garbage not yet collected.
 */
export class Inspector {
  private id = 0;
  private readonly pending = new Map<number, (result: any) => void>();
  private constructor(private readonly ws: WebSocket) {
    ws.on('message', (d) => {
      const m = JSON.parse(String(d)) as { id?: number; result?: unknown };
      if (m.id !== undefined) this.pending.get(m.id)?.(m.result);
    });
  }

  static async of(p: Proc): Promise<Inspector> {
    const m = /Debugger listening on (ws:\/\/\S+)/.exec(p.stderr());
    if (!m) throw new Error(`pid ${p.child.pid} has no inspector (start it with NODE_OPTIONS=--inspect=127.0.0.1:0)`);
    const ws = new WebSocket(m[1]!);
    await new Promise((res, rej) => (ws.once('open', res), ws.once('error', rej)));
    return new Inspector(ws);
  }

  private call(method: string): Promise<any> {
    const id = ++this.id;
    return new Promise((resolve) => {
      this.pending.set(id, resolve);
      this.ws.send(JSON.stringify({ id, method }));
    });
  }

  /** Runs a full garbage collection, then answers the V8 heap in use, in bytes. */
  async heapAfterGc(): Promise<number> {
    await this.call('HeapProfiler.collectGarbage');
    return (await this.call('Runtime.getHeapUsage')).usedSize as number;
  }

  close(): void {
    this.ws.close();
  }
}

/**
 * A stack whose first gateway runs with its inspector open (a full GC before each memory reading);
 * `set` is given the stack, its buyers and the inspector once they are up.
 */
export function useInspectedStack(set: (stack: Stack, buyers: Buyers, inspector: Inspector) => void): void {
  let inspector: Inspector | undefined;
  useStack(async (s, b) => {
    inspector = await Inspector.of(s.gateways[0]!);
    set(s, b, inspector);
  }, { gatewayEnv: { NODE_OPTIONS: '--inspect=127.0.0.1:0' } });
  afterAll(() => inspector?.close());
}

/** The gateway's /metrics text. */
export async function gatewayMetrics(stack: Stack): Promise<string> {
  return (await fetch(stack.url('/metrics'))).text();
}
