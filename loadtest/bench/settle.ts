import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { createDb } from '../../shared/db.js';
import { loadConfig } from '../../shared/config.js';
import { createRedis } from '../../shared/redis.js';
import { Inventory } from '../../inventory/inventory-service.js';
import { SaleService } from '../../admission/sale-service.js';
import { createPaymentQueue, enqueuePayment } from '../../settlement/payment-job.js';
import { makeLine, type BenchLine } from './json-line.js';
import { cpuPerUnit, startCpuMeter } from './cpu-meter.js';
import { benchPrefix, deletePrefix, ownDatabase, stackEnv, type BenchContext } from './infra.js';
import { startChild, type Child } from './child-processes.js';

/**
 * settle: orders settled per second end to end — payment jobs on the queue, two settlement worker
 * processes, the Stripe stand-in, Postgres and Redis — written against the public doorway
 * (enqueuePayment) so it keeps working while settlement changes inside. Baseline: the Postgres
 * writes of one order alone (attempt row, then order + outbox + attempt status in one transaction),
 * 50 at a time, in a schema of its own.
 */
const WORKERS = 2;
/**
 * Payment jobs one worker runs at once: the production default (WORKER_CONCURRENCY), not a bench
 * setting. Group commit keeps the connections a worker needs far below its jobs in flight.
 */
const WORKER_CONCURRENCY = loadConfig({ NODE_ENV: 'development' }, []).WORKER_CONCURRENCY;
/** The baseline's writes in flight: 50, as when it was introduced, whatever the workers' concurrency. */
const BASELINE_IN_FLIGHT = 50;

export async function settleBench(ctx: BenchContext): Promise<BenchLine[]> {
  const n = ctx.quick ? 3000 : 5000;
  // The untimed first round: the same work through the same processes, so that the measured round
  // runs on compiled code, open connections and prepared statements, as a deployment that has been
  // up for a while does. Its rate is printed too (the cold figure).
  const warmUp = 2000;
  const prefix = benchPrefix('settle');
  const db = await ownDatabase(ctx.databaseUrl, 'settle');
  const pool = createDb(db.url, 10);
  const redis = createRedis(ctx.redisUrl, { name: 'bench-settle' });
  const children: Child[] = [];
  // The queue on a client of its own, as in the gateway (createQueueRedis), but autopipelined: the
  // bench enqueues a round's jobs in one burst, which autopipelining sends in a few writes.
  const queueRedis = createRedis(ctx.redisUrl, { name: 'bench-settle-queue' });
  const queue = createPaymentQueue(queueRedis, prefix);
  try {
    const standIn = await startChild('./stand-in-child.ts', { PATH: process.env.PATH, HOME: process.env.HOME });
    children.push(standIn);
    const inventory = new Inventory(redis, prefix);
    const sales = new SaleService(pool, redis, prefix, inventory);
    const env = stackEnv({ redisUrl: ctx.redisUrl, databaseUrl: db.url, prefix, standInUrl: `http://127.0.0.1:${standIn.port}` });
    const workers: Child[] = [];
    for (let w = 0; w < WORKERS; w++) workers.push(await startChild('../../bin/worker.ts', env));
    children.push(...workers);
    const deps = { sales, inventory, queue, pool };

    const cold = await (await prepareRound(deps, warmUp)).run();
    const measured = await prepareRound(deps, n);
    const cpu = startCpuMeter({ workers: workers.map((w) => w.pid), 'stand-in': [standIn.pid], 'bench (enqueues)': [process.pid] });
    const ms = await measured.run();
    const cpuMs = cpu.stop();
    const baseline = await insertsAlone(db.url, n, BASELINE_IN_FLIGHT);
    ctx.note(`settle: ${n} orders by ${WORKERS} workers x ${WORKER_CONCURRENCY} in ${Math.round(ms)} ms after a first round of ${warmUp} (${Math.round((warmUp / cold) * 1000)}/s, cold); the same inserts alone ${Math.round(baseline.ms)} ms; ${cpuPerUnit(cpuMs, n, 'order')}`);
    return [makeLine('settle', (n / ms) * 1000, 'orders settled/s end to end (2 workers)', 'postgres-inserts-alone', (n / baseline.ms) * 1000)];
  } finally {
    await queue.close().catch(() => {});
    await Promise.all(children.map((c) => c.stop()));
    await pool.end();
    redis.disconnect();
    queueRedis.disconnect();
    await deletePrefix(ctx.redisUrl, prefix);
    await db.drop();
  }
}

interface RoundDeps {
  sales: SaleService;
  inventory: Inventory;
  queue: ReturnType<typeof createPaymentQueue>;
  pool: pg.Pool;
}

/**
 * One round on a sale of its own: `n` paying holds made now; `run` enqueues their payment jobs at
 * once, waits until every hold is sold, counts the orders in Postgres, and answers the milliseconds
 * from the first enqueue to the last hold sold.
 */
async function prepareRound({ sales, inventory, queue, pool }: RoundDeps, n: number): Promise<{ run(): Promise<number> }> {
  const sale = await sales.create({
    id: `settle-${randomBytes(3).toString('hex')}`, name: 'bench', sku: 'B', price: { amount: 100, currency: 'eur' }, stock: n, pools: 4,
    admitPerSecond: 1000, maxActiveHolds: 1_000_000, holdSeconds: 3600, perBuyerLimit: 1,
  });
  // n holds, each paying: what n buyers who sent `pay` leave behind, made with the inventory's own
  // calls, with the workers already up and the jobs enqueued right after: a hold paying for longer
  // than RECONCILE_AFTER_MS with no job is, to reconciliation, a payment whose enqueue was lost, and
  // it gives the hold back (one run lost 35 orders that way when holds were made paying before a
  // slow worker start). Hold ids are unique across rounds, as the admitter's nonce makes them: a
  // payment job's id is its hold id and attempt, and BullMQ ignores a job whose id it still keeps.
  const tag = randomBytes(4).toString('hex');
  const jobs = await Promise.all(Array.from({ length: n }, async (_, i) => {
    const p = i % 4;
    const holdId = inventory.holdId(p, `s${i}_${tag}`);
    const buyer = `buyer-${i}`;
    if (!(await inventory.take(sale.id, p, holdId, buyer, 3600))) throw new Error('settle: pool empty while preparing holds');
    const attemptNo = await inventory.beginPay(sale.id, holdId, buyer);
    return { saleId: sale.id, holdId, buyer, attemptNo, paymentMethod: 'pm_card_visa', amount: 100, currency: 'eur', perBuyerLimit: 1 };
  }));

  return { run: settle };

  async function settle(): Promise<number> {
    const began = performance.now();
    await Promise.all(jobs.map((j) => enqueuePayment(queue, j)));
    // Done when every hold is sold: the last step of a payment, after its order is written and its
    // charge captured. Read from the pools (4 HMGETs), not by counting orders in Postgres every 20 ms:
    // that count read every order so far on each poll (~750,000 rows fetched in a 5,000-order run), on
    // the Postgres the workers it measures write to. The orders are counted once at the end.
    for (;;) {
      const { sold } = await inventory.stats(sale.id, 4);
      if (sold >= n) break;
      if (performance.now() - began > 120_000) throw new Error(`settle: only ${sold} of ${n} holds sold after 120 s`);
      await new Promise((r) => setTimeout(r, 20));
    }
    const ms = performance.now() - began;
    const { rows } = await pool.query<{ n: string }>('SELECT count(*) AS n FROM orders WHERE sale_id = $1', [sale.id]);
    if (Number(rows[0]!.n) !== n) throw new Error(`settle: ${n} holds sold but ${rows[0]!.n} orders in Postgres`);
    return ms;
  }
}

/** The ledger writes of n orders and nothing else, `concurrency` at a time. */
async function insertsAlone(url: string, n: number, concurrency: number): Promise<{ ms: number }> {
  const db = new pg.Pool({ connectionString: url, max: concurrency, idleTimeoutMillis: 0 });
  db.on('error', () => {});
  const s = `bench_inserts_${randomBytes(3).toString('hex')}`;
  try {
    await db.query(`CREATE SCHEMA ${s}`);
    // LIKE copies columns, defaults, checks and unique indexes, not foreign keys: no sale row needed.
    for (const t of ['payment_attempts', 'orders', 'outbox']) await db.query(`CREATE TABLE ${s}.${t} (LIKE public.${t} INCLUDING ALL)`);
    const warm = await Promise.all(Array.from({ length: concurrency }, () => db.connect()));
    warm.forEach((c) => c.release());
    let next = 0;
    const began = performance.now();
    await Promise.all(Array.from({ length: concurrency }, async () => {
      while (next < n) {
        const i = next++;
        await db.query(`INSERT INTO ${s}.payment_attempts (id, hold_id, sale_id, buyer_id, attempt_no, idempotency_key, amount, currency) VALUES ($1, $2, 'x', $3, 1, $4, 100, 'eur')`, [`pay_${i}`, `hold_${i}`, `b${i}`, `k${i}`]);
        const c = await db.connect();
        let broken = false;
        try {
          await c.query('BEGIN');
          await c.query(`INSERT INTO ${s}.orders (id, hold_id, sale_id, buyer_id, amount, currency, payment_intent_id, attempt_id) VALUES ($1, $2, 'x', $3, 100, 'eur', $4, $5)`, [`ord_${i}`, `hold_${i}`, `b${i}`, `pi_${i}`, `pay_${i}`]);
          await c.query(`INSERT INTO ${s}.outbox (event_type, aggregate_id, payload) VALUES ('order.created', $1, '{}')`, [`ord_${i}`]);
          await c.query(`UPDATE ${s}.payment_attempts SET status = 'succeeded', payment_intent_id = $2 WHERE id = $1`, [`pay_${i}`, `pi_${i}`]);
          await c.query('COMMIT');
        } catch (err) {
          // Never pool a client inside a failed transaction, nor one whose connection is gone.
          broken = await c.query('ROLLBACK').then(() => false, () => true);
          throw err;
        } finally {
          c.release(broken);
        }
      }
    }));
    return { ms: performance.now() - began };
  } finally {
    await db.query(`DROP SCHEMA IF EXISTS ${s} CASCADE`).catch(() => {});
    await db.end();
  }
}
