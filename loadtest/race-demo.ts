/**
 * The seed's story in one command, on the real Postgres and Redis: the same concurrent buyers reserve
 * the same stock four ways, and the table shows which ways oversell and how fast each is.
 *
 *   npm run race-demo -- [--buyers 5000] [--stock 500] [--connections 40] [--json]
 */
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { createRedis } from '../shared/redis.js';
import { race, raceSetup, renderRaceTable, STRATEGIES, type RaceResult } from './race/strategies.js';
import { requireServices } from './bench/infra.js';

const { values } = parseArgs({
  options: { buyers: { type: 'string' }, stock: { type: 'string' }, connections: { type: 'string' }, json: { type: 'boolean' } },
});
const parsed = z.object({
  buyers: z.coerce.number().int().positive().default(5000),
  stock: z.coerce.number().int().positive().default(500),
  connections: z.coerce.number().int().min(2).max(90).default(40),
  json: z.boolean().default(false),
}).safeParse(values);
if (!parsed.success) {
  console.error(`invalid flags: ${parsed.error.issues.map((i) => `--${String(i.path[0])}: ${i.message}`).join('; ')}`);
  process.exit(2);
}
const o = parsed.data;
const { redisUrl, databaseUrl } = await requireServices().catch((err: Error) => {
  console.error(`race-demo: ${err.message}`);
  process.exit(2);
});
const redis = createRedis(redisUrl, { name: 'race-demo' });
const setup = await raceSetup(databaseUrl, redis, o.connections);
const rows: RaceResult[] = [];
try {
  for (const s of STRATEGIES) rows.push(await race(setup, s, o.buyers, o.stock));
} finally {
  await setup.cleanup();
  redis.disconnect();
}
if (o.json) console.log(JSON.stringify(rows));
else {
  console.log(`${o.buyers} concurrent buyers, ${o.stock} units, ${o.connections} Postgres connections, one Redis connection (auto-pipelined)\n`);
  console.log(renderRaceTable(rows));
  const a = rows[0]!;
  console.log(`\n(a) ${a.oversold > 0 ? `oversold by ${a.oversold}: ${a.sold} buyers were promised ${a.stock} units` : 'did not oversell this time (it is a race: run it again)'}; (b)(c)(d) never oversell.`);
}
