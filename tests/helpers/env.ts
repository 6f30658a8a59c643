import { randomBytes } from 'node:crypto';
import { inject } from 'vitest';
import { createDb, type Db } from '../../shared/db.js';
import { createRedis, type RedisClient } from '../../shared/redis.js';
import { createLogger } from '../../shared/logger.js';
import { Inventory } from '../../inventory/inventory-service.js';
import { SaleService } from '../../admission/sale-service.js';
import { WaitingRoom } from '../../admission/waiting-room.js';
import type { SaleInput } from '../../admission/sale-schema.js';

export const redisUrl = () => inject('redisUrl');
export const databaseUrl = () => inject('databaseUrl');

/** A key prefix of its own for each test file, so files running side by side never share keys. */
export function testPrefix(): string {
  return `t${randomBytes(4).toString('hex')}:`;
}

export function uniqueId(label: string): string {
  return `${label}-${randomBytes(4).toString('hex')}`;
}

export const silentLog = createLogger('test', 'silent');

export interface Services {
  prefix: string;
  redis: RedisClient;
  db: Db;
  inventory: Inventory;
  sales: SaleService;
  room: WaitingRoom;
  close(): Promise<void>;
}

export function services(prefix = testPrefix()): Services {
  const redis = createRedis(redisUrl(), { name: 'test' });
  const db = createDb(databaseUrl(), 10);
  const inventory = new Inventory(redis, prefix);
  const sales = new SaleService(db, redis, prefix, inventory);
  return {
    prefix, redis, db, inventory, sales,
    room: new WaitingRoom(redis, prefix, inventory),
    close: async () => {
      await db.end();
      redis.disconnect();
    },
  };
}

export function saleInput(over: Partial<SaleInput> = {}): SaleInput {
  return {
    id: uniqueId('sale'), name: 'Test drop', sku: 'SKU-T', price: { amount: 1999, currency: 'eur' }, stock: 10, pools: 2,
    admitPerSecond: 1000, maxActiveHolds: 1000, holdSeconds: 60, perBuyerLimit: 1, ...over,
  };
}
