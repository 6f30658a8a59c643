import { request } from 'node:http';
import WebSocket from 'ws';

export interface RawAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  /** The body parsed as JSON, or undefined when it is not JSON. */
  json: any;
}

/**
 * One HTTP request with exactly the headers given (fetch would refuse a `Host` or add its own) and,
 * with `localAddress` (e.g. 127.0.0.2), from another loopback address: a second client as the
 * gateway's per-address limits see it.
 */
export function rawRequest(url: string, o: { method?: string; headers?: Record<string, string>; body?: unknown; localAddress?: string } = {}): Promise<RawAnswer> {
  const body = o.body === undefined ? undefined : JSON.stringify(o.body);
  return new Promise((resolve, reject) => {
    const req = request(url, {
      method: o.method ?? 'GET',
      headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...o.headers },
      localAddress: o.localAddress,
    }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (text += d));
      res.on('end', () => {
        let json: unknown;
        try {
          json = JSON.parse(text);
        } catch {
          json = undefined;
        }
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text, json });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

export type UpgradeOutcome =
  | { opened: true; first: any }
  | { opened: false; status: number; headers: Record<string, string | string[] | undefined>; json: any };

/** Tries a WebSocket upgrade; reports the refusal (status, headers, body) or the first frame of an open socket (then closes it). */
export function tryUpgrade(url: string, o: { headers?: Record<string, string>; localAddress?: string; origin?: string } = {}): Promise<UpgradeOutcome> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers: o.headers, localAddress: o.localAddress, ...(o.origin !== undefined ? { origin: o.origin } : {}) });
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => {
        let json: unknown;
        try {
          json = JSON.parse(body);
        } catch {
          json = body;
        }
        resolve({ opened: false, status: res.statusCode ?? 0, headers: res.headers, json });
      });
    });
    ws.once('message', (data) => {
      resolve({ opened: true, first: JSON.parse(String(data)) });
      ws.close();
    });
    ws.once('error', (err) => {
      if (!/Unexpected server response/.test(err.message)) reject(err);
    });
  });
}
