import type { SaleLive } from '../../gateway/live-stats.js';
import { ADMIN_TOKEN } from './stack.js';

export interface LiveEvent { type: string; data: any; receivedAt: number; raw: string }

/** A console's live channel: every event kept, waits driven by event arrival. */
export class LiveClient {
  readonly events: LiveEvent[] = [];
  private waiters: { pred: (e: LiveEvent) => boolean; resolve: (e: LiveEvent) => void }[] = [];
  private readonly ctl = new AbortController();
  status = 0;
  contentType = '';

  static async open(url: string, token = ADMIN_TOKEN): Promise<LiveClient> {
    const c = new LiveClient();
    const res = await fetch(url, { headers: { authorization: `Bearer ${token}` }, signal: c.ctl.signal });
    c.status = res.status;
    c.contentType = res.headers.get('content-type') ?? '';
    if (res.ok) void c.read(res.body!.getReader()).catch(() => {});
    return c;
  }

  private async read(reader: ReadableStreamDefaultReader<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    let buf = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      buf += decoder.decode(value, { stream: true });
      let end;
      while ((end = buf.indexOf('\n\n')) >= 0) {
        const block = buf.slice(0, end);
        buf = buf.slice(end + 2);
        const type = /^event: (.*)$/m.exec(block)?.[1];
        const data = /^data: (.*)$/m.exec(block)?.[1];
        if (!type || !data) continue;
        const e = { type, data: JSON.parse(data), receivedAt: Date.now(), raw: block };
        this.events.push(e);
        this.waiters = this.waiters.filter((w) => (w.pred(e) ? (w.resolve(e), false) : true));
      }
    }
  }

  next(pred: (e: LiveEvent) => boolean, timeoutMs = 10_000, from = 0): Promise<LiveEvent> {
    const seen = this.events.slice(from).find(pred);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no matching live event in ${timeoutMs} ms`)), timeoutMs);
      this.waiters.push({ pred, resolve: (e) => { clearTimeout(t); resolve(e); } });
    });
  }

  /** The next `sale` event of `saleId` whose data matches `pred`. */
  sale(saleId: string, pred: (s: SaleLive) => boolean = () => true, timeoutMs?: number): Promise<SaleLive> {
    return this.next((e) => e.type === 'sale' && e.data.id === saleId && pred(e.data), timeoutMs).then((e) => e.data);
  }

  close(): void {
    this.ctl.abort();
  }
}
