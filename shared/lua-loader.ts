import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Redis, Cluster } from 'ioredis';

export interface LuaScript {
  /** Command name defined on the client, e.g. `fsJoin` for `join-7.lua` in module `fs`. */
  name: string;
  numberOfKeys: number;
  lua: string;
}

const INCLUDE = /^--\s*@include\s+([a-z0-9-]+)\s*$/gm;

/**
 * Reads every `verb-N.lua` of a folder: N is the number of KEYS (BullMQ's convention), and
 * `--@include name` lines are replaced by `shared/lua-includes/name.lua`, so helpers live in one file each.
 */
export function loadLuaDir(dir: string, commandPrefix: string): LuaScript[] {
  const includesDir = join(dirname(fileURLToPath(import.meta.url)), 'lua-includes');
  const inline = (src: string, seen: Set<string>): string =>
    src.replace(INCLUDE, (_m, inc: string) => {
      if (seen.has(inc)) return '';
      seen.add(inc);
      return inline(readFileSync(join(includesDir, `${inc}.lua`), 'utf8'), seen);
    });
  return readdirSync(dir)
    .filter((f) => f.endsWith('.lua'))
    .map((file) => {
      const m = /^([a-z-]+)-(\d+)\.lua$/.exec(file);
      if (!m) throw new Error(`lua file ${file} must be named verb-N.lua (N = number of KEYS)`);
      const verb = m[1]!.replace(/-([a-z])/g, (_x, c: string) => c.toUpperCase());
      return {
        name: commandPrefix + verb[0]!.toUpperCase() + verb.slice(1),
        numberOfKeys: Number(m[2]),
        lua: inline(readFileSync(join(dir, file), 'utf8'), new Set()),
      };
    });
}

/** ioredis defineCommand: EVALSHA with NOSCRIPT fallback and pipeline support, done by the client. */
export function defineScripts(client: Redis | Cluster, scripts: LuaScript[]): void {
  for (const s of scripts) {
    if ((client as unknown as Record<string, unknown>)[s.name]) continue;
    client.defineCommand(s.name, { lua: s.lua, numberOfKeys: s.numberOfKeys });
  }
}
