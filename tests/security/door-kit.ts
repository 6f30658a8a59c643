import { readFileSync } from 'node:fs';
import WebSocket from 'ws';
import type { Proc } from '../helpers/stack.js';

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
