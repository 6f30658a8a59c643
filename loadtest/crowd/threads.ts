import { Worker } from 'node:worker_threads';
import type { Plan } from './buyer.js';
import type { BuyerResult } from './stats.js';
import type { CrowdJob, FromThread, SocketsJob, ToThread } from './worker.js';

/** Main-thread side of the worker threads: start them, hand out work, gather what they report. */
class Thread {
  readonly worker = new Worker(new URL('./worker-entry.mjs', import.meta.url));
  private readonly inbox: FromThread[] = [];
  private waiter: ((m: FromThread) => void) | undefined;
  private failure: Error | undefined;
  onProgress: ((m: Extract<FromThread, { type: 'progress' }>) => void) | undefined;

  constructor(readonly index: number) {
    this.worker.on('message', (m: FromThread) => {
      if (m.type === 'progress') return this.onProgress?.(m);
      if (this.waiter) {
        const w = this.waiter;
        this.waiter = undefined;
        w(m);
      } else this.inbox.push(m);
    });
    this.worker.on('error', (err) => {
      this.failure = err;
      this.waiter?.({ type: 'failed', error: err.stack ?? String(err) });
    });
  }

  post(m: ToThread): void {
    this.worker.postMessage(m);
  }

  async expect<T extends FromThread['type']>(type: T): Promise<Extract<FromThread, { type: T }>> {
    const m = this.inbox.shift() ?? (this.failure ? { type: 'failed' as const, error: String(this.failure) } : await new Promise<FromThread>((r) => (this.waiter = r)));
    if (m.type === 'failed') throw new Error(`load thread ${this.index} failed: ${m.error}`);
    if (m.type !== type) throw new Error(`load thread ${this.index}: expected ${type}, got ${m.type}`);
    return m as Extract<FromThread, { type: T }>;
  }

  terminate(): Promise<number> {
    return this.worker.terminate();
  }
}

export interface CrowdBuyerPlan {
  id: string;
  plan: Plan;
  startAt: number;
  /** The gateway (index into wsUrl) of the buyer's first session; default: its index mod the gateways. */
  gateway?: number;
}

export interface CrowdRun {
  results: BuyerResult[];
  threadIds: number[];
}

/**
 * Runs a crowd: buyer i goes to thread i mod T, source address i mod S and (unless its plan names
 * one) gateway i mod G, so every thread, address and gateway carries an even share (round-robin).
 * `onProgress` gets the totals a few times a second.
 */
export async function runCrowd(o: {
  /** One gateway's buyer WebSocket URL, or one per gateway. */
  wsUrl: string | string[]; secret: string; buyers: CrowdBuyerPlan[]; threads: number; sources: string[]; deadline: number; stormAt?: number; stormAfterMs?: number; keepFrames?: boolean;
  onProgress?: (p: { connected: number; joined: number; finished: number }) => void;
  /**
   * Called once every thread has minted its tokens; answers how many ms later than planned the crowd
   * starts (every arrival, the deadline and the storm move by it). Default: on time (0).
   */
  onReady?: () => Promise<number>;
}): Promise<CrowdRun> {
  const n = Math.max(1, Math.min(o.threads, o.buyers.length));
  const wsUrls = typeof o.wsUrl === 'string' ? [o.wsUrl] : o.wsUrl;
  const threads = Array.from({ length: n }, (_, i) => new Thread(i));
  const latest = threads.map(() => ({ connected: 0, joined: 0, finished: 0 }));
  threads.forEach((t, i) => (t.onProgress = (p) => {
    latest[i] = p;
    o.onProgress?.(latest.reduce((a, x) => ({ connected: a.connected + x.connected, joined: a.joined + x.joined, finished: a.finished + x.finished }), { connected: 0, joined: 0, finished: 0 }));
  }));
  try {
    threads.forEach((t, ti) => {
      const mine = o.buyers.map((b, i) => ({ ...b, localAddress: o.sources[i % o.sources.length]!, gateway: b.gateway ?? i % wsUrls.length })).filter((_, i) => i % n === ti);
      const job: CrowdJob = { mode: 'crowd', wsUrls, secret: o.secret, buyers: mine, deadline: o.deadline, stormAt: o.stormAt, stormAfterMs: o.stormAfterMs, keepFrames: o.keepFrames };
      t.post(job);
    });
    await Promise.all(threads.map((t) => t.expect('crowd-ready')));
    const shiftMs = (await o.onReady?.()) ?? 0;
    threads.forEach((t) => t.post({ cmd: 'go', shiftMs }));
    const done = await Promise.all(threads.map((t) => t.expect('crowd-done')));
    return { results: done.flatMap((d) => d.results), threadIds: done.map((d) => d.threadId) };
  } finally {
    await Promise.all(threads.map((t) => t.terminate()));
  }
}

export interface Answered {
  latencies: number[];
  /** From the first frame sent (any thread) to the last answer received (any thread), ms. */
  spanMs: number;
  missing: number;
}

/**
 * Many idle sockets held open across threads, for benches: connect them all, then send one frame on
 * every socket at once and time the answers, then close them.
 */
export class SocketFleet {
  private readonly threads: Thread[];
  constructor(threads: number) {
    this.threads = Array.from({ length: threads }, (_, i) => new Thread(i));
  }

  async connect(o: { wsUrl: string; secret?: string; ids: string[]; sources: string[] }): Promise<{ connectMs: number[]; failed: number; errors: string[]; threadIds: number[]; localAddresses: string[] }> {
    const n = this.threads.length;
    this.threads.forEach((t, ti) => {
      const job: SocketsJob = { mode: 'sockets', wsUrl: o.wsUrl, secret: o.secret, ids: o.ids.filter((_, i) => i % n === ti), localAddresses: o.sources };
      t.post(job);
    });
    const r = await Promise.all(this.threads.map((t) => t.expect('connected')));
    return {
      connectMs: r.flatMap((x) => x.connectMs), failed: r.reduce((a, x) => a + x.failed, 0), errors: r.flatMap((x) => x.errors), threadIds: r.map((x) => x.threadId),
      localAddresses: [...new Set(r.flatMap((x) => x.localAddresses))].sort(),
    };
  }

  async sendAll(text: string, answer: string, timeoutMs = 60_000): Promise<Answered> {
    for (const t of this.threads) t.post({ cmd: 'send', text, answer, timeoutMs });
    const r = await Promise.all(this.threads.map((t) => t.expect('answered')));
    return {
      latencies: r.flatMap((x) => x.latencies),
      spanMs: Math.max(...r.map((x) => x.lastAnsweredAt)) - Math.min(...r.map((x) => x.firstSentAt)),
      missing: r.reduce((a, x) => a + x.missing, 0),
    };
  }

  async close(): Promise<void> {
    for (const t of this.threads) t.post({ cmd: 'close' });
    await Promise.all(this.threads.map((t) => t.expect('closed')));
  }

  async terminate(): Promise<void> {
    await Promise.all(this.threads.map((t) => t.terminate()));
  }
}
