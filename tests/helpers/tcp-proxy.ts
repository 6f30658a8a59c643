import { createServer, connect, type Server, type Socket } from 'node:net';

/**
 * A TCP proxy to put between our processes and a server (Postgres, Redis) so a test can cut the link —
 * every open connection reset, new ones reset as they arrive — and restore it, without touching the
 * shared server. A subclass that must see what a client sends overrides `sent`.
 */
export class TcpProxy {
  private server!: Server;
  private readonly sockets = new Set<Socket>();
  private down = false;
  port = 0;
  /** Sockets reset by cuts (both ends of each link), and connections turned away while down. */
  readonly counts = { reset: 0, refused: 0 };

  constructor(readonly targetHost: string, readonly targetPort: number) {}

  async start(): Promise<this> {
    this.server = createServer((client) => {
      if (this.down) {
        this.counts.refused++;
        // RST, as a host whose server is gone answers: the client sees ECONNRESET at once, not a clean close.
        return void client.resetAndDestroy();
      }
      const upstream = connect(this.targetPort, this.targetHost);
      for (const s of [client, upstream]) {
        this.sockets.add(s);
        s.on('close', () => this.sockets.delete(s));
        s.on('error', () => {});
      }
      client.pipe(upstream).pipe(client);
      // Registered after the pipe's own listener, so `sent` runs once the chunk is written upstream.
      client.on('data', (chunk: Buffer) => this.sent(client, chunk));
      client.on('close', () => upstream.destroy());
      upstream.on('close', () => client.destroy());
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as { port: number }).port;
    return this;
  }

  /** Called with every chunk a client sends, just after it was forwarded and before any answer to it. */
  protected sent(_client: Socket, _chunk: Buffer): void {}

  /** The server "goes away": open connections are reset, new ones fail until restore(). */
  cut(): void {
    this.down = true;
    for (const s of this.sockets) {
      this.counts.reset++;
      s.resetAndDestroy();
    }
  }

  /** Cuts the link for `ms`, then restores it (the wait is the outage being simulated). */
  async outage(ms: number): Promise<void> {
    this.cut();
    try {
      await new Promise((r) => setTimeout(r, ms));
    } finally {
      this.restore();
    }
  }

  get isDown(): boolean {
    return this.down;
  }

  restore(): void {
    this.down = false;
  }

  /** `url` with its host and port replaced by this proxy's. */
  urlFor(url: string): string {
    const u = new URL(url);
    u.hostname = '127.0.0.1';
    u.port = String(this.port);
    return u.toString();
  }

  close(): Promise<void> {
    this.cut();
    return new Promise((r) => this.server.close(() => r()));
  }
}
