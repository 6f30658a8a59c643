import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineScripts, loadLuaDir } from '../shared/lua-loader.js';
import { execMulti, runScript, type RedisClient } from '../shared/redis.js';
import type { SaleKeys } from './keys.js';
import { prequeueScore } from './prequeue.js';

const LUA = loadLuaDir(join(dirname(fileURLToPath(import.meta.url)), 'lua'), 'adm');

type Reply = (string | number)[] | number;

/** One buyer's part of a batched join-4 call. */
export interface JoinItem {
  buyer: string;
  mode: 'join' | 'status';
  /** The hold the caller found ended or sold ('' if none): only then may its holder take a new place. */
  endedHoldId: string;
}

/** join-4 answers each item with one string, `kind[:a[:b]]` (hold ids have no ':'), or a negative code. */
function decodeJoinReply(r: string | number): Reply {
  if (typeof r === 'number') return r;
  const [kind, a, b] = r.split(':') as [string, string?, string?];
  switch (kind) {
    case 'pre':
    case 'done': return [kind, Number(a)];
    case 'waiting': return [kind, Number(a), Number(b)];
    case 'admitting': return [kind, a!, Number(b)];
    case 'holding': return [kind, a!];
    default: return [kind];
  }
}

/**
 * One holding of a sale's admitter lease: its fencing token, and the lease value ('<owner>:<token>')
 * that the fenced scripts compare with the lease's current value.
 */
export interface Lease {
  token: number;
  value: string;
}

/** The only module that knows the key order and argument packing of the admission scripts. */
export class AdmissionScripts {
  /** Sale hash key -> the sale's pre-queue key: fixed at creation, so read once per sale and process. */
  private readonly prequeueKeys = new Map<string, string>();
  /** Reads of a key not known yet: a leave waits for one so it still reaches Redis after the joins sent before it. */
  private readonly keyReads = new Map<string, Promise<string>>();
  constructor(readonly redis: RedisClient) {
    defineScripts(redis, LUA);
  }

  private readKey(k: SaleKeys): Promise<string> {
    let read = this.keyReads.get(k.sale);
    if (!read) {
      // No key: no sale in Redis, which join-4 answers (-1) without looking at scores.
      read = this.redis.hget(k.sale, 'prequeueKey').then((key) => {
        if (key) this.prequeueKeys.set(k.sale, key);
        return key ?? '';
      }).finally(() => this.keyReads.delete(k.sale));
      this.keyReads.set(k.sale, read);
    }
    return read;
  }

  /** One reply per item, in order, e.g. `['waiting', ticket, served]`; -1 (no such sale) for the whole batch. */
  async joinMany(k: SaleKeys, items: readonly JoinItem[]): Promise<Reply[] | number> {
    const args: string[] = [k.ordersPrefix];
    // Lua has no HMAC: each join's pre-queue score is computed here (the script ignores it once sealed).
    // Once the key is known the script is sent at once, without an await: calls leave in call order.
    let key = '';
    if (items.some((it) => it.mode === 'join')) key = this.prequeueKeys.get(k.sale) ?? (await this.readKey(k));
    for (const it of items) args.push(it.buyer, it.mode, it.endedHoldId, it.mode === 'join' && key !== '' ? prequeueScore(key, it.buyer) : '');
    const r = await runScript<(string | number)[] | number>(this.redis, 'admJoin', [k.sale, k.buyers, k.pre, k.line], args);
    return typeof r === 'number' ? r : r.map(decodeJoinReply);
  }
  async join(k: SaleKeys, buyer: string, mode: 'join' | 'status', endedHoldId = ''): Promise<Reply> {
    const r = await this.joinMany(k, [{ buyer, mode, endedHoldId }]);
    return typeof r === 'number' ? r : r[0]!;
  }
  async leave(k: SaleKeys, buyer: string, releasedHoldId = '') {
    // A join waiting for its sale's key was asked first: it goes first (same promise, reactions in order).
    const read = this.keyReads.get(k.sale);
    if (read) await read.catch(() => '');
    return runScript<Reply>(this.redis, 'admLeave', [k.sale, k.buyers, k.pre, k.requeued], [buyer, releasedHoldId]);
  }
  seal(k: SaleKeys, chunk: number) {
    return runScript<number>(this.redis, 'admSeal', [k.sale, k.buyers, k.pre, k.line, k.order], [chunk]);
  }
  /** The sealed pre-queue's scores in ticket order (empty before the seal). */
  prequeueOrder(k: SaleKeys): Promise<string[]> {
    return this.redis.lrange(k.order, 0, -1);
  }
  /** `{served, count, buyer, holdId, pool, ticket, ...}`, or -7 (AdmissionCode.NotLeaseHolder) when `lease` is not the sale's lease. */
  admit(k: SaleKeys, lease: string, maxNew: number, batch: number, nonce: string, freePerPool: number[]) {
    return runScript<(string | number)[] | number>(this.redis, 'admAdmit',
      [k.sale, k.buyers, k.line, k.requeued, k.bucket, k.admitting, k.admittingSince, k.lease],
      [lease, maxNew, batch, nonce, freePerPool.length, ...freePerPool]);
  }
  admitDone(k: SaleKeys, lease: string, buyer: string, holdId: string, outcome: 'held' | 'requeue') {
    return runScript<'held' | 'requeued' | 'left' | 'stale' | 'fenced'>(this.redis, 'admAdmitDone',
      [k.sale, k.buyers, k.admitting, k.requeued, k.admittingSince, k.lease], [buyer, holdId, outcome, lease]);
  }
  /** Admissions begun at least `graceMs` ago and not finished, oldest first, at most `limit`. */
  async admittingDue(k: SaleKeys, graceMs: number, limit: number): Promise<{ holdId: string; buyer: string }[]> {
    const flat = await runScript<string[]>(this.redis, 'admAdmittingDue', [k.admitting, k.admittingSince], [graceMs, limit]);
    const out: { holdId: string; buyer: string }[] = [];
    for (let i = 0; i + 1 < flat.length; i += 2) out.push({ holdId: flat[i]!, buyer: flat[i + 1]! });
    return out;
  }
  /** Takes or renews the sale's admitter lease for `owner`: the holding, or null if another owner has it. */
  async lease(k: SaleKeys, owner: string, ttlMs: number): Promise<Lease | null> {
    const token = await runScript<number>(this.redis, 'admLease', [k.lease, k.leaseToken], [owner, ttlMs]);
    return token > 0 ? { token, value: `${owner}:${token}` } : null;
  }
  /**
   * Sets the sale's soldOut flag (mark-sold-out-1, its one writer): true if it changed, false if it
   * already said so or the sale is missing from Redis (then nothing is written; a heal restores it).
   */
  async markSoldOut(k: SaleKeys, soldOut: boolean): Promise<boolean> {
    return (await runScript<number>(this.redis, 'admMarkSoldOut', [k.sale], [soldOut ? '1' : '0'])) === 1;
  }
  /** Keeps each buyer's first prediction (HSETNX), at most `cap` buyers per sale; how many were added. */
  recordEstimates(k: SaleKeys, cap: number, records: [buyer: string, record: string][]) {
    return runScript<number>(this.redis, 'admRecordEstimates', [k.estimates], [cap, ...records.flat()]);
  }
  /** These buyers were admitted at `at` (ms): their recorded predictions get that outcome. */
  settleEstimates(k: SaleKeys, at: number, buyers: string[]) {
    return runScript<number>(this.redis, 'admSettleEstimates', [k.estimates], [at, ...buyers]);
  }
  putSale(k: SaleKeys, mode: 'create' | 'update' | 'heal', fields: Record<string, string | number>) {
    return runScript<number>(this.redis, 'admPutSale', [k.sale], [mode, ...Object.entries(fields).flat()]);
  }
  /**
   * Buyers waiting for a unit: the pre-queue plus the sale's count of waiting records (the line itself
   * also holds stale entries of leavers). None while the sale is sold out: every waiter is told
   * `sold_out` then (join-4 answers it to each of them, the gateway broadcasts it), and the contract
   * does not count them; their records stay, so a restock that clears the flag counts them again, as it
   * admits them again. One MULTI, so a seal moving buyers from one to the other, or the flag flipping,
   * is never seen halfway.
   */
  async waitingCount(k: SaleKeys): Promise<number> {
    const [pre, waiting, soldOut] = await execMulti(this.redis.multi().zcard(k.pre).hget(k.sale, 'waiting').hget(k.sale, 'soldOut'), 'waiting count');
    if (soldOut === '1') return 0;
    return Number(pre) + Number(waiting ?? 0);
  }
}
