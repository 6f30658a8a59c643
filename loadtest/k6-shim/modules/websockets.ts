import WsSocket from 'ws';

/**
 * k6's browser-like WebSocket (k6/websockets) over the `ws` package: on* handlers and
 * addEventListener, send, close, readyState. A socket keeps the VU's iteration alive while open.
 */
type Handler = (e: { data?: unknown; code?: number; reason?: string; error?: string }) => void;

export class WebSocket {
  static readonly CONNECTING = 0;
  static readonly OPEN = 1;
  static readonly CLOSING = 2;
  static readonly CLOSED = 3;
  onopen: Handler | null = null;
  onmessage: Handler | null = null;
  onclose: Handler | null = null;
  onerror: Handler | null = null;
  private readonly listeners = new Map<string, Handler[]>();
  private readonly ws: WsSocket;

  constructor(readonly url: string) {
    this.ws = new WsSocket(url, { perMessageDeflate: false });
    this.ws.on('open', () => this.emit('open', {}));
    this.ws.on('message', (data, isBinary) => this.emit('message', { data: isBinary ? data : String(data) }));
    this.ws.on('close', (code, reason) => this.emit('close', { code, reason: String(reason) }));
    this.ws.on('error', (err) => this.emit('error', { error: err.message }));
  }

  get readyState(): number {
    return this.ws.readyState;
  }

  send(data: string | ArrayBuffer): void {
    if (this.ws.readyState === WsSocket.OPEN) this.ws.send(data);
  }

  close(code?: number, reason?: string): void {
    this.ws.close(code, reason);
  }

  addEventListener(type: string, fn: Handler): void {
    this.listeners.set(type, [...(this.listeners.get(type) ?? []), fn]);
  }

  private emit(type: 'open' | 'message' | 'close' | 'error', e: Parameters<Handler>[0]): void {
    const own = { open: this.onopen, message: this.onmessage, close: this.onclose, error: this.onerror }[type];
    own?.(e);
    for (const fn of this.listeners.get(type) ?? []) fn(e);
  }
}

export default { WebSocket };
