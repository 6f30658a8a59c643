import { parentPort, workerData } from 'node:worker_threads';
import type { FromVu, HttpAnswer, VuData } from '../protocol.js';

/** The VU thread's link to the runner: metric samples, checks, and blocking HTTP calls. */
export const vu = workerData as VuData;

export function post(m: FromVu): void {
  parentPort!.postMessage(m);
}

/**
 * k6's HTTP calls block the VU. Here the runner's thread makes the request and this one waits on a
 * shared buffer for the answer (Atomics.wait), so the VU's own event loop is held as in k6.
 */
export function blockingHttp(method: string, url: string, body: string | null, headers: Record<string, string>): HttpAnswer {
  const state = new Int32Array(vu.http, 0, 2);
  Atomics.store(state, 0, 0);
  post({ type: 'http', method, url, body, headers });
  Atomics.wait(state, 0, 0);
  const length = Atomics.load(state, 1);
  return JSON.parse(Buffer.from(new Uint8Array(vu.http, 8, length)).toString('utf8')) as HttpAnswer;
}

/** k6's sleep blocks the VU (its event loop too). */
export function blockingSleep(ms: number): void {
  if (ms > 0) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}
