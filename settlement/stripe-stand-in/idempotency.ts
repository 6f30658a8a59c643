import { createHash } from 'node:crypto';

/** What Stripe replays for a key: the first answer's status and body (as sent), plus its Request-Id. */
export interface StoredResponse {
  status: number;
  text: string;
  requestId: string;
}

type Entry =
  | { state: 'in_flight'; fingerprint: string }
  | { state: 'done'; fingerprint: string; response: StoredResponse; storedAt: number };

export type Claim =
  | { kind: 'fresh' } // caller now owns the key and must complete() or release() it
  | { kind: 'replay'; response: StoredResponse }
  | { kind: 'in_use' }
  | { kind: 'mismatch' };

// Stripe prunes keys after 24 hours; after that a key is new again.
const TTL_MS = 24 * 60 * 60 * 1000;
export const MAX_KEY_LENGTH = 255;

/**
 * Stripe's idempotency layer. Keys are scoped per API key (Stripe scopes them per account) and
 * bound to the request they were first used with (method + path + parsed parameters).
 */
export class IdempotencyStore {
  private readonly entries = new Map<string, Entry>();

  constructor(private readonly now: () => number = Date.now) {}

  claim(apiKey: string, key: string, fingerprint: string): Claim {
    const id = entryId(apiKey, key);
    const entry = this.entries.get(id);
    if (entry === undefined || (entry.state === 'done' && this.now() - entry.storedAt > TTL_MS)) {
      this.entries.set(id, { state: 'in_flight', fingerprint });
      return { kind: 'fresh' };
    }
    // Other parameters are a permanent mistake; answer that rather than the retryable 409.
    if (entry.fingerprint !== fingerprint) return { kind: 'mismatch' };
    if (entry.state === 'in_flight') return { kind: 'in_use' };
    return { kind: 'replay', response: entry.response };
  }

  complete(apiKey: string, key: string, response: StoredResponse): void {
    const id = entryId(apiKey, key);
    const entry = this.entries.get(id);
    if (entry?.state !== 'in_flight') return;
    this.entries.set(id, { state: 'done', fingerprint: entry.fingerprint, response, storedAt: this.now() });
  }

  /** Forget an in-flight key without storing a result (500s, validation errors): a retry runs afresh. */
  release(apiKey: string, key: string): void {
    const id = entryId(apiKey, key);
    if (this.entries.get(id)?.state === 'in_flight') this.entries.delete(id);
  }

  clear(): void {
    this.entries.clear();
  }
}

/** Identity of a request for "same parameters" checks; key order in the body does not matter. */
export function fingerprint(method: string, path: string, params: unknown): string {
  return `${method} ${path} ${canonicalJson(params)}`;
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const keys = Object.keys(value).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}

// Hash the API key so the map never holds secrets in clear; once per API key, not per request.
const keyHashes = new Map<string, string>();
function entryId(apiKey: string, key: string): string {
  let h = keyHashes.get(apiKey);
  if (h === undefined) {
    h = createHash('sha256').update(apiKey).digest('hex').slice(0, 16);
    // A stand-in sees a handful of test keys; the bound only keeps a misbehaving client from growing it.
    if (keyHashes.size >= 1000) keyHashes.clear();
    keyHashes.set(apiKey, h);
  }
  return `${h}:${key}`;
}
