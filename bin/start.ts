/**
 * `npm start`: the whole stack on this machine in one command — checks Redis and Postgres, migrates,
 * starts the Stripe stand-in, the gateway (with the admitter/sweeper) and the settlement worker,
 * creates the demo sale, and prints where to look. A gateway or worker that dies is restarted with
 * backoff (bin/supervisor.ts); Ctrl-C stops all of it.
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { loadConfig, PROCESS_SECRETS, type Config } from '../shared/config.js';
import { createLogger } from '../shared/logger.js';
import { createDb, migrate } from '../shared/db.js';
import { createRedis } from '../shared/redis.js';
import { fatal } from '../shared/process.js';
import { Inventory } from '../inventory/inventory-service.js';
import { SaleService } from '../admission/sale-service.js';
import { startStandIn, type StandIn } from '../settlement/stripe-stand-in/server.js';
import { Supervised } from './supervisor.js';

const log = createLogger('start');
// `npm start` is the development command: it opts into the development defaults (secrets, the
// stand-in, /dev/buyer-token) when nobody chose, and says so. Its children inherit the choice.
if (!process.env.NODE_ENV?.trim()) {
  process.env.NODE_ENV = 'development';
  console.log('NODE_ENV was unset: running with NODE_ENV=development (development secrets, the Stripe stand-in, /dev/buyer-token).');
}
let config: Config | undefined;
try {
  config = loadConfig(process.env, PROCESS_SECRETS.start);
} catch (err) {
  fatal(log, err, 'invalid configuration');
}

const HOW_TO = `
Redis and PostgreSQL must be running locally (or set REDIS_URL / DATABASE_URL):
  Debian/Ubuntu:  apt-get install -y redis-server postgresql
                  redis-server --daemonize yes --port 6379 --save "" --appendonly no
                  pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start
  With Docker:    docker compose up redis postgres`;

async function check(): Promise<void> {
  const redis = createRedis(config!.REDIS_URL, { name: 'start-check' });
  redis.on('error', () => {});
  try {
    await Promise.race([redis.ping(), new Promise((_, rej) => setTimeout(() => rej(new Error('no answer in 3 s')), 3000))]);
  } catch (err) {
    redis.disconnect();
    console.error(`Redis is not reachable at ${config!.REDIS_URL}: ${(err as Error).message}${HOW_TO}`);
    process.exit(1);
  }
  redis.disconnect();
  try {
    await migrate(config!.DATABASE_URL, log);
  } catch (err) {
    console.error(`PostgreSQL is not usable at ${config!.DATABASE_URL}: ${(err as Error).message}${HOW_TO}`);
    process.exit(1);
  }
}

async function demoSale(): Promise<void> {
  const redis = createRedis(config!.REDIS_URL, { name: 'start-demo' });
  const db = createDb(config!.DATABASE_URL, 2);
  const sales = new SaleService(db, redis, config!.REDIS_PREFIX, new Inventory(redis, config!.REDIS_PREFIX));
  if (!(await sales.get('demo'))) {
    await sales.create({
      id: 'demo', name: 'Demo sneaker drop', sku: 'SNK-DEMO', price: { amount: 12000, currency: 'eur' }, stock: 100, pools: 4,
      admitPerSecond: 20, maxActiveHolds: 50, holdSeconds: 120, perBuyerLimit: 1,
      endsAt: new Date(Date.now() + 30 * 86400_000).toISOString(),
    });
    log.info('created the demo sale (id demo, 100 units)');
  }
  await db.end();
  redis.disconnect();
}

// Compiled (dist/bin/start.js), the children are the compiled entry files run by node itself; from
// source, the TypeScript ones through tsx.
const compiled = import.meta.url.endsWith('.js');

/** A child process of the stack, kept running: restarted with backoff when it dies (bin/supervisor.ts). */
function supervised(script: string, name: string, env: NodeJS.ProcessEnv = process.env): Supervised {
  const file = fileURLToPath(new URL(compiled ? script.replace(/\.ts$/, '.js') : script, import.meta.url));
  const execArgv = compiled ? [] : ['--import', 'tsx'];
  return new Supervised(name, () => fork(file, [], { execArgv, env, stdio: 'inherit' }), (line) => console.log(line));
}

await check();
let standIn: StandIn | undefined;
const apiUrl = new URL(config.STRIPE_API_URL ?? 'http://invalid');
if (config.NODE_ENV !== 'production' && ['127.0.0.1', 'localhost'].includes(apiUrl.hostname) && Number(apiUrl.port) === config.STAND_IN_PORT) {
  // The stand-in sends signed webhooks to the gateway, as Stripe would: settlement hears about every
  // payment twice (the API answer and the event) and must still take it exactly once.
  const hookHost = ['0.0.0.0', '::'].includes(config.HOST) ? '127.0.0.1' : config.HOST;
  standIn = await startStandIn({
    port: config.STAND_IN_PORT, host: '127.0.0.1', logger: log,
    webhook: { url: `http://${hookHost}:${config.PORT}/v1/stripe/webhook`, secret: config.STRIPE_WEBHOOK_SECRET },
  });
}
await demoSale();
const children = [
  // The load tools (npm run stampede, k6) run against this stack and open thousands of sockets from a
  // few loopback addresses: in development the per-address upgrade limit is off unless set.
  supervised('../gateway/main.ts', 'gateway', config.NODE_ENV === 'development'
    ? { ...process.env, UPGRADES_PER_ADDRESS_PER_SECOND: process.env.UPGRADES_PER_ADDRESS_PER_SECOND?.trim() || '0' }
    : process.env),
  // The worker's own /metrics (orders, payment attempts, provider latency) for Prometheus.
  supervised('./worker.ts', 'settlement worker', { ...process.env, METRICS_PORT: process.env.METRICS_PORT ?? '9101' }),
];
try {
  for (const c of children) await c.start();
} catch (err) {
  await Promise.all(children.map((c) => c.stop()));
  await standIn?.close();
  fatal(log, err, 'could not start the stack');
}

const base = `http://127.0.0.1:${config.PORT}`;
console.log(`
Flash-sale admission layer is running.
  Buyer page (demo sale):  ${base}/s/demo   (in development it asks for a made-up buyer name)
  Operator console:        ${base}/console  (the admin token is ADMIN_TOKEN; its development default is in README.md)
  Operator API:            ${base}/v1/admin/sales
  Health / metrics:        ${base}/readyz  ${base}/metrics  (worker: http://127.0.0.1:${process.env.METRICS_PORT ?? '9101'}/metrics)
  Stripe stand-in:         ${standIn ? `${standIn.url}  (faults: POST ${standIn.url}/_stand-in/faults; webhooks → the gateway)` : 'not started (STRIPE_API_URL points elsewhere)'}
Ctrl-C stops everything.
`);

// A child that dies from now on is restarted (with backoff) and the rest of the stack keeps running.
let stopping = false;
async function stopAll(): Promise<void> {
  if (stopping) process.exit(1);
  stopping = true;
  await Promise.all(children.map((c) => c.stop()));
  await standIn?.close();
  process.exit(0);
}
process.on('SIGINT', () => void stopAll());
process.on('SIGTERM', () => void stopAll());
