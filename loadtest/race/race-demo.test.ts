import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedis, type RedisClient } from '../../shared/redis.js';
import { databaseUrl, redisUrl } from '../../tests/helpers/env.js';
import { race, raceSetup, renderRaceTable, STRATEGIES, type RaceResult } from './strategies.js';

/**
 * The race demo at a small scale, on the real Postgres and Redis: the naive reservation must really
 * oversell (or the demo shows nothing), and the three correct ones must sell exactly the stock.
 */
const BUYERS = 600;
const STOCK = 50;

let redis: RedisClient;
let setup: Awaited<ReturnType<typeof raceSetup>>;

beforeAll(async () => {
  redis = createRedis(redisUrl(), { name: 'race-demo-test' });
  setup = await raceSetup(databaseUrl(), redis, 20);
});
afterAll(async () => {
  const prefix = setup?.prefix;
  await setup?.cleanup();
  if (prefix) expect(await redis.keys(`${prefix}*`)).toEqual([]);
  redis?.disconnect();
});

describe('race demo', () => {
  it('(a) SELECT then UPDATE oversells the same stock to the same buyers', async () => {
    let worst: RaceResult | undefined;
    // A race, not a certainty: a few tries, one of which must oversell.
    for (let i = 0; i < 3 && !(worst && worst.oversold > 0); i++) worst = await race(setup, 'select-then-update', BUYERS, STOCK);
    expect(worst!.oversold, JSON.stringify(worst)).toBeGreaterThan(0);
    expect(worst!.sold + worst!.left).toBeGreaterThan(STOCK);
  });

  it.each(['select-for-update', 'conditional-update', 'lua-pool-take'] as const)('%s sells exactly the stock, no more', async (strategy) => {
    const r = await race(setup, strategy, BUYERS, STOCK);
    expect(r).toMatchObject({ sold: STOCK, left: 0, oversold: 0, errors: 0, buyers: BUYERS });
    expect(r.reservationsPerSecond).toBeGreaterThan(0);
  });

  it('prints one row per strategy', () => {
    const rows = STRATEGIES.map((strategy) => ({ strategy, buyers: 1, stock: 1, sold: 1, left: 0, oversold: 0, errors: 0, elapsedMs: 1, answersPerSecond: 1, reservationsPerSecond: 1 }));
    const t = renderRaceTable(rows).split('\n');
    expect(t).toHaveLength(2 + STRATEGIES.length);
    expect(t[2]).toContain('(a) SELECT then UPDATE');
    expect(t[5]).toContain('(d) Lua pool take');
  });
});
