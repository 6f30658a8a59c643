import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Queue, Worker } from 'bullmq';
import { createRedis, type RedisClient } from '../shared/redis.js';
import { redisUrl } from '../tests/helpers/env.js';
import { createPaymentQueue, enqueuePayment, PAYMENT_TRIES, paymentJobId, type PaymentJob } from './payment-job.js';
import { PaymentProvider } from './payment-provider.js';
import { createPaymentWorker } from './payment-worker.js';
import { settlementFixture } from '../tests/helpers/settlement-fixture.js';
import { startStandIn, type StandIn } from './stripe-stand-in/server.js';
import { createStripe } from './stripe-client.js';
import type { SagaDeps } from './saga.js';

// One layer owns the provider's retries: the payment job (payment-retry.ts). A provider that keeps
// failing must see exactly PAYMENT_TRIES requests for the failing step over the job's whole life —
// a retry loop inside the saga, the provider class or the SDK (maxNetworkRetries) would multiply it.
// The stand-in counts for us: with an error rate set it draws one random number per POST it receives,
// before anything else, so the draws are the requests that reached it, whoever sent them.

const f = settlementFixture();
let standIn: StandIn;
let deps: SagaDeps;
let payments: Queue<PaymentJob>;
let connection: RedisClient;
let worker: Worker<PaymentJob>;
/** Per POST the stand-in receives: fail it (true) or serve it. */
let failPost: (n: number) => boolean = () => false;
let posts = 0;

beforeAll(async () => {
  standIn = await startStandIn({ port: 0, random: () => (failPost(++posts) ? 0 : 1) });
  deps = { ...f.deps, provider: new PaymentProvider(createStripe('sk_test_retry_layers', standIn.url)) };
  payments = createPaymentQueue(f.s.redis, f.s.prefix);
  connection = createRedis(redisUrl(), { subscriber: true });
  worker = createPaymentWorker(connection, deps, { concurrency: 1 });
  await fetch(`${standIn.url}/_stand-in/faults`, { method: 'POST', body: JSON.stringify({ errorRate: 0.5 }) });
});
afterAll(async () => {
  await worker?.close();
  connection?.disconnect();
  await payments?.close();
  await standIn?.close();
});

/** Runs `job` through the worker until BullMQ is done with it (dead-lettered, or dropped as decided). */
async function runToTheEnd(job: PaymentJob): Promise<void> {
  posts = 0;
  await enqueuePayment(payments, job);
  const id = paymentJobId(job.holdId, job.attemptNo);
  // 1 s + 2 s + 4 s of backoff at most (less jitter) between the tries.
  await expect.poll(async () => {
    const j = await payments.getJob(id);
    return j ? await j.getState() : 'gone';
  }, { timeout: 20_000, interval: 100 }).toMatch(/^(failed|gone)$/);
}

describe('one retry layer for the provider', () => {
  it('every request fails: the create is sent exactly PAYMENT_TRIES times, then the job is a dead letter', async () => {
    failPost = () => true;
    const { job } = await f.payingHold();
    await runToTheEnd(job);
    expect(posts).toBe(PAYMENT_TRIES);
    expect(standIn.charges()).toEqual([]);
    expect(await f.s.db.query('SELECT status FROM payment_attempts WHERE hold_id = $1 AND dead_lettered_at IS NOT NULL', [job.holdId]))
      .toMatchObject({ rows: [{ status: 'pending' }] });
  }, 30_000);

  it('only the capture fails: one create, one confirm, exactly PAYMENT_TRIES captures; the order stands and is marked for reconciliation', async () => {
    // POST 1 creates, POST 2 confirms; every later one is a capture (nothing else is POSTed here).
    failPost = (n) => n > 2;
    const { saleId, job } = await f.payingHold();
    await runToTheEnd(job);
    expect(posts - 2).toBe(PAYMENT_TRIES);
    expect(await f.ordersOf(job.holdId)).toMatchObject([{ capture_status: 'failed' }]);
    // The buyer was told once: a failed capture does not hold the confirmation back.
    expect(f.framesTo(saleId, job.buyer).filter((x) => x.type === 'order_confirmed')).toHaveLength(1);
    expect(standIn.charges()).toEqual([]);
  }, 30_000);
});
