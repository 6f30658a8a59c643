import { STATUS_CODES } from 'node:http';
import type { HttpRequest, HttpResponse } from 'uWebSockets.js';
import { BodyTooLarge, collectBody } from '../../shared/uws.js';

export const MAX_BODY_BYTES = 1024 * 1024;

export { BodyTooLarge };

/**
 * One request as the stand-in's handlers see it, read off uWS's request object (which is only valid
 * during the handler's synchronous part): method, path, query, headers by lower-case name, and the
 * body once it has arrived.
 */
export interface Request {
  method: string;
  path: string;
  /** Without the `?`. */
  query: string;
  header(name: string): string | undefined;
  /** The whole body; rejects with BodyTooLarge past MAX_BODY_BYTES without buffering the excess. */
  body(): Promise<string>;
}

/** The answer to one request: headers set as the handlers go, then one `send`, or `destroy`. */
export interface Response {
  setHeader(name: string, value: string): void;
  send(status: number, text: string, headers?: Record<string, string>): void;
  /** Drops the connection without an answer (a fault: the work is done, the answer lost). */
  destroy(): void;
  /** The status sent, or 'dropped' / 'aborted'; undefined while nothing was (then one more answer may go). */
  readonly outcome: number | 'dropped' | 'aborted' | undefined;
}

/**
 * One uWS request and its answer. Everything uWS allows only synchronously (the method, url, headers,
 * and registering for the body and for an abort) happens in the constructor, before any await of the
 * handler. A class, not closures: one of these is made per request.
 */
class Exchange implements Request, Response {
  readonly method: string;
  readonly path: string;
  readonly query: string;
  outcome: number | 'dropped' | 'aborted' | undefined;
  private readonly headers = new Map<string, string>();
  private readonly pending: [string, string][] = [];
  private readonly received: Promise<string>;

  constructor(private readonly res: HttpResponse, req: HttpRequest, limit: number) {
    req.forEach((k, v) => this.headers.set(k, v));
    this.method = req.getMethod().toUpperCase();
    this.path = req.getUrl();
    this.query = req.getQuery() ?? '';
    res.onAborted(() => {
      this.outcome ??= 'aborted';
    });
    this.received = this.collect(limit);
    this.received.catch(() => {}); // a handler that never reads a refused body must not crash the process
  }

  /** The body is collected from the start: uWS hands it over only to a handler registered now. */
  private collect(limit: number): Promise<string> {
    const length = this.headers.get('content-length');
    if (Number(length ?? 0) > limit) return Promise.reject(new BodyTooLarge());
    // No body: a GET, a declared length of 0, or neither a length nor chunked encoding (HTTP/1.1 rules).
    if (this.method === 'GET' || this.method === 'HEAD' || length === '0' || (length === undefined && !this.headers.has('transfer-encoding'))) return Promise.resolve('');
    return collectBody(this.res, limit).then((buf) => buf.toString('utf8'));
  }

  header(name: string): string | undefined {
    return this.headers.get(name.toLowerCase());
  }

  body(): Promise<string> {
    return this.received;
  }

  setHeader(name: string, value: string): void {
    this.pending.push([name, value]);
  }

  send(status: number, text: string, extra: Record<string, string> = {}): void {
    if (this.outcome !== undefined) return;
    this.outcome = status;
    this.res.cork(() => {
      this.res.writeStatus(`${status} ${STATUS_CODES[status] ?? ''}`);
      for (const [k, v] of this.pending) this.res.writeHeader(k, v);
      for (const k in extra) this.res.writeHeader(k, extra[k]!);
      this.res.end(text, extra.Connection === 'close');
    });
  }

  destroy(): void {
    if (this.outcome !== undefined) return;
    this.outcome = 'dropped';
    this.res.close();
  }
}

export function adapt(res: HttpResponse, req: HttpRequest, limit = MAX_BODY_BYTES): { request: Request; response: Response } {
  const exchange = new Exchange(res, req, limit);
  return { request: exchange, response: exchange };
}

/** JSON the way Stripe sends it (pretty-printed, never cached). */
export const jsonText = (body: unknown): string => `${JSON.stringify(body, null, 2)}\n`;

export function sendJson(res: Response, status: number, body: unknown, headers: Record<string, string> = {}): void {
  sendJsonText(res, status, jsonText(body), headers);
}

export function sendJsonText(res: Response, status: number, text: string, headers: Record<string, string> = {}): void {
  res.send(status, text, { 'Content-Type': 'application/json', 'Cache-Control': 'no-cache, no-store', ...headers });
}
