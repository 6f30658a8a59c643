import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadLuaDir, TEST_CLOCK, type TestClockHook } from '../../shared/lua-loader.js';
import type { RedisClient } from '../../shared/redis.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface TestClock {
  now(): number;
  set(ms: number): void;
  advance(ms: number): void;
}

/**
 * Gives `client` a clock of the test's own (tests only): every inventory and admission script that
 * reads the time (now-ms) is defined on this client with the test clock in its place, and is given
 * `clock.now()` as its last ARGV (shared/redis.ts runScript). Expiry and token-bucket tests then move
 * time forward with `advance` instead of sleeping. Use a client of its own, and call this before any
 * Scripts class is made on it; its other scripts are the production ones.
 */
export function useTestClock(client: RedisClient, startMs: number): TestClock {
  let t = startMs;
  const scripts = [
    ...loadLuaDir(join(root, 'inventory', 'lua'), 'inv', { testClock: true }),
    ...loadLuaDir(join(root, 'admission', 'lua'), 'adm', { testClock: true }),
  ].filter((s) => s.clock);
  for (const s of scripts) client.defineCommand(s.name, { lua: s.lua, numberOfKeys: s.numberOfKeys });
  const hook: TestClockHook = { now: () => t, scripts: new Set(scripts.map((s) => s.name)) };
  Object.defineProperty(client, TEST_CLOCK, { value: hook, configurable: true });
  return {
    now: () => t,
    set: (ms) => void (t = ms),
    advance: (ms) => void (t += ms),
  };
}
