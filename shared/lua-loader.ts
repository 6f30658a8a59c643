import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Redis, Cluster } from 'ioredis';

export interface LuaScript {
  /** Command name defined on the client, e.g. `fsJoin` for `join-7.lua` in module `fs`. */
  name: string;
  numberOfKeys: number;
  lua: string;
  /** Whether the script reads the clock (includes now-ms). */
  clock: boolean;
}

/**
 * Tests only: a client carrying this hook has its clock-reading scripts defined with a test clock
 * (loadLuaDir option testClock), and runScript appends `now()` as their last ARGV. Production never
 * sets it, so production scripts and their arguments are exactly as written.
 */
export const TEST_CLOCK = Symbol('fs.testClock');
export interface TestClockHook {
  now(): number;
  /** Command names of the scripts defined with the test clock on this client. */
  scripts: Set<string>;
}

const INCLUDE = /^--\s*@include\s+([a-z0-9-]+)\s*$/gm;

/**
 * Reads every `verb-N.lua` of a folder: N is the number of KEYS (BullMQ's convention), and
 * `--@include name` lines are replaced by `shared/lua-includes/name.lua`, so helpers live in one file each.
 */
export function loadLuaDir(dir: string, commandPrefix: string, opts: { testClock?: boolean } = {}): LuaScript[] {
  const includesDir = join(dirname(fileURLToPath(import.meta.url)), 'lua-includes');
  const inline = (src: string, seen: Set<string>): string =>
    src.replace(INCLUDE, (_m, inc: string) => {
      if (seen.has(inc)) return '';
      seen.add(inc);
      // Tests only: the clock comes from the caller (now-ms-test-clock.lua, see TEST_CLOCK).
      const file = opts.testClock && inc === 'now-ms' ? 'now-ms-test-clock' : inc;
      return inline(readFileSync(join(includesDir, `${file}.lua`), 'utf8'), seen);
    });
  return readdirSync(dir)
    .filter((f) => f.endsWith('.lua'))
    .map((file) => {
      const m = /^([a-z-]+)-(\d+)\.lua$/.exec(file);
      if (!m) throw new Error(`lua file ${file} must be named verb-N.lua (N = number of KEYS)`);
      const verb = m[1]!.replace(/-([a-z])/g, (_x, c: string) => c.toUpperCase());
      const seen = new Set<string>();
      const lua = inline(readFileSync(join(dir, file), 'utf8'), seen);
      return {
        name: commandPrefix + verb[0]!.toUpperCase() + verb.slice(1),
        numberOfKeys: Number(m[2]),
        lua,
        clock: seen.has('now-ms'),
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
