import WebSocket from 'ws';
import { mintBuyerToken } from '../../shared/buyer-token.js';
import { BUYER_SECRET } from './stack.js';

export type Frame = { type: string; [k: string]: any };

/** A buyer's browser tab: a real WebSocket, every frame kept, waits driven by frame arrival. */
export class BuyerSocket {
  readonly frames: Frame[] = [];
  private waiters: { pred: (f: Frame) => boolean; from: number; resolve: (f: Frame) => void }[] = [];
  private closedResolve!: (code: number) => void;
  readonly closed: Promise<number> = new Promise((r) => (this.closedResolve = r));

  private constructor(readonly ws: WebSocket, readonly buyer: string) {
    ws.on('message', (data, isBinary) => {
      const f = JSON.parse(isBinary ? '{}' : String(data)) as Frame;
      this.frames.push(f);
      this.waiters = this.waiters.filter((w) => {
        if (w.pred(f)) {
          w.resolve(f);
          return false;
        }
        return true;
      });
    });
    ws.on('close', (code) => this.closedResolve(code));
  }

  static async open(wsUrl: (token: string) => string, buyer: string): Promise<BuyerSocket> {
    const token = await mintBuyerToken(BUYER_SECRET, buyer);
    const ws = new WebSocket(wsUrl(token));
    const b = new BuyerSocket(ws, buyer);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
      ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
    });
    return b;
  }

  send(frame: unknown): void {
    this.ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  /** The first frame from index `from` on (default: any received so far or later) matching `pred`. */
  next(pred: string | ((f: Frame) => boolean), timeoutMs = 15_000, from = 0): Promise<Frame> {
    const p = typeof pred === 'string' ? (f: Frame) => f.type === pred : pred;
    const seen = this.frames.slice(from).find(p);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`buyer ${this.buyer}: no matching frame in ${timeoutMs} ms; got ${JSON.stringify(this.frames)}`)), timeoutMs);
      this.waiters.push({ pred: p, from, resolve: (f) => { clearTimeout(t); resolve(f); } });
    });
  }

  /** Sends a frame and waits for the first matching frame received after it. */
  async request(frame: unknown, pred: string | ((f: Frame) => boolean), timeoutMs?: number): Promise<Frame> {
    const from = this.frames.length;
    this.send(frame);
    return this.next(pred, timeoutMs, from);
  }

  close(): Promise<number> {
    this.ws.close();
    return this.closed;
  }
}
