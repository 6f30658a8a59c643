import { loadConfig } from '../shared/config.js';
import { createLogger } from '../shared/logger.js';
import { migrate } from '../shared/db.js';
import { fatal, onShutdown, survivesConnectionLoss } from '../shared/process.js';
import { Admitter } from '../admission/admitter.js';
import { RedisGuard } from '../admission/redis-guard.js';
import { loadNativeUws } from '../shared/uws.js';
import { closeContext, createContext } from './context.js';
import { startGateway } from './server.js';

const log = createLogger('gateway');
survivesConnectionLoss(log);
let config;
try {
  config = loadConfig();
  // Refuse early, before touching Redis or Postgres, when only the slow JS fallback would run.
  loadNativeUws();
} catch (err) {
  fatal(log, err, 'gateway refused to start');
}

try {
  await migrate(config.DATABASE_URL, log);
} catch (err) {
  fatal(log, err, `Postgres at DATABASE_URL is not usable (is it running?)`);
}
const ctx = createContext(config, log);
// Every sale that exists now is in Redis and known, so its buyers upgrade on the synchronous path.
// A sale that cannot be loaded is quarantined or left to the guard: the gateway starts either way.
for (const sale of await ctx.sales.loadAll(log)) ctx.saleCache.markKnown(sale.id);
const guard = new RedisGuard(ctx.sales, log, config.REDIS_GUARD_MS);
guard.start();
const admitter = new Admitter(ctx.redis, config.REDIS_PREFIX, ctx.inventory, { tickMs: config.TICK_MS, leaseMs: 2000, batch: 1000, log });
if (config.RUN_ADMITTER) admitter.start();
const gateway = await startGateway(ctx);
log.info({ port: gateway.port, pid: process.pid }, 'gateway listening');
process.send?.({ ready: true, port: gateway.port });

onShutdown(log, async () => {
  await gateway.close();
  await admitter.stop();
  await guard.stop();
  await closeContext(ctx);
});
