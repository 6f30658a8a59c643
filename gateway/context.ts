import type { Config } from '../shared/config.js';
import { createDb, type Db } from '../shared/db.js';
import type { Logger } from '../shared/logger.js';
import { createQueueRedis, createRedis, type RedisClient } from '../shared/redis.js';
import { Inventory } from '../inventory/inventory-service.js';
import { SaleService } from '../admission/sale-service.js';
import { WaitingRoom } from '../admission/waiting-room.js';
import { Payments } from '../settlement/payments.js';
import { createSettlementClient, type SettlementClient } from '../settlement/client.js';
import type { Sale } from '../admission/sale-schema.js';
import { SharedReads } from './shared-reads.js';

/** Everything a gateway process talks to, made once at start. */
export interface Context {
  config: Config;
  log: Logger;
  redis: RedisClient;
  /** The settlement queues' own client (createQueueRedis): keeps BullMQ's scripts off `redis`'s pipelines. */
  queueRedis: RedisClient;
  db: Db;
  inventory: Inventory;
  sales: SaleService;
  room: WaitingRoom;
  /** Settlement as the gateway may use it: Stripe events accepted, dead letters, the payment queue to hand on. */
  settlement: SettlementClient;
  /** Starts the payment of a hold (settlement's doorway: the buyer path never sees the queue). */
  payments: Payments;
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
  const settlement = createSettlementClient(queueRedis, prefix, log);
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
    settlement,
    payments: new Payments(settlement.paymentQueue, inventory, log),
    saleCache: new SaleCache(sales),
  };
}

export async function closeContext(c: Context): Promise<void> {
  await c.settlement.close();
  await c.db.end().catch(() => {});
  c.redis.disconnect();
  c.queueRedis.disconnect();
}
