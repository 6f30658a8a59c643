import { invalidRequest } from './errors.js';

export type FormValue = string | FormValue[] | { [key: string]: FormValue };
export type FormObject = { [key: string]: FormValue };

// Keys that would reach Object.prototype through bracket notation (`a[__proto__][x]=1`).
const FORBIDDEN = new Set(['__proto__', 'prototype', 'constructor']);
// The SDK numbers array items; a huge index would turn one short key into a giant sparse array.
const MAX_INDEX = 999;

/**
 * Parses an `application/x-www-form-urlencoded` body (or query string) the way Stripe does:
 * `metadata[holdId]=h1` → `{metadata: {holdId: 'h1'}}`, `types[0]=card` → `{types: ['card']}`.
 */
export function parseForm(text: string): FormObject {
  const root: FormObject = {};
  for (const [rawKey, value] of new URLSearchParams(text)) {
    assign(root, splitKey(rawKey), value, rawKey);
  }
  return root;
}

/** `a[b][]` → `['a', 'b', '']`: a name, then bracketed segments and nothing else (no regex: the hot path of every request). */
function splitKey(key: string): string[] {
  const invalid = (): never => {
    throw invalidRequest(`Invalid parameter name: ${key}`);
  };
  const open = key.indexOf('[');
  const name = open < 0 ? key : key.slice(0, open);
  if (name === '' || name.includes(']') || FORBIDDEN.has(name)) invalid();
  const segments = [name];
  for (let i = open; i >= 0 && i < key.length; ) {
    const close = key.indexOf(']', i);
    if (key[i] !== '[' || close < 0) invalid();
    const segment = key.slice(i + 1, close);
    if (segment.includes('[') || FORBIDDEN.has(segment)) invalid();
    segments.push(segment);
    i = close + 1;
  }
  return segments;
}

const isIndex = (segment: string | undefined): boolean => segment === '' || (segment !== undefined && /^\d+$/.test(segment));

function assign(root: FormObject, segments: string[], value: string, rawKey: string): void {
  let node: FormObject | FormValue[] = root;
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i] as string;
    const last = i === segments.length - 1;
    let slot: string | number = segment;
    if (Array.isArray(node)) {
      if (!isIndex(segment)) throw invalidRequest(`Invalid array index in ${rawKey}`);
      slot = segment === '' ? node.length : Number(segment);
      if (slot > MAX_INDEX) throw invalidRequest(`Array index too large in ${rawKey}`);
    }
    const existing: FormValue | undefined = (node as Record<string | number, FormValue | undefined>)[slot];
    if (last) {
      if (existing !== undefined && typeof existing !== 'string') throw invalidRequest(`Conflicting values for ${rawKey}`);
      (node as Record<string | number, FormValue>)[slot] = value;
      return;
    }
    if (typeof existing === 'string') throw invalidRequest(`Conflicting values for ${rawKey}`);
    const child: FormObject | FormValue[] = existing ?? (isIndex(segments[i + 1]) ? [] : {});
    (node as Record<string | number, FormValue>)[slot] = child;
    node = child;
  }
}
