import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineScripts, loadLuaDir } from '../shared/lua-loader.js';
import { runScript, type RedisClient } from '../shared/redis.js';
import type { SaleKeys } from './keys.js';

const LUA = loadLuaDir(join(dirname(fileURLToPath(import.meta.url)), 'lua'), 'adm');

type Reply = (string | number)[] | number;

/** The only module that knows the key order and argument packing of the admission scripts. */
export class AdmissionScripts {
  constructor(readonly redis: RedisClient) {
    defineScripts(redis, LUA);
  }
  join(k: SaleKeys, buyer: string, mode: 'join' | 'status', endedHoldId = '') {
    return runScript<Reply>(this.redis, 'admJoin', [k.sale, k.buyer(buyer), k.pre, k.wait, k.orders(buyer)], [buyer, mode, endedHoldId]);
  }
  leave(k: SaleKeys, buyer: string, releasedHoldId = '') {
    return runScript<Reply>(this.redis, 'admLeave', [k.sale, k.buyer(buyer), k.pre, k.wait], [buyer, releasedHoldId]);
  }
  seal(k: SaleKeys, chunk: number) {
    return runScript<number>(this.redis, 'admSeal', [k.sale, k.pre, k.wait], [k.buyerPrefix, chunk]);
  }
  admit(k: SaleKeys, maxNew: number, batch: number, nonce: string, freePerPool: number[]) {
    return runScript<(string | number)[]>(this.redis, 'admAdmit', [k.sale, k.wait, k.bucket, k.admitting], [k.buyerPrefix, maxNew, batch, nonce, freePerPool.length, ...freePerPool]);
  }
  admitDone(k: SaleKeys, buyer: string, holdId: string, outcome: 'held' | 'requeue') {
    return runScript<string>(this.redis, 'admAdmitDone', [k.sale, k.buyer(buyer), k.admitting, k.wait], [buyer, holdId, outcome]);
  }
  lease(k: SaleKeys, owner: string, ttlMs: number) {
    return runScript<number>(this.redis, 'admLease', [k.lease], [owner, ttlMs]);
  }
  putSale(k: SaleKeys, mode: 'create' | 'update', fields: Record<string, string | number>) {
    return runScript<number>(this.redis, 'admPutSale', [k.sale], [mode, ...Object.entries(fields).flat()]);
  }
}
