/**
 * 100,000 waiting buyers on one box (issue 13, part 5): memory per waiter, positions still pushed
 * every second, admissions/s with 100,000 waiting vs with a few thousand. Starts its own gateways
 * (one per ~17,000 sockets: the open-file limit here is 20,000 per process), load processes and a
 * private Redis Cluster (or --redis URL), and its own database on DATABASE_URL. Bench lines (the
 * `npm run bench` format) on stdout, progress and the full figures on stderr.
 *
 *   sh loadtest/with-fds.sh loadtest/waiters.ts [--waiters 100000] [--few 5000] [--rate 200] [--window 10]
 *        [--gateways N] [--herds N] [--sources 8] [--redis redis://127.0.0.1:7001?cluster=1]
 */
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { formatLine } from './bench/json-line.js';
import { requireServices } from './bench/infra.js';
import { waitersBench } from './bench/waiters.js';

/** Sockets one process may hold here (20,000 open files, less what it needs for itself). */
const PER_PROCESS = 17_000;
const count = z.coerce.number().int().positive();
const { values } = parseArgs({
  options: Object.fromEntries(['waiters', 'few', 'rate', 'window', 'gateways', 'herds', 'sources', 'redis'].map((f) => [f, { type: 'string' as const }])),
  strict: true,
});
const parsed = z.object({
  waiters: count.default(100_000),
  few: count.optional(),
  rate: count.default(200),
  window: count.default(10),
  gateways: count.optional(),
  herds: count.optional(),
  sources: count.max(250).default(8),
  redis: z.string().url().optional(),
}).safeParse(values);
if (!parsed.success) {
  console.error(`invalid flags: ${parsed.error.issues.map((i) => `--${String(i.path[0])}: ${i.message}`).join('; ')}`);
  process.exit(2);
}
const o = parsed.data;
const processes = Math.max(1, Math.ceil(o.waiters / PER_PROCESS));
let services;
try {
  services = await requireServices({ ...process.env, REDIS_URL: o.redis ?? process.env.REDIS_URL });
} catch (err) {
  console.error(`waiters: ${(err as Error).message}`);
  process.exit(2);
}
const note = (m: string) => process.stderr.write(`${m}\n`);
// Ctrl-C or a timeout: exit, so the exit hooks kill every child (gateways, load processes, Redis nodes).
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => process.exit(130));
try {
  const { lines, few, many } = await waitersBench({
    waiters: o.waiters,
    // "Few" waiters: enough that the window never runs out of them.
    few: o.few ?? Math.max(1000, Math.ceil(o.rate * (o.window + 5) * 1.5)),
    rate: o.rate, windowS: o.window, sources: o.sources, redis: o.redis,
    gateways: o.gateways ?? processes, herds: o.herds ?? processes,
    databaseUrl: services.databaseUrl, note,
  });
  note(JSON.stringify({ case: 'waiters', few, many }));
  for (const l of lines) console.log(formatLine(l));
  process.exit(0);
} catch (err) {
  console.error(`waiters FAILED: ${(err as Error).stack ?? err}`);
  process.exit(1);
}
