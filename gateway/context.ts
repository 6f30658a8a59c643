import type { Queue } from 'bullmq';
import type { Config } from '../shared/config.js';
import { createDb, type Db } from '../shared/db.js';
import { errorListener } from '../shared/connection-errors.js';
import type { Logger } from '../shared/logger.js';
import { createQueueRedis, createRedis, type RedisClient } from '../shared/redis.js';
import { Inventory } from '../inventory/inventory-service.js';
import { SaleService } from '../admission/sale-service.js';
import { WaitingRoom } from '../admission/waiting-room.js';
import { createPaymentQueue, type PaymentJob } from '../settlement/payment-job.js';
import { Payments } from '../settlement/payments.js';
import { createStripeEventQueue, type StripeEventJob } from '../settlement/stripe-events.js';
import type { Sale } from '../admission/sale-schema.js';
import { SharedReads } from './shared-reads.js';

/** Everything a gateway process talks to, made once at start. */
export interface Context {
  config: Config;
  log: Logger;
  redis: RedisClient;
  /** The BullMQ queues' own client (createQueueRedis): keeps their scripts off `redis`'s pipelines. */
  queueRedis: RedisClient;
  db: Db;
  inventory: Inventory;
  sales: SaleService;
  room: WaitingRoom;
  payments: Queue<PaymentJob>;
  /** Starts the payment of a hold (settlement's doorway: the buyer path never sees the queue). */
  payer: Payments;
  /** Verified Stripe webhook events, handed to the settlement workers. */
  stripeEvents: Queue<StripeEventJob>;
  saleCache: SaleCache;
}

/**
 * Sale settings for the buyer path (price, limits, window) without a Postgres read per connection:
 * at most one read per sale per second, and one at a time. Every join and status reads the sale; when
 * the entry expires under a stampede, thousands of frames in flight would each start their own read,
 * queue behind the pool's connections and fail after its connect timeout (`internal` errors, joins
 * left unanswered). So a read in flight is shared by everyone who asks meanwhile.
 */
export class SaleCache {
  private readonly reads: SharedReads<Sale | null>;
  /** Ids of sales seen to exist. Sales are never deleted, so an id once seen stays valid for good. */
  private readonly known = new Set<string>();
  constructor(sales: Pick<SaleService, 'get'>, ttlMs = 1000) {
    this.reads = new SharedReads(async (id) => {
      const sale = await sales.get(id);
      if (sale) this.known.add(id);
      return sale;
    }, ttlMs);
  }
  get(id: string): Promise<Sale | null> {
    return this.reads.get(id);
  }
  /** Answers without I/O whether a sale exists, when this process has seen it (the upgrade's fast path). */
  isKnown(id: string): boolean {
    return this.known.has(id);
  }
  /** A sale is known to exist (listed at start, created here, or its events arrive). */
  markKnown(id: string): void {
    this.known.add(id);
  }
  forget(id: string): void {
    this.reads.forget(id);
  }
  /** Entries kept by sale id: the known ids and the reads not yet expired (for the sale-entries gauge). */
  size(): number {
    return this.known.size + this.reads.size();
  }
}

export function createContext(config: Config, log: Logger): Context {
  const prefix = config.REDIS_PREFIX;
  const timeouts = { commandTimeoutMs: config.REDIS_COMMAND_TIMEOUT_MS, log };
  const redis = createRedis(config.REDIS_URL, { name: 'gateway', ...timeouts });
  const queueRedis = createQueueRedis(config.REDIS_URL, 'gateway-queues', timeouts);
  const db = createDb(config.DATABASE_URL, 20, undefined, log);
  const payments = createPaymentQueue(queueRedis, prefix);
  const stripeEvents = createStripeEventQueue(queueRedis, prefix);
  // A Queue re-emits its connection's errors; without a listener each one is printed as a stack trace.
  payments.on('error', errorListener(log, 'payment queue error'));
  stripeEvents.on('error', errorListener(log, 'stripe event queue error'));
  const inventory = new Inventory(redis, prefix);
  const sales = new SaleService(db, redis, prefix, inventory, log);
  return {
    config,
    log,
    redis,
    queueRedis,
    db,
    inventory,
    sales,
    room: new WaitingRoom(redis, prefix, inventory),
    payments,
    payer: new Payments(payments, inventory, log),
    stripeEvents,
    saleCache: new SaleCache(sales),
  };
}

export async function closeContext(c: Context): Promise<void> {
  await c.payments.close().catch(() => {});
  await c.stripeEvents.close().catch(() => {});
  await c.db.end().catch(() => {});
  c.redis.disconnect();
  c.queueRedis.disconnect();
}
