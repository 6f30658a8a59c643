import { paymentBackoff, PAYMENT_TRIES, type RetryHistory } from './payment-job.js';

/**
 * When a payment job that failed is tried again, or given up to the dead-letter queue.
 *
 * One layer owns retries: the BullMQ payment job. This module decides whether and when; BullMQ runs the
 * next try (payment-worker.ts). Nothing below retries on its own: the stripe SDK's network retries are
 * off, pg and the statement batcher pass every error up, and each provider call (create, confirm,
 * capture, cancel) is made at most once per try — so a provider that keeps failing sees exactly
 * PAYMENT_TRIES requests per step (settlement/retry-layers.test.ts holds that). Every try sends the
 * same derived idempotency keys, so a retry is the same request.
 */

export type { RetryHistory } from './payment-job.js';

export const NO_FAILURES: RetryHistory = { otherFailures: 0, ledgerFailures: 0 };

/**
 * How long a job keeps trying while Postgres is away: a failover or restart of a minute, twice over, so
 * one that runs a little long (DNS, a pool reconnecting) does not dead-letter payments of a whole sale.
 */
export const LEDGER_OUTAGE_BUDGET_MS = 120_000;
/** Backoff while the ledger is away: 0.5 s, 1, 2, 4, then 5 s, each less up to half at random. */
export const LEDGER_BACKOFF = { baseMs: 500, capMs: 5000, jitter: 0.5 } as const;

export type NextTry = { retryInMs: number; history: RetryHistory } | { deadLetter: true; history: RetryHistory };

/**
 * The retry decision for a try that threw (a failure `permanentRefusal` found transient). One small
 * function, a why per branch; `now` and `random` are injectable for tests.
 */
export function nextTry(err: unknown, h: RetryHistory, now = Date.now(), random: () => number = Math.random): NextTry {
  if (ledgerUnavailable(err)) {
    const since = h.ledgerDownSince ?? now;
    const history = { ...h, ledgerFailures: h.ledgerFailures + 1, ledgerDownSince: since };
    // Postgres is away (failover, restart, network): not this payment's fault, and nothing a retry
    // risks — the attempt row and its key are written first, so a try without the ledger moved no money
    // the next try cannot find. Keep trying through the outage, often enough to settle within seconds
    // of its end (≤ 5 s apart, spread so a sale's jobs do not return in one burst).
    if (now - since < LEDGER_OUTAGE_BUDGET_MS) {
      const ceiling = Math.min(LEDGER_BACKOFF.capMs, LEDGER_BACKOFF.baseMs * 2 ** (history.ledgerFailures - 1));
      return { retryInMs: Math.round(ceiling * (1 - LEDGER_BACKOFF.jitter * random())), history };
    }
    // Away for longer than any failover: people should look. The hold stays paying (money may have
    // moved) and reconciliation finishes the payment once the ledger is back.
    return { deadLetter: true, history };
  }
  // Anything else transient — provider timeouts, 5xx, 429, 409 key in use, Redis, our own bugs — keeps
  // the policy it always had: 1 try + 3 retries, 1 s, 2 s, 4 s. This try got past Postgres (the attempt
  // row is its first step), so a ledger outage before it has ended.
  const history = { otherFailures: h.otherFailures + 1, ledgerFailures: 0 };
  if (history.otherFailures < PAYMENT_TRIES) return { retryInMs: paymentBackoff(history.otherFailures, random), history };
  // Out of tries: a dead letter for people, the hold stays paying.
  return { deadLetter: true, history };
}

// Node's socket errors on the way to Postgres, and Postgres' own "go away" codes: admin_shutdown,
// crash_shutdown, cannot_connect_now (starting up, in recovery). SQLSTATE class 08 is checked apart.
const LEDGER_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', '57P01', '57P02', '57P03',
]);
// node-postgres' own errors when a connection dies or cannot be had from the pool in time.
const LEDGER_MESSAGES = /^(Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error)/;

/**
 * Whether a failure means the ledger (Postgres) could not be reached or dropped us — as opposed to the
 * provider (stripe errors carry `type: 'Stripe…'`, even for their own connection errors) or a query
 * that Postgres answered with an error.
 */
export function ledgerUnavailable(err: unknown): boolean {
  if (err === null || typeof err !== 'object') return false;
  const e = err as { type?: unknown; code?: unknown; message?: unknown; errors?: unknown; cause?: unknown };
  if (typeof e.type === 'string' && e.type.startsWith('Stripe')) return false;
  if (typeof e.code === 'string' && (LEDGER_CODES.has(e.code) || /^08[0-9A-Z]{3}$/.test(e.code))) return true;
  if (typeof e.message === 'string' && LEDGER_MESSAGES.test(e.message)) return true;
  // A dual-stack connect fails with an AggregateError of one error per address.
  if (Array.isArray(e.errors) && e.errors.some(ledgerUnavailable)) return true;
  return e.cause !== undefined && e.cause !== err && ledgerUnavailable(e.cause);
}
