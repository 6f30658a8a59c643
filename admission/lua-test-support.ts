import { createHmac, randomBytes } from 'node:crypto';
import { expect, vi } from 'vitest';
import type { Services } from '../tests/helpers/env.js';
import { uniqueId } from '../tests/helpers/env.js';
import { saleKeys, type SaleKeys } from './keys.js';
import { AdmissionScripts } from './scripts.js';
import { poolOfHold } from '../inventory/keys.js';

/**
 * Test support for the admission Lua tests (not a test file itself): a sale written straight into
 * Redis through the typed wrappers (put-sale + the pools), as SaleService.ensureRedis does.
 */
export interface TestSaleOptions {
  stock: number;
  pools: number;
  startsAt: number;
  endsAt: number;
  status: 'active' | 'paused' | 'ended';
  admitPerSecond: number;
  maxActiveHolds: number;
  holdSeconds: number;
  perBuyerLimit: number;
  prequeueKey: string;
  /** Seal at once (default: when startsAt has passed). */
  seal: boolean;
  /** Take the sale's admitter lease for the test (default true; false for tests that run an Admitter). */
  takeLease: boolean;
}

export interface TestSale extends TestSaleOptions {
  id: string;
  k: SaleKeys;
  /** The test's lease value, which the fenced scripts (admit-8, admit-done-6) are given; '' without. */
  lease: string;
}

/** The owner id of the lease the tests hold (as an Admitter's owner id would be). */
export const TEST_OWNER = 'test-host:1:lua-tests';

export async function makeSale(s: Services, over: Partial<TestSaleOptions> = {}): Promise<TestSale> {
  // The scripts' clock: a test clock when the services have one, so windows are relative to it.
  const now = s.clock?.now() ?? Date.now();
  const o: TestSaleOptions = {
    stock: 10, pools: 2, startsAt: now - 1000, endsAt: now + 3600_000, status: 'active', admitPerSecond: 1000,
    maxActiveHolds: 1000, holdSeconds: 60, perBuyerLimit: 1, prequeueKey: randomBytes(16).toString('hex'), seal: (over.startsAt ?? now - 1000) <= now, takeLease: true, ...over,
  };
  const id = uniqueId('sale');
  const k = saleKeys(s.prefix, id);
  const scripts = new AdmissionScripts(s.redis);
  const { seal, stock, takeLease, ...fields } = o;
  expect(await scripts.putSale(k, 'create', fields)).toBe(1);
  await s.inventory.initPools(id, stock, o.pools);
  if (seal) expect(await scripts.seal(k, 1000)).toBe(1);
  // An hour: no test outlives it, so the tests' admit and admit-done calls are never fenced by accident.
  const held = takeLease ? await scripts.lease(k, TEST_OWNER, 3600_000) : null;
  if (takeLease) expect(held).not.toBeNull();
  return { ...o, id, k, lease: held?.value ?? '' };
}

/**
 * A buyer's pre-queue score by the contract's formula, computed here on its own (not with the code
 * under test): the first 13 hex digits of HMAC-SHA256(key, buyer id), as a number.
 */
export function prequeueScore(key: string, buyer: string): number {
  return parseInt(createHmac('sha256', key).update(buyer).digest('hex').slice(0, 13), 16);
}

/** The score as the published order shows it: 13 hex digits. */
export function scoreHex(key: string, buyer: string): string {
  return prequeueScore(key, buyer).toString(16).padStart(13, '0');
}

export function hashOrder(key: string, buyers: string[]): string[] {
  return [...buyers].sort((a, b) => prequeueScore(key, a) - prequeueScore(key, b) || (a < b ? -1 : 1));
}

export interface Admission {
  buyer: string;
  holdId: string;
  pool: number;
  ticket: number;
}

/** Reads admit-8.lua's flat reply (fails the test on a code). */
export function parseAdmit(reply: (string | number)[] | number): { served: number; count: number; list: Admission[] } {
  if (typeof reply === 'number') throw new Error(`admit-8 answered ${reply}`);
  const count = Number(reply[1]);
  const list: Admission[] = [];
  for (let i = 0; i < count; i++) {
    const at = 2 + i * 4;
    list.push({ buyer: String(reply[at]), holdId: String(reply[at + 1]), pool: Number(reply[at + 2]), ticket: Number(reply[at + 3]) });
  }
  expect(reply).toHaveLength(2 + count * 4);
  return { served: Number(reply[0]), count, list };
}

/** One admit call with the pools' real free counts (as the admitter reads them). */
export async function admit(s: Services, sale: TestSale, maxNew = 1000, batch = 1000) {
  const free = (await s.inventory.poolStats(sale.id, sale.pools)).map((p) => p.available);
  return parseAdmit(await s.room.scripts.admit(sale.k, sale.lease, maxNew, batch, randomBytes(4).toString('hex'), free));
}

/**
 * Admits `want` buyers and finishes each admission as held (what Admitter.finishAdmission does). The
 * token bucket of a new sale starts empty, so this polls admit until the tokens let `want` through.
 */
export async function admitAndHold(s: Services, sale: TestSale, want: number) {
  const list: Admission[] = [];
  let served = 0;
  await expect.poll(async () => {
    // On a test clock the bucket fills only when the test moves time: a second of it fills any bucket.
    s.clock?.advance(1000);
    const r = await admit(s, sale, want - list.length);
    served = r.served;
    for (const a of r.list) {
      const taken = await s.inventory.take(sale.id, a.pool, a.holdId, a.buyer, sale.holdSeconds);
      expect(taken?.created).toBe(true);
      expect(await s.room.scripts.admitDone(sale.k, sale.lease, a.buyer, a.holdId, 'held')).toBe('held');
      list.push(a);
    }
    return list.length;
  }, { timeout: 3000, interval: 10 }).toBeGreaterThanOrEqual(want);
  return { served, list };
}

/**
 * Calls admit until one call lets `want` buyers through (any, by default): the token bucket of a new
 * sale starts empty and fills in real time — or, on a test clock, when the time is moved (a second
 * before each call). Returns that call's answer.
 */
export async function admitWhenFilled(s: Services, sale: TestSale, maxNew = 1000, want?: number) {
  return vi.waitFor(async () => {
    s.clock?.advance(1000);
    const r = await admit(s, sale, maxNew);
    if (want === undefined) expect(r.count).toBeGreaterThan(0);
    else expect(r.count).toBe(want);
    return r;
  }, { timeout: 3000, interval: 10 });
}

export async function joinAll(s: Services, sale: TestSale, buyers: string[]) {
  const out: (string | number)[][] = [];
  for (const b of buyers) out.push((await s.room.scripts.join(sale.k, b, 'join')) as (string | number)[]);
  return out;
}

const STATES: Record<string, string> = { p: 'pre', w: 'waiting', a: 'admitting', h: 'holding', l: 'left' };

/**
 * A buyer's record (one field of the sale's `buyers` hash, see buyer-record.lua) read as the fields it
 * stands for: state, ticket, holdId, pool. `{}` when the buyer has none.
 */
export async function record(s: Services, k: SaleKeys, buyer: string): Promise<Record<string, string>> {
  const raw = await s.redis.hget(k.buyers, buyer);
  if (raw === null) return {};
  const m = /^([a-z]):?(\d*):?(.*)$/.exec(raw);
  if (!m || !STATES[m[1]!]) throw new Error(`bad buyer record ${raw}`);
  const out: Record<string, string> = { state: STATES[m[1]!]! };
  if (m[2]) out.ticket = m[2];
  if (m[3]) {
    out.holdId = m[3];
    // While admitting, the pool is part of the record's meaning (the hold id names it).
    if (m[1] === 'a') out.pool = String(poolOfHold(m[3]));
  }
  return out;
}

export async function recordField(s: Services, k: SaleKeys, buyer: string, field: string): Promise<string | null> {
  return (await record(s, k, buyer))[field] ?? null;
}

/**
 * The waiting line as admit will take it: `[buyer, ticket, buyer, ticket, ...]`, the re-queued first,
 * then the line's entries whose buyer still waits with that ticket (stale entries of leavers skipped).
 * Checks on the way that the sale's `waiting` count, which others read, says the same.
 */
export async function waitingLine(s: Services, k: SaleKeys): Promise<string[]> {
  const out: string[] = [];
  const front = await s.redis.zrange(k.requeued, 0, -1, 'WITHSCORES');
  const entries: [string, string][] = [];
  for (let i = 0; i < front.length; i += 2) entries.push([front[i]!, front[i + 1]!]);
  for (const e of await s.redis.lrange(k.line, 0, -1)) {
    const at = e.indexOf(':');
    entries.push([e.slice(at + 1), e.slice(0, at)]);
  }
  for (const [buyer, ticket] of entries) {
    const r = await record(s, k, buyer);
    if (r.state === 'waiting' && r.ticket === ticket) out.push(buyer, ticket);
  }
  expect(Number((await s.redis.hget(k.sale, 'waiting')) ?? 0)).toBe(out.length / 2);
  return out;
}

export async function waitingBuyers(s: Services, k: SaleKeys): Promise<string[]> {
  return (await waitingLine(s, k)).filter((_, i) => i % 2 === 0);
}

export async function waitingSize(s: Services, k: SaleKeys): Promise<number> {
  return (await waitingLine(s, k)).length / 2;
}

/** The buyer's ticket if they are in the waiting line, else null. */
export async function waitingTicket(s: Services, k: SaleKeys, buyer: string): Promise<string | null> {
  const line = await waitingLine(s, k);
  const at = line.findIndex((x, i) => i % 2 === 0 && x === buyer);
  return at < 0 ? null : line[at + 1]!;
}
