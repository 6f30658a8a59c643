import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { databaseUrl } from '../tests/helpers/env.js';
import { TcpProxy } from '../tests/helpers/tcp-proxy.js';
import { freePort } from '../tests/e2e/kit.js';
import { paymentBackoff } from './payment-job.js';
import { LEDGER_OUTAGE_BUDGET_MS, ledgerUnavailable, nextTry, NO_FAILURES, type NextTry, type RetryHistory } from './payment-retry.js';
import { NotYet } from './settle-payment.js';

const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
const provider500 = { type: 'StripeAPIError', statusCode: 500, message: 'An unknown error occurred' };

/** Runs failures through nextTry as the worker does, one second of work per try plus the chosen delay. */
function run(failures: unknown[], random = () => 0.5): { steps: NextTry[]; elapsedMs: number } {
  let h: RetryHistory = NO_FAILURES;
  let now = 1_000_000;
  const steps: NextTry[] = [];
  for (const err of failures) {
    const next = nextTry(err, h, now, random);
    steps.push(next);
    if ('deadLetter' in next) break;
    h = next.history;
    now += 1000 + next.retryInMs;
  }
  return { steps, elapsedMs: now - 1_000_000 };
}
const delays = (steps: NextTry[]) => steps.map((s) => ('deadLetter' in s ? 'dead letter' : s.retryInMs));

describe('nextTry', () => {
  it('provider failures keep the old policy: 1 try + 3 retries (1 s, 2 s, 4 s less jitter), then a dead letter', () => {
    const { steps } = run(Array(6).fill(provider500), () => 0);
    expect(delays(steps)).toEqual([1000, 2000, 4000, 'dead letter']);
    expect(delays(run([new NotYet('hold not in Redis'), provider500, new Error('socket hang up'), provider500]).steps))
      .toEqual([paymentBackoff(1, () => 0.5), paymentBackoff(2, () => 0.5), paymentBackoff(3, () => 0.5), 'dead letter']);
  });

  it('the ledger away: retried at most 5 s apart (with jitter) for two minutes — through any 60 s failover — then a dead letter', () => {
    const { steps, elapsedMs } = run(Array(500).fill(refused), () => 0);
    const waits = delays(steps.slice(0, -1)) as number[];
    expect(waits.slice(0, 6)).toEqual([500, 1000, 2000, 4000, 5000, 5000]);
    expect(Math.max(...waits)).toBeLessThanOrEqual(5000);
    expect(steps.at(-1)).toMatchObject({ deadLetter: true });
    expect(elapsedMs).toBeGreaterThanOrEqual(LEDGER_OUTAGE_BUDGET_MS);
    expect(elapsedMs).toBeLessThan(LEDGER_OUTAGE_BUDGET_MS + 7000);
    // Jitter takes up to half off, never adds.
    for (const r of [0, 0.3, 0.99]) {
      for (const d of delays(run(Array(20).fill(refused), () => r).steps) as number[]) {
        expect(d).toBeGreaterThanOrEqual(250);
        expect(d).toBeLessThanOrEqual(5000);
      }
    }
  });

  it('a ledger outage does not use up the provider budget, nor the other way round; a try that got past Postgres ends the outage', () => {
    const outage = Array(30).fill(refused);
    // 2 provider failures, a 30-try outage (~2 minutes would be over the budget only if it ran on), 1 more provider failure: still retried.
    const { steps } = run([provider500, provider500, ...outage.slice(0, 20), provider500, provider500]);
    expect(steps).toHaveLength(24);
    expect(steps.slice(0, 23).every((s) => !('deadLetter' in s))).toBe(true);
    expect(steps[23]).toMatchObject({ deadLetter: true, history: { otherFailures: 4 } });
    // Two outages of 100 s with a try in between that reached past Postgres: each has its own budget.
    let h: RetryHistory = NO_FAILURES;
    for (const [at, err] of [[0, refused], [100_000, refused], [101_000, provider500], [102_000, refused], [200_000, refused]] as const) {
      const next = nextTry(err, h, at, () => 0);
      expect(next).not.toHaveProperty('deadLetter');
      h = next.history;
    }
  });
});

describe('ledgerUnavailable, on the errors node-postgres really raises', () => {
  const query = async (pool: pg.Pool, sql: string) => pool.query(sql).then(() => null, (e: unknown) => e);

  it('connection refused, the pool out of time, a connection reset mid-query, an administrator\'s shutdown (57P01)', async () => {
    const nowhere = new URL(databaseUrl());
    nowhere.hostname = '127.0.0.1';
    nowhere.port = String(await freePort());
    const closed = new pg.Pool({ connectionString: nowhere.toString(), connectionTimeoutMillis: 1000 });
    closed.on('error', () => {});
    const noServer = await query(closed, 'SELECT 1');
    await closed.end();
    expect(noServer).toMatchObject({ code: 'ECONNREFUSED' });

    const u = new URL(databaseUrl());
    const proxy = await new TcpProxy(u.hostname, Number(u.port || 5432)).start();
    const viaProxy = new pg.Pool({ connectionString: proxy.urlFor(databaseUrl()), max: 1, connectionTimeoutMillis: 300 });
    viaProxy.on('error', () => {});
    const held = await viaProxy.connect();
    const poolTimeout = await query(viaProxy, 'SELECT 1');
    held.release();
    const slow = viaProxy.query('SELECT pg_sleep(5)').then(() => null, (e: unknown) => e);
    await new Promise((r) => setTimeout(r, 200));
    proxy.cut();
    const reset = await slow;
    proxy.restore();
    const cutNewConnection = await (async () => {
      proxy.cut();
      try {
        return await query(viaProxy, 'SELECT 1');
      } finally {
        proxy.restore();
      }
    })();
    await viaProxy.end();
    await proxy.close();
    expect(poolTimeout).toMatchObject({ message: expect.stringMatching(/^timeout exceeded when trying to connect/) });
    // The proxy resets the socket: pg reports the reset itself, or the connection ending under the query.
    expect(reset).toSatisfy((e: any) => e.code === 'ECONNRESET' || /^Connection terminated/.test(e.message));
    // A connection accepted and dropped at once (a server going away): pg's own message, or the reset
    // itself when the proxy resets it before pg's first read (both happen, by timing).
    expect(cutNewConnection).toSatisfy((e: any) => e.code === 'ECONNRESET' || /^Connection terminated/.test(e.message));

    const victim = new pg.Client({ connectionString: databaseUrl() });
    victim.on('error', () => {});
    await victim.connect();
    const pid = (await victim.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;
    const asleep = victim.query('SELECT pg_sleep(5)').then(() => null, (e: unknown) => e);
    const admin = new pg.Client({ connectionString: databaseUrl() });
    await admin.connect();
    await new Promise((r) => setTimeout(r, 100));
    await admin.query('SELECT pg_terminate_backend($1)', [pid]);
    await admin.end();
    const terminated = await asleep;
    await victim.end().catch(() => {});
    expect(terminated).toMatchObject({ code: '57P01' });

    for (const e of [noServer, poolTimeout, reset, cutNewConnection, terminated]) expect(ledgerUnavailable(e), String(e)).toBe(true);
  });

  it('not: an error Postgres answered, the provider\'s own connection errors, Redis not ready, our own errors', async () => {
    const pool = new pg.Pool({ connectionString: databaseUrl(), max: 1 });
    const syntax = await query(pool, 'SELEC 1');
    const divide = await query(pool, 'SELECT 1/0');
    await pool.end();
    expect(syntax).toMatchObject({ code: '42601' });
    expect(divide).toMatchObject({ code: '22012' });
    const stripeDown = { type: 'StripeConnectionError', code: 'ECONNREFUSED', message: 'An error occurred with our connection to Stripe.' };
    for (const e of [syntax, divide, stripeDown, provider500, new NotYet('hold not in Redis (yet)'), new Error('boom'), null, 'ECONNREFUSED']) {
      expect(ledgerUnavailable(e), String(e)).toBe(false);
    }
    // Wrapped or aggregated: a dual-stack connect, a cause.
    expect(ledgerUnavailable(new AggregateError([refused, refused], 'connect failed'))).toBe(true);
    expect(ledgerUnavailable(new Error('query failed', { cause: { code: '08006' } }))).toBe(true);
    expect(ledgerUnavailable({ code: '57P03', message: 'the database system is starting up' })).toBe(true);
  });
});
