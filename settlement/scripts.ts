import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineScripts, loadLuaDir } from '../shared/lua-loader.js';
import { runScript, type RedisClient } from '../shared/redis.js';

const LUA = loadLuaDir(join(dirname(fileURLToPath(import.meta.url)), 'lua'), 'stl');

/** The stream's answer to a batch: appended (with the new entry ids), or behind the ledger (with its last id). */
export type PublishReply = { appended: string[] } | { behind: string };

/** The only module that knows the key order and argument packing of settlement's scripts. */
export class SettlementScripts {
  constructor(readonly redis: RedisClient) {
    defineScripts(redis, LUA);
  }

  /** publish-events-1.lua: `entries` are field-value lists, all with the same fields in the same order. */
  async publishEvents(stream: string, recordedLast: string | null, maxLen: number, entries: string[][]): Promise<PublishReply> {
    const pairs = (entries[0]?.length ?? 0) / 2;
    const r = await runScript<[number, ...string[]]>(this.redis, 'stlPublishEvents', [stream], [recordedLast ?? '', maxLen, pairs, ...entries.flat()]);
    return r[0] === 1 ? { appended: r.slice(1) as string[] } : { behind: String(r[1]) };
  }
}
