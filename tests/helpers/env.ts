import { randomBytes } from 'node:crypto';
import { inject } from 'vitest';
import pg from 'pg';
import { createDb, type Db } from '../../shared/db.js';
import { createRedis, type RedisClient } from '../../shared/redis.js';
import { createLogger } from '../../shared/logger.js';
import { Inventory } from '../../inventory/inventory-service.js';
import { SaleService } from '../../admission/sale-service.js';
import { WaitingRoom } from '../../admission/waiting-room.js';
import type { SaleInput } from '../../admission/sale-schema.js';
import { useTestClock, type TestClock } from './test-clock.js';

export const redisUrl = () => inject('redisUrl');
/** 'single' in the "redis" project, 'cluster' in the "cluster" one (vitest.config.ts). */
export const redisMode = () => inject('redisMode');
export const databaseUrl = () => inject('databaseUrl');

/** A migrated database of one's own (copied from the run's template), dropped with the run's. */
export async function isolatedDatabase(): Promise<string> {
  const template = inject('templateDb');
  const name = `${template.slice(0, -'_tpl'.length)}_s${randomBytes(5).toString('hex')}`;
  const c = new pg.Client({ connectionString: inject('baseDatabaseUrl') });
  await c.connect();
  try {
    // Concurrent copies of one template can collide briefly ("being accessed by other users").
    for (let i = 0; ; i++) {
      try {
        await c.query(`CREATE DATABASE ${name} TEMPLATE ${template}`);
        break;
      } catch (err) {
        if (i >= 20 || !/being accessed by other users/.test((err as Error).message)) throw err;
        await new Promise((r) => setTimeout(r, 50 + Math.random() * 100));
      }
    }
  } finally {
    await c.end();
  }
  const u = new URL(inject('baseDatabaseUrl'));
  u.pathname = `/${name}`;
  return u.toString();
}

/**
 * A key prefix of its own for each test file, so files running side by side never share keys. It
 * carries no hash tag: on a Cluster each key's slot comes from the tag its module puts in the name
 * (`{sale:ID}`, `{sale:ID:pN}`, …), so a file's keys spread over the nodes as production's do.
 */
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
  /** The scripts' clock when the services were made with `clockMs` (tests/helpers/test-clock.ts). */
  clock?: TestClock;
  close(): Promise<void>;
}

/** `clockMs`: every clock-reading script runs on a test clock starting there, moved only by the test. */
export function services(prefix = testPrefix(), dbUrl = databaseUrl(), o: { clockMs?: number } = {}): Services {
  const redis = createRedis(redisUrl(), { name: 'test' });
  // Before any Scripts class is made on the client: theirs would replace the clocked scripts.
  const clock = o.clockMs === undefined ? undefined : useTestClock(redis, o.clockMs);
  const db = createDb(dbUrl, 10);
  const inventory = new Inventory(redis, prefix);
  const sales = new SaleService(db, redis, prefix, inventory);
  return {
    prefix, redis, db, inventory, sales,
    room: new WaitingRoom(redis, prefix, inventory),
    ...(clock ? { clock } : {}),
    close: async () => {
      await db.end();
      redis.disconnect();
    },
  };
}

export function saleInput(over: Partial<SaleInput> = {}): SaleInput {
  return {
    id: uniqueId('sale'), name: 'Test drop', sku: 'SKU-T', price: { amount: 1999, currency: 'eur' }, stock: 10, pools: 2,
    admitPerSecond: 1000, maxActiveHolds: 1000, holdSeconds: 60, perBuyerLimit: 1, lotteryWindowSeconds: 0, ...over,
  };
}
