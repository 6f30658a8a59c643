import type { Queue } from 'bullmq';
import type { Config } from '../shared/config.js';
import { createDb, type Db } from '../shared/db.js';
import type { Logger } from '../shared/logger.js';
import { createRedis, type RedisClient } from '../shared/redis.js';
import { Inventory } from '../inventory/inventory-service.js';
import { SaleService } from '../admission/sale-service.js';
import { WaitingRoom } from '../admission/waiting-room.js';
import { createPaymentQueue, type PaymentJob } from '../settlement/payment-job.js';
import { createStripeEventQueue, type StripeEventJob } from '../settlement/stripe-events.js';
import type { Sale } from '../admission/sale-schema.js';

/** Everything a gateway process talks to, made once at start. */
export interface Context {
  config: Config;
  log: Logger;
  redis: RedisClient;
  db: Db;
  inventory: Inventory;
  sales: SaleService;
  room: WaitingRoom;
  payments: Queue<PaymentJob>;
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
  private readonly entries = new Map<string, { sale: Sale | null; at: number }>();
  private readonly loading = new Map<string, Promise<Sale | null>>();
  /** Ids of sales seen to exist. Sales are never deleted, so an id once seen stays valid for good. */
  private readonly known = new Set<string>();
  constructor(private readonly sales: Pick<SaleService, 'get'>, private readonly ttlMs = 1000) {}
  get(id: string): Promise<Sale | null> {
    const e = this.entries.get(id);
    if (e && Date.now() - e.at < this.ttlMs) return Promise.resolve(e.sale);
    const inFlight = this.loading.get(id);
    if (inFlight) return inFlight;
    const load: Promise<Sale | null> = this.sales.get(id).then(
      (sale) => {
        // Forgotten meanwhile (the sale changed): the read may predate the change, so it answers
        // those who asked before and is not kept for anyone after.
        if (this.loading.get(id) === load) {
          this.loading.delete(id);
          this.entries.set(id, { sale, at: Date.now() });
        }
        if (sale) this.known.add(id);
        return sale;
      },
      (err: unknown) => {
        if (this.loading.get(id) === load) this.loading.delete(id);
        throw err;
      },
    );
    this.loading.set(id, load);
    return load;
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
    this.entries.delete(id);
    this.loading.delete(id);
  }
}

export function createContext(config: Config, log: Logger): Context {
  const prefix = config.REDIS_PREFIX;
  const redis = createRedis(config.REDIS_URL, { name: 'gateway' });
  const db = createDb(config.DATABASE_URL, 20);
  const inventory = new Inventory(redis, prefix);
  const sales = new SaleService(db, redis, prefix, inventory);
  return {
    config,
    log,
    redis,
    db,
    inventory,
    sales,
    room: new WaitingRoom(redis, prefix, inventory),
    payments: createPaymentQueue(redis, prefix),
    stripeEvents: createStripeEventQueue(redis, prefix),
    saleCache: new SaleCache(sales),
  };
}

export async function closeContext(c: Context): Promise<void> {
  await c.payments.close().catch(() => {});
  await c.db.end().catch(() => {});
  c.redis.disconnect();
}
