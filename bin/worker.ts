/**
 * The settlement worker process (`npm run worker`): payment and Stripe-event workers, reconciliation,
 * the outbox relay, and a Redis guard. A composition root, so in bin/: it wires settlement (below) to
 * admission (above it: the saga's BuyerOutcomes port, the guard over SaleService), which no settlement
 * module may import (docs/architecture.md).
 */
import { createServer } from 'node:http';
import { loadConfig, PROCESS_SECRETS } from '../shared/config.js';
import { registry } from '../shared/metrics.js';
import { METRICS_REFUSED, metricsChecker } from '../shared/bearer.js';
import { createLogger } from '../shared/logger.js';
import { createDb, migrate } from '../shared/db.js';
import { createQueueRedis, createRedis } from '../shared/redis.js';
import { fatal, onShutdown, survivesConnectionLoss } from '../shared/process.js';
import { errorListener } from '../shared/connection-errors.js';
import { Inventory } from '../inventory/inventory-service.js';
import { SaleStore } from '../admission/sale-store.js';
import { SaleService } from '../admission/sale-service.js';
import { RedisGuard } from '../admission/redis-guard.js';
import { buyerOutcomes } from '../admission/buyer-outcomes.js';
import { createStripe } from '../settlement/stripe-client.js';
import { PaymentStore } from '../settlement/payment-store.js';
import { PaymentProvider } from '../settlement/payment-provider.js';
import { createPaymentWorker } from '../settlement/payment-worker.js';
import { createPaymentQueue } from '../settlement/payment-job.js';
import { createStripeEventWorker } from '../settlement/stripe-events.js';
import { Reconciler } from '../settlement/reconciler.js';
import { OutboxRelay } from '../settlement/outbox-relay.js';
import type { SagaDeps } from '../settlement/saga.js';

const log = createLogger('settlement');
survivesConnectionLoss(log);
let config;
try {
  config = loadConfig(process.env, PROCESS_SECRETS.worker);
  await migrate(config.DATABASE_URL, log);
} catch (err) {
  fatal(log, err, 'settlement worker refused to start');
}
const timeouts = { commandTimeoutMs: config.REDIS_COMMAND_TIMEOUT_MS, log };
const redis = createRedis(config.REDIS_URL, { name: 'settlement', ...timeouts });
const blocking = createRedis(config.REDIS_URL, { subscriber: true, name: 'settlement-worker', log });
const eventsBlocking = createRedis(config.REDIS_URL, { subscriber: true, name: 'settlement-events', log });
const queueRedis = createQueueRedis(config.REDIS_URL, 'settlement-queues', timeouts);
const db = createDb(config.DATABASE_URL, Math.min(40, config.WORKER_CONCURRENCY + 10), undefined, log);
const deps: SagaDeps = {
  redis,
  prefix: config.REDIS_PREFIX,
  inventory: new Inventory(redis, config.REDIS_PREFIX),
  store: new PaymentStore(db),
  provider: new PaymentProvider(createStripe(config.STRIPE_SECRET_KEY, config.STRIPE_API_URL, config.STRIPE_TIMEOUT_MS)),
  buyers: buyerOutcomes(redis, config.REDIS_PREFIX),
  log,
};
const worker = createPaymentWorker(blocking, deps, { concurrency: config.WORKER_CONCURRENCY, lockMs: config.PAYMENT_LOCK_MS });
const eventWorker = createStripeEventWorker(eventsBlocking, deps);
const payments = createPaymentQueue(queueRedis, config.REDIS_PREFIX);
// A Queue re-emits its connection's errors; without a listener each one is printed as a stack trace.
payments.on('error', errorListener(log, 'payment queue error'));
const sales = new SaleStore(db);
// Workers watch Redis too: a loss is found within REDIS_GUARD_MS even with no gateway running.
const guard = new RedisGuard(new SaleService(db, redis, config.REDIS_PREFIX, deps.inventory, log), log, config.REDIS_GUARD_MS);
const reconciler = new Reconciler(deps, db, payments, {
  afterMs: config.RECONCILE_AFTER_MS,
  deadLetterReleaseMs: config.DEAD_LETTER_RELEASE_MS,
  listSales: async () => (await sales.list()).map((s) => ({ id: s.id, pools: s.pools })),
});
const relay = new OutboxRelay(db, redis, config.REDIS_PREFIX, log);
await Promise.all([worker.waitUntilReady(), eventWorker.waitUntilReady()]);
reconciler.start(config.RECONCILE_INTERVAL_MS);
relay.start(config.OUTBOX_POLL_MS);
guard.start();
log.info({ concurrency: config.WORKER_CONCURRENCY, pid: process.pid, stripe: config.STRIPE_API_URL ?? 'the real Stripe API' }, 'settlement worker ready');
// Workers have no gateway port: Prometheus scrapes them here when METRICS_PORT is set.
// With METRICS_TOKEN set it asks for the token, as the gateway's /metrics does.
const metricsAllowed = metricsChecker(config.METRICS_TOKEN);
const metricsServer = config.METRICS_PORT === undefined ? undefined : createServer((req, res) => {
  if (req.url !== '/metrics') return void res.writeHead(404).end();
  if (!metricsAllowed(req.headers.authorization ?? '')) {
    return void res.writeHead(401, { 'content-type': 'application/json' })
      .end(JSON.stringify({ error: { code: 'unauthorized', message: METRICS_REFUSED } }));
  }
  registry.metrics().then((text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text), () => res.writeHead(500).end());
}).listen(config.METRICS_PORT);
process.send?.({ ready: true });

onShutdown(log, async () => {
  metricsServer?.close();
  relay.stop();
  await guard.stop();
  await reconciler.stop();
  await Promise.all([worker.close(), eventWorker.close()]);
  await payments.close();
  await db.end();
  redis.disconnect();
  queueRedis.disconnect();
  blocking.disconnect();
  eventsBlocking.disconnect();
});
