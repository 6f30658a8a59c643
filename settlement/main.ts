import { createServer } from 'node:http';
import { loadConfig } from '../shared/config.js';
import { registry } from '../shared/metrics.js';
import { createLogger } from '../shared/logger.js';
import { createDb, migrate } from '../shared/db.js';
import { createRedis } from '../shared/redis.js';
import { fatal, onShutdown } from '../shared/process.js';
import { Inventory } from '../inventory/inventory-service.js';
import { createStripe } from './stripe-client.js';
import { PaymentStore } from './payment-store.js';
import { createPaymentWorker } from './payment-worker.js';

const log = createLogger('settlement');
let config;
try {
  config = loadConfig();
  await migrate(config.DATABASE_URL, log);
} catch (err) {
  fatal(log, err, 'settlement worker refused to start');
}
const redis = createRedis(config.REDIS_URL, { name: 'settlement' });
const blocking = createRedis(config.REDIS_URL, { subscriber: true, name: 'settlement-worker' });
const db = createDb(config.DATABASE_URL, Math.min(50, config.WORKER_CONCURRENCY + 5));
const deps = {
  redis,
  prefix: config.REDIS_PREFIX,
  inventory: new Inventory(redis, config.REDIS_PREFIX),
  store: new PaymentStore(db),
  stripe: createStripe(config.STRIPE_SECRET_KEY, config.STRIPE_API_URL),
  log,
};
const worker = createPaymentWorker(blocking, deps, config.WORKER_CONCURRENCY);
await worker.waitUntilReady();
log.info({ concurrency: config.WORKER_CONCURRENCY, pid: process.pid, stripe: config.STRIPE_API_URL ?? 'the real Stripe API' }, 'settlement worker ready');
// Workers have no gateway port: Prometheus scrapes them here when METRICS_PORT is set.
const metricsServer = config.METRICS_PORT === undefined ? undefined : createServer((req, res) => {
  if (req.url !== '/metrics') return void res.writeHead(404).end();
  registry.metrics().then((text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text), () => res.writeHead(500).end());
}).listen(config.METRICS_PORT);
process.send?.({ ready: true });

onShutdown(log, async () => {
  metricsServer?.close();
  await worker.close();
  await db.end();
  redis.disconnect();
  blocking.disconnect();
});
