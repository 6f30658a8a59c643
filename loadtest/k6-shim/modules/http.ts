import { blockingHttp } from './vu-port.js';

interface Params {
  headers?: Record<string, string>;
}

export class Response {
  constructor(readonly status: number, readonly body: string, readonly headers: Record<string, string>, readonly error: string = '') {}
  json(): unknown {
    return JSON.parse(this.body);
  }
}

export function request(method: string, url: string, body?: string | object | null, params: Params = {}): Response {
  const text = body === null || body === undefined ? null : typeof body === 'string' ? body : JSON.stringify(body);
  const a = blockingHttp(method, url, text, params.headers ?? {});
  // k6 answers a failed connection with status 0 and the error, not an exception.
  return new Response(a.status, a.body, a.headers, a.error);
}

export const get = (url: string, params?: Params) => request('GET', url, null, params);
export const post = (url: string, body?: string | object | null, params?: Params) => request('POST', url, body, params);
export const patch = (url: string, body?: string | object | null, params?: Params) => request('PATCH', url, body, params);
export const del = (url: string, body?: string | object | null, params?: Params) => request('DELETE', url, body, params);

export default { request, get, post, patch, del };
