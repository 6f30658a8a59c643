import { STATUS_CODES } from 'node:http';
import type { HttpResponse } from 'uWebSockets.js';
import { ApiError, httpErrorBody } from './errors.js';
import { BodyTooLarge, collectBody } from '../shared/uws.js';

/** Per-request state kept outside `res`: uWS forbids touching `res` after it was aborted. */
export interface Reply {
  res: HttpResponse;
  aborted: boolean;
  done: boolean;
  status: number;
}

export function reply(res: HttpResponse): Reply {
  const r: Reply = { res, aborted: false, done: false, status: 0 };
  res.onAborted(() => {
    r.aborted = true;
  });
  return r;
}

export function send(r: Reply, status: number, body: string, contentType = 'application/json', extraHeaders: Record<string, string> = {}): void {
  if (r.aborted || r.done) return;
  r.done = true;
  r.status = status;
  r.res.cork(() => {
    r.res.writeStatus(`${status} ${STATUS_CODES[status] ?? ''}`).writeHeader('content-type', contentType);
    for (const [k, v] of Object.entries(extraHeaders)) r.res.writeHeader(k, v);
    r.res.end(body);
  });
}

export function sendJson(r: Reply, status: number, body: unknown): void {
  send(r, status, JSON.stringify(body));
}

export function sendError(r: Reply, e: ApiError): void {
  send(r, e.status, httpErrorBody(e), 'application/json', e.headers);
}

/** Reads the whole body under a size limit; over it, answers 413 and closes without reading more. */
export function readBody(r: Reply, limit: number): Promise<Buffer> {
  return collectBody(r.res, limit).catch((err: unknown) => {
    if (!(err instanceof BodyTooLarge)) throw err;
    sendError(r, new ApiError('payload_too_large', `the body is larger than ${limit} bytes`));
    throw new ApiError('payload_too_large');
  });
}

export function parseJson(buf: Buffer): unknown {
  if (buf.length === 0) return undefined;
  try {
    return JSON.parse(buf.toString('utf8'));
  } catch {
    throw new ApiError('invalid_json');
  }
}
