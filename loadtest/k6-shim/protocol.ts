/** Messages between the shim's runner (main thread) and its VU threads. */

export interface VuData {
  script: string;
  /** The exported function to call: 'setup', a scenario's `exec`, or 'default'. */
  exec: string;
  /** What setup() returned (structured-cloned), handed to every iteration as k6 does. */
  data: unknown;
  env: Record<string, string>;
  vuIdInTest: number;
  iterationInTest: number;
  scenario: string;
  /** Synchronous HTTP: [0] = state (0 waiting, 1 answered), [1] = answer length; the answer's bytes from byte 8. */
  http: SharedArrayBuffer;
}

export type FromVu =
  | { type: 'metric'; name: string; kind: 'counter' | 'trend' | 'rate' | 'gauge'; value: number; tags?: Record<string, string> }
  | { type: 'check'; name: string; pass: boolean }
  | { type: 'http'; method: string; url: string; body: string | null; headers: Record<string, string> }
  | { type: 'ready' }
  | { type: 'returned'; value: unknown }
  | { type: 'failed'; error: string };

/** The runner's one message to a VU: go, with setup's data. */
export interface ToVu {
  data: unknown;
}

export interface HttpAnswer {
  status: number;
  body: string;
  headers: Record<string, string>;
  error?: string;
}

export const HTTP_BUFFER_BYTES = 4 * 1024 * 1024;
