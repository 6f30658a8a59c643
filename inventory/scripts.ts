import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineScripts, loadLuaDir } from '../shared/lua-loader.js';
import { runScript, type RedisClient } from '../shared/redis.js';
import type { PoolKeys } from './keys.js';

/** A unit the Postgres ledger says is sold (with its order) or still being paid for. */
export interface LedgerHold {
  holdId: string;
  buyer: string;
  state: 'sold' | 'paying';
  orderId?: string;
  /** The attempt being paid (paying holds); 1 when not known. */
  attempts?: number;
}

/**
 * A message to publish together with a state change. PUBLISH names no key: a script of any slot may
 * publish on any channel, on a Redis Cluster too.
 */
export interface Notice {
  channel: string;
  message: string;
}

const LUA = loadLuaDir(join(dirname(fileURLToPath(import.meta.url)), 'lua'), 'inv');

/** The only module that knows the key order and argument packing of the inventory scripts. */
export class InventoryScripts {
  constructor(readonly redis: RedisClient) {
    defineScripts(redis, LUA);
  }
  rebuildPool(k: PoolKeys, stock: number, holds: LedgerHold[]) {
    const flat = holds.flatMap((h) => [h.holdId, h.buyer, h.state, h.orderId ?? '', h.attempts ?? 1]);
    return runScript<number>(this.redis, 'invRebuildPool', [k.pool, k.holds, k.paying], [k.holdPrefix, stock, ...flat]);
  }
  healPool(k: PoolKeys, stock: number, generation: number, holds: LedgerHold[]) {
    const flat = holds.flatMap((h) => [h.holdId, h.buyer, h.state, h.orderId ?? '', h.attempts ?? 1]);
    return runScript<(string | number)[] | number>(this.redis, 'invHealPool', [k.pool, k.holds, k.deadlines, k.paying], [k.holdPrefix, stock, generation, ...flat]);
  }
  take(k: PoolKeys, holdId: string, buyer: string, holdSeconds: number) {
    return runScript<[number, number] | number>(this.redis, 'invTake', [k.pool, k.hold(holdId), k.deadlines, k.holds], [buyer, holdSeconds]);
  }
  voidHold(k: PoolKeys, holdId: string) {
    return runScript<[number, number] | 0>(this.redis, 'invVoidHold', [k.hold(holdId)], []);
  }
  beginPay(k: PoolKeys, holdId: string, buyer: string) {
    return runScript<number>(this.redis, 'invBeginPay', [k.pool, k.hold(holdId), k.deadlines, k.paying], [buyer]);
  }
  settle(k: PoolKeys, holdId: string, orderId: string, notify?: Notice) {
    return runScript<[string, number] | number>(this.redis, 'invSettle', [k.pool, k.hold(holdId), k.paying], notify ? [orderId, notify.channel, notify.message] : [orderId]);
  }
  payFailed(k: PoolKeys, holdId: string, attemptNo: number) {
    return runScript<[string, number] | number>(this.redis, 'invPayFailed', [k.pool, k.hold(holdId), k.deadlines, k.paying], [attemptNo]);
  }
  release(k: PoolKeys, holdId: string, buyer: string) {
    return runScript<string | number>(this.redis, 'invRelease', [k.pool, k.hold(holdId), k.deadlines], [buyer]);
  }
  expireDue(k: PoolKeys, limit: number) {
    return runScript<string[]>(this.redis, 'invExpireDue', [k.pool, k.deadlines], [k.holdPrefix, limit]);
  }
  snapshotPool(k: PoolKeys) {
    return runScript<(string | number)[]>(this.redis, 'invSnapshotPool', [k.pool, k.holds], [k.holdPrefix]);
  }
  restock(k: PoolKeys, units: number) {
    return runScript<number>(this.redis, 'invRestock', [k.pool], [units]);
  }
  payingSince(k: PoolKeys, minAgeMs: number, limit: number) {
    return runScript<string[]>(this.redis, 'invPayingSince', [k.paying], [minAgeMs, limit]);
  }
}
