/**
 * One load-generator process of the waiters bench (a child, driven over IPC): it holds up to ~19,000
 * buyers' sockets — a process may not open more files than that here — each of which joins and then
 * only listens. It keeps, per socket, when its last `queued` frame came, so the parent can ask how old
 * every waiting buyer's position is, and how far apart the pushes are. Frames are told apart by their
 * first bytes, not parsed: 100,000 sockets get a position a second, and the herd must not be the
 * bottleneck it measures.
 */
import WebSocket from 'ws';
import { mintBuyerToken } from '../../shared/buyer-token.js';
import { msHistogram, record, toSparse, type SparseHistogram } from './ms-histogram.js';

export type ToHerd =
  | { cmd: 'connect'; wsUrl: string; secret: string; ids: string[]; sources: string[]; inFlight: number }
  | { cmd: 'measure' }
  | { cmd: 'sample' }
  | { cmd: 'close' };

export type FromHerd =
  | { type: 'ready' }
  | { type: 'progress'; open: number; queued: number; failed: number }
  | { type: 'connected'; open: number; queued: number; failed: number; errors: string[]; joinToQueued: SparseHistogram; closes: Record<string, number> }
  /** Ages (now − last `queued` frame) of every socket still waiting; pushes and gaps since `measure`. */
  | { type: 'sample'; waiting: number; ages: SparseHistogram; gaps: SparseHistogram; positionFrames: number; admitted: number; errorFrames: number; errorCodes: Record<string, number>; closes: Record<string, number> }
  | { type: 'closed' }
  | { type: 'failed'; error: string };

// A socket's state; 0, a new Uint8Array's fill, is "not open yet".
const OPEN = 1;
const QUEUED = 2;
/** Admitted, expired, sold out, or closed: no longer waiting. */
const DONE = 3;

const post = (m: FromHerd) => process.send!(m);
const withToken = (url: string, token: string) => `${url}${url.includes('?') ? '&' : '?'}token=${encodeURIComponent(token)}`;
// `{"type":"` is 9 bytes: the next byte names the frame.
const TYPE_AT = 9;
const PREFIX = Buffer.from('{"type":"');

let sockets: WebSocket[] = [];
let state = new Uint8Array(0);
let joinSentAt = new Float64Array(0);
let lastQueuedAt = new Float64Array(0);
/** While measuring: when the socket's previous push came (0 = none since `measure`). */
let gapFrom = new Float64Array(0);
let joinToQueued = msHistogram();
let gaps = msHistogram();
let measuring = false;
let positionFrames = 0;
let admitted = 0;
let errorFrames = 0;
/** Error frames of the measured window by code (what a waiter was refused tells why). */
let errorCodes: Record<string, number> = {};
/** Sockets the herd did not close itself, by close code (a gateway that drops waiters shows here). */
const closes: Record<string, number> = {};
let closing = false;

function onFrame(i: number, data: Buffer): void {
  const now = performance.timeOrigin + performance.now();
  let kind: string;
  if (data.length > TYPE_AT + 1 && data.subarray(0, TYPE_AT).equals(PREFIX)) kind = String.fromCharCode(data[TYPE_AT]!, data[TYPE_AT + 1]!);
  else kind = String((JSON.parse(String(data)) as { type: string }).type).slice(0, 2);
  switch (kind) {
    case 'qu': // queued
      if (state[i] === OPEN) record(joinToQueued, now - joinSentAt[i]!);
      if (state[i] === DONE) return;
      if (measuring && state[i] === QUEUED) {
        if (gapFrom[i]! > 0) record(gaps, now - gapFrom[i]!);
        gapFrom[i] = now;
        positionFrames++;
      }
      state[i] = QUEUED;
      lastQueuedAt[i] = now;
      return;
    case 'ad': // admitted: no longer waiting; the hold simply expires
      if (state[i] !== DONE) admitted++;
      state[i] = DONE;
      return;
    case 'so': // sold_out
    case 'ho': // hold_expired
      state[i] = DONE;
      return;
    case 'er': // error: a join refused for now is sent again a moment later
      errorFrames++;
      if (measuring) {
        const code = String((JSON.parse(String(data)) as { code?: string }).code);
        errorCodes[code] = (errorCodes[code] ?? 0) + 1;
      }
      if (state[i] === OPEN) setTimeout(() => sockets[i]?.readyState === WebSocket.OPEN && sockets[i].send('{"type":"join"}'), 500 + Math.random() * 1000);
      return;
  }
}

async function connect(m: Extract<ToHerd, { cmd: 'connect' }>): Promise<void> {
  const n = m.ids.length;
  sockets = new Array(n);
  state = new Uint8Array(n);
  joinSentAt = new Float64Array(n);
  lastQueuedAt = new Float64Array(n);
  gapFrom = new Float64Array(n);
  joinToQueued = msHistogram();
  let failed = 0;
  const errors: string[] = [];
  const count = (s: number) => state.reduce((a, x) => a + (x === s ? 1 : 0), 0);
  const progress = setInterval(() => post({ type: 'progress', open: count(OPEN) + count(QUEUED), queued: count(QUEUED), failed }), 1000);
  let next = 0;
  const lane = async () => {
    while (next < n) {
      const i = next++;
      const url = withToken(m.wsUrl, await mintBuyerToken(m.secret, m.ids[i]!));
      let ws: WebSocket | undefined;
      // A refused or reset handshake under a burst is retried, as a browser would reconnect.
      for (let attempt = 0; attempt < 4 && !ws; attempt++) {
        if (attempt > 0) await new Promise((r) => setTimeout(r, 200 * attempt));
        const w = new WebSocket(url, { localAddress: m.sources[i % m.sources.length], perMessageDeflate: false, handshakeTimeout: 30_000 });
        w.on('error', (err) => errors.length < 5 && errors.push(err.message));
        if (await new Promise<boolean>((r) => {
          w.once('open', () => r(true));
          w.once('close', () => r(false));
        })) ws = w;
      }
      if (!ws) {
        failed++;
        continue;
      }
      sockets[i] = ws;
      state[i] = OPEN;
      ws.on('message', (data: Buffer) => onFrame(i, data));
      ws.on('close', (code) => {
        state[i] = DONE;
        if (!closing) closes[code] = (closes[code] ?? 0) + 1;
      });
      joinSentAt[i] = performance.timeOrigin + performance.now();
      ws.send('{"type":"join"}');
    }
  };
  await Promise.all(Array.from({ length: m.inFlight }, lane));
  // Every opened socket answered (queued) or gave up: joins are answered within seconds.
  const until = Date.now() + 60_000;
  while (count(OPEN) > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 200));
  clearInterval(progress);
  post({ type: 'connected', open: count(OPEN) + count(QUEUED), queued: count(QUEUED), failed, errors, joinToQueued: toSparse(joinToQueued), closes });
}

/** From now on, count pushes, their intervals, admissions and errors (the measured window). */
function startMeasuring(): void {
  measuring = true;
  gaps = msHistogram();
  gapFrom.fill(0);
  positionFrames = 0;
  admitted = 0;
  errorFrames = 0;
  errorCodes = {};
}

function sample(): void {
  const now = performance.timeOrigin + performance.now();
  const ages = msHistogram();
  let waiting = 0;
  for (let i = 0; i < state.length; i++) {
    if (state[i] !== QUEUED) continue;
    waiting++;
    record(ages, now - lastQueuedAt[i]!);
  }
  post({ type: 'sample', waiting, ages: toSparse(ages), gaps: toSparse(gaps), positionFrames, admitted, errorFrames, errorCodes, closes });
}

async function close(): Promise<void> {
  closing = true;
  await Promise.all(sockets.map((ws) => ws && new Promise<void>((r) => {
    if (ws.readyState === WebSocket.CLOSED) return r();
    ws.once('close', () => r());
    ws.terminate();
  })));
  sockets = [];
  closing = false;
  for (const k of Object.keys(closes)) delete closes[k];
  post({ type: 'closed' });
}

process.on('message', (m: ToHerd) => {
  const run = m.cmd === 'connect' ? connect(m)
    : m.cmd === 'measure' ? Promise.resolve(startMeasuring())
    : m.cmd === 'sample' ? Promise.resolve(sample())
    : close();
  run.catch((err: Error) => post({ type: 'failed', error: err.stack ?? String(err) }));
});
// The parent's exit (or a crash of it) ends the herd too.
process.on('disconnect', () => process.exit(0));
post({ type: 'ready' });
