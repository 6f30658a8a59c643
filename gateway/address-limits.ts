/**
 * Limits kept per remote address: WebSocket upgrades (a token bucket) and failed operator logins (a
 * fixed window). Both live in this process's memory, bounded: entries that hold nothing the limit needs
 * (a full bucket, a window that is over) are swept, and past MAX_ADDRESSES the least recently seen
 * address is forgotten (an attacker with that many addresses gets, at worst, fresh limits for some).
 */
import type { HttpResponse } from 'uWebSockets.js';

export const MAX_ADDRESSES = 100_000;
/** How often, at most, a limiter walks its table to drop entries that no longer limit anything. */
const SWEEP_MS = 10_000;

/** The eight 16-bit groups of an IPv6 address in any text form (`::`, a dotted IPv4 tail), or null. */
function ipv6Groups(text: string): number[] | null {
  let t = text;
  const v4 = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(t);
  if (v4) {
    const [a, b, c, d] = v4.slice(1).map(Number) as [number, number, number, number];
    t = `${t.slice(0, v4.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const halves = t.split('::');
  if (halves.length > 2) return null;
  const part = (h: string | undefined) => (h === undefined || h === '' ? [] : h.split(':').map((g) => parseInt(g, 16)));
  const left = part(halves[0]);
  const right = part(halves[1]);
  const groups = halves.length === 2 ? [...left, ...Array<number>(Math.max(0, 8 - left.length - right.length)).fill(0), ...right] : left;
  return groups.length === 8 && groups.every((g) => Number.isInteger(g) && g >= 0 && g <= 0xffff) ? groups : null;
}

/**
 * The key a limit is kept under, from uWS's text form of the peer address (`127.0.0.1`, or on a
 * dual-stack socket `0000:…:ffff:7f00:0001`). An IPv4-mapped IPv6 address is its IPv4 address. An
 * IPv6 host usually owns a whole /64 and may pick any address in it, so IPv6 counts per /64.
 */
export function addressKey(text: string): string {
  if (!text.includes(':')) return text;
  const g = ipv6Groups(text.toLowerCase());
  if (g === null) return text;
  if (g.slice(0, 5).every((x) => x === 0) && g[5] === 0xffff) return `${g[6]! >> 8}.${g[6]! & 255}.${g[7]! >> 8}.${g[7]! & 255}`;
  return `${g.slice(0, 4).map((x) => x.toString(16)).join(':')}::/64`;
}

/** The peer's address key, read synchronously (uWS forbids touching `res` after an await). */
export function remoteKey(res: HttpResponse): string {
  return addressKey(Buffer.from(res.getRemoteAddressAsText()).toString('latin1'));
}

/** A Map used as an LRU: each touch moves the key to the end, the oldest key is dropped past `cap`. */
class AddressTable<T> {
  private readonly map = new Map<string, T>();
  private lastSweep = 0;
  constructor(private readonly cap: number, private readonly idle: (v: T, now: number) => boolean) {}
  get size(): number {
    return this.map.size;
  }
  get(key: string): T | undefined {
    return this.map.get(key);
  }
  set(key: string, v: T, now: number): void {
    this.map.delete(key);
    this.map.set(key, v);
    if (this.map.size > this.cap) this.map.delete(this.map.keys().next().value!);
    if (now - this.lastSweep >= SWEEP_MS) {
      this.lastSweep = now;
      for (const [k, e] of this.map) if (this.idle(e, now)) this.map.delete(k);
    }
  }
  delete(key: string): void {
    this.map.delete(key);
  }
}

interface Bucket {
  tokens: number;
  at: number;
}

/** A token bucket per address: `perSecond` sustained, `burst` at once. `perSecond` 0: no limit. */
export class UpgradeLimiter {
  private readonly table: AddressTable<Bucket>;
  constructor(private readonly perSecond: number, private readonly burst: number, cap = MAX_ADDRESSES) {
    // A bucket that has filled up again is the same as no bucket.
    this.table = new AddressTable(cap, (b, now) => b.tokens + ((now - b.at) * perSecond) / 1000 >= burst);
  }
  get enabled(): boolean {
    return this.perSecond > 0;
  }
  get size(): number {
    return this.table.size;
  }
  /** Takes one upgrade for `key`: 0 when allowed, else the seconds until one is. */
  take(key: string, now = Date.now()): number {
    if (!this.enabled) return 0;
    const b = this.table.get(key);
    const tokens = b === undefined ? this.burst : Math.min(this.burst, b.tokens + ((now - b.at) * this.perSecond) / 1000);
    if (tokens < 1) {
      this.table.set(key, { tokens, at: now }, now);
      return (1 - tokens) / this.perSecond;
    }
    this.table.set(key, { tokens: tokens - 1, at: now }, now);
    return 0;
  }
}

interface Window {
  failures: number;
  endsAt: number;
}

/**
 * Failed operator logins per address in a fixed window that starts with the first failure. Once an
 * address has `limit` failures in its window, every operator request from it waits for the window's
 * end, right token or not (a guesser learns nothing from the answers meanwhile). Successes are never
 * counted and reset nothing: an operator who never fails is never limited, and one sharing an
 * address with a guesser cannot reset the guesser's count. `limit` 0: no limit.
 */
export class LoginThrottle {
  private readonly table: AddressTable<Window>;
  constructor(private readonly limit: number, private readonly windowMs = 60_000, cap = MAX_ADDRESSES) {
    this.table = new AddressTable(cap, (w, now) => now >= w.endsAt);
  }
  get size(): number {
    return this.table.size;
  }
  /** 0 when `key` may try, else the seconds until it may. */
  blockedFor(key: string, now = Date.now()): number {
    if (this.limit === 0) return 0;
    const w = this.table.get(key);
    if (w === undefined) return 0;
    if (now >= w.endsAt) {
      this.table.delete(key);
      return 0;
    }
    return w.failures >= this.limit ? (w.endsAt - now) / 1000 : 0;
  }
  failed(key: string, now = Date.now()): void {
    if (this.limit === 0) return;
    const w = this.table.get(key);
    if (w === undefined || now >= w.endsAt) this.table.set(key, { failures: 1, endsAt: now + this.windowMs }, now);
    else this.table.set(key, { failures: w.failures + 1, endsAt: w.endsAt }, now);
  }
}
