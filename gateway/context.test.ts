import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../shared/config.js';
import { databaseUrl, redisUrl, silentLog, testPrefix } from '../tests/helpers/env.js';
import { closeContext, createContext } from './context.js';

// BullMQ defines its scripts (~65) on the client it is given, and an autopipelining ioredis client
// copies every script defined on it onto each pipeline it builds: on the request client that was
// ~70 µs per batch of commands. The queues get a client of their own; the request client keeps only
// the inventory and admission scripts.
const ctx = createContext(loadConfig({
  NODE_ENV: 'test', HOST: '127.0.0.1', PORT: '0', REDIS_URL: redisUrl(), DATABASE_URL: databaseUrl(), REDIS_PREFIX: testPrefix(),
  ADMIN_TOKEN: 'context-admin-token', BUYER_JWT_SECRET: 'context-buyer-secret', STRIPE_SECRET_KEY: 'sk_test_context', STRIPE_WEBHOOK_SECRET: 'whsec_context',
}), silentLog);
afterAll(() => closeContext(ctx));

const scriptsOf = (client: unknown): string[] => Object.keys((client as { scriptsSet: Record<string, unknown> }).scriptsSet);

describe('the gateway context', () => {
  it('keeps the BullMQ scripts off the autopipelined request client', async () => {
    await ctx.settlement.waitUntilReady();
    // A call that needs the queue's scripts loaded: they are now defined on the queues' client.
    await ctx.settlement.paymentQueue.getJobCounts();
    expect(scriptsOf(ctx.queueRedis).length).toBeGreaterThan(20);
    expect(scriptsOf(ctx.queueRedis).some((n) => /^addStandardJob/.test(n))).toBe(true);
    const own = scriptsOf(ctx.redis);
    expect(own.some((n) => /^addStandardJob|^moveToFinished/.test(n))).toBe(false);
    expect(own.length).toBeGreaterThan(0);
    expect(own.every((n) => /^(inv|adm)[A-Z]/.test(n))).toBe(true);
  });
});
