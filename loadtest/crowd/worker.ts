/**
 * One worker thread of a load run. Sockets are spread over threads (one event loop cannot keep tens
 * of thousands of sockets and their JSON busy) and over loopback source addresses (each gives ~28k
 * ephemeral ports towards one server port). Two modes:
 *   crowd   — buyers with a plan (pay, decline, abandon, leave), from arrival to an outcome;
 *   sockets — phases driven by the main thread: connect all, send one frame on all at once and time
 *             the answers, close all (the gateway-joins and memory benches, and their echo baseline).
 */
import { parentPort, threadId } from 'node:worker_threads';
import WebSocket from 'ws';
import { mintBuyerToken } from '../../shared/buyer-token.js';
import { CrowdBuyer, type Plan } from './buyer.js';
import type { BuyerResult } from './stats.js';

export interface CrowdJob {
  mode: 'crowd';
  /** ws://host:port/v1/sales/ID/ws, one per gateway — the token is appended per buyer. */
  wsUrls: string[];
  secret: string;
  /** `gateway`: index into wsUrls of the buyer's first session. */
  buyers: { id: string; plan: Plan; startAt: number; localAddress: string; gateway: number }[];
  deadline: number;
  /** reconnect-storm: epoch ms at which every open socket of this thread is dropped. */
  stormAt?: number;
  /** reconnect-storm: at least this long after the last buyer of the thread joined. */
  stormAfterMs?: number;
  keepFrames?: boolean;
}

export interface SocketsJob {
  mode: 'sockets';
  wsUrl: string;
  /** When set, each socket is a buyer with a minted token (the gateway); else a bare socket (echo). */
  secret?: string;
  ids: string[];
  localAddresses: string[];
}

export type ToThread = CrowdJob | SocketsJob | { cmd: 'send'; text: string; answer: string; timeoutMs: number } | { cmd: 'close' } | { cmd: 'go'; shiftMs: number };

export type FromThread =
  | { type: 'progress'; connected: number; joined: number; finished: number }
  | { type: 'crowd-ready' }
  | { type: 'crowd-done'; threadId: number; results: BuyerResult[] }
  | { type: 'connected'; threadId: number; connectMs: number[]; failed: number; errors: string[]; localAddresses: string[] }
  | { type: 'answered'; latencies: number[]; firstSentAt: number; lastAnsweredAt: number; missing: number }
  | { type: 'closed' }
  | { type: 'failed'; error: string };

const post = (m: FromThread) => parentPort!.postMessage(m);
/** A clock shared by every thread: epoch milliseconds with sub-millisecond resolution. */
export const epochMs = () => performance.timeOrigin + performance.now();
const withToken = (url: string, token: string) => `${url}${url.includes('?') ? '&' : '?'}token=${encodeURIComponent(token)}`;

/** The main thread's go, once every thread has its tokens: every planned time moves by shiftMs. */
let go: ((shiftMs: number) => void) | undefined;

async function crowd(job: CrowdJob): Promise<void> {
  const tokens = await Promise.all(job.buyers.map((b) => mintBuyerToken(job.secret, b.id)));
  // A slow thread start (a loaded machine) must not eat into the plan: arrivals are timed from the
  // go, which comes once every thread is ready (a pre-queue's start is set then).
  const shiftMs = await new Promise<number>((r) => {
    go = r;
    post({ type: 'crowd-ready' });
  });
  job.deadline += shiftMs;
  if (job.stormAt !== undefined) job.stormAt += shiftMs;
  const buyers = job.buyers.map((b, i) => new CrowdBuyer({ ...b, startAt: b.startAt + shiftMs, token: '' }, job.wsUrls.map((u) => withToken(u, tokens[i]!)), job.keepFrames));
  const progress = setInterval(() => post({
    type: 'progress', connected: buyers.filter((b) => b.connected).length, joined: buyers.filter((b) => b.result.joined).length, finished: buyers.filter((b) => b.finished).length,
  }), 250);
  // The storm hits once every buyer of this thread has a place (or an outcome) and the planned moment
  // has come: on a slow machine the crowd may still be arriving at the planned moment, and dropping
  // sockets that never joined tests nothing.
  let joinedAt = 0;
  const storm = job.stormAt === undefined ? undefined : setInterval(() => {
    if (joinedAt === 0 && buyers.every((b) => b.result.joined || b.finished)) joinedAt = Date.now();
    if (joinedAt > 0 && Date.now() >= Math.max(job.stormAt!, joinedAt + (job.stormAfterMs ?? 0))) {
      clearInterval(storm);
      buyers.forEach((b) => b.drop());
    }
  }, 50);
  const giveUp = setTimeout(() => buyers.forEach((b) => b.abort()), Math.max(0, job.deadline - Date.now()));
  await Promise.all(buyers.map((b) => b.run(job.deadline)));
  clearInterval(progress);
  clearTimeout(giveUp);
  if (storm) clearInterval(storm);
  post({ type: 'crowd-done', threadId, results: buyers.map((b) => b.result) });
}

let sockets: WebSocket[] = [];
const IN_FLIGHT = 200;

async function connectAll(job: SocketsJob): Promise<void> {
  const urls = job.secret ? await Promise.all(job.ids.map(async (id) => withToken(job.wsUrl, await mintBuyerToken(job.secret!, id)))) : job.ids.map(() => job.wsUrl);
  const connectMs: number[] = [];
  const used = new Set<string>();
  let failed = 0;
  let next = 0;
  const errors: string[] = [];
  // A bounded number of handshakes in flight: a SYN flood of 10,000 at once measures the kernel's
  // backlog, not the server.
  const lane = async () => {
    while (next < urls.length) {
      const i = next++;
      const t0 = performance.now();
      let ws: WebSocket | undefined;
      // A refused or reset handshake under a burst is retried, as a browser would reconnect; only a
      // socket that fails three times counts as failed.
      for (let attempt = 0; attempt < 3 && !ws; attempt++) {
        if (attempt > 0) await new Promise((r) => setTimeout(r, 100 * attempt));
        const w = new WebSocket(urls[i]!, { localAddress: job.localAddresses[i % job.localAddresses.length], perMessageDeflate: false });
        const ok = await new Promise<boolean>((r) => {
          w.once('open', () => r(true));
          w.once('error', (err) => {
            if (errors.length < 3) errors.push(err.message);
            r(false);
          });
        });
        if (ok) ws = w;
      }
      if (!ws) {
        failed++;
        continue;
      }
      connectMs.push(performance.now() - t0);
      used.add((ws as unknown as { _socket: { localAddress: string } })._socket.localAddress);
      sockets.push(ws);
    }
  };
  await Promise.all(Array.from({ length: IN_FLIGHT }, lane));
  post({ type: 'connected', threadId, connectMs, failed, errors, localAddresses: [...used].sort() });
}

function sendAll(text: string, answer: string, timeoutMs: number): void {
  const latencies: number[] = [];
  let lastAnsweredAt = 0;
  let pending = sockets.length;
  const done = () => post({ type: 'answered', latencies, firstSentAt, lastAnsweredAt, missing: sockets.length - latencies.length });
  const timer = setTimeout(done, timeoutMs);
  const firstSentAt = epochMs();
  for (const ws of sockets) {
    const sentAt = performance.now();
    const onMessage = (data: WebSocket.RawData) => {
      if (!String(data).includes(`"type":"${answer}"`)) return;
      ws.off('message', onMessage);
      latencies.push(performance.now() - sentAt);
      lastAnsweredAt = epochMs();
      if (--pending === 0) {
        clearTimeout(timer);
        done();
      }
    };
    ws.on('message', onMessage);
    ws.send(text);
  }
}

async function closeAll(): Promise<void> {
  await Promise.all(sockets.map((ws) => new Promise<void>((r) => {
    if (ws.readyState === WebSocket.CLOSED) return r();
    ws.once('close', () => r());
    ws.terminate();
  })));
  sockets = [];
  post({ type: 'closed' });
}

parentPort!.on('message', (m: ToThread) => {
  if ('cmd' in m && m.cmd === 'go') return go?.(m.shiftMs);
  const run = 'mode' in m ? (m.mode === 'crowd' ? crowd(m) : connectAll(m)) : m.cmd === 'send' ? Promise.resolve(sendAll(m.text, m.answer, m.timeoutMs)) : closeAll();
  run.catch((err: Error) => post({ type: 'failed', error: err.stack ?? String(err) }));
});
