import type { Queue } from 'bullmq';
import type { Db } from '../shared/db.js';
import { metrics } from '../shared/metrics.js';
import { LIVE_JOB_STATES, paymentJobId, type PaymentJob } from './payment-job.js';
import { PAID, UNPAID } from './payment-provider.js';
import { SOLD_OUT, type AttemptRow } from './payment-store.js';
import { abandon, cancelOpenIntent, captureOrder, completeStoredOrder, finishAuthorised, finishNeedsAction, finishRefused, finishSoldOut, holdBack, type SagaDeps } from './saga.js';

export interface ReconcilerOptions {
  /** Payments, holds and captures untouched this long are reconciliation's to finish. */
  afterMs: number;
  /** A dead letter that never reached the provider waits this long for an operator's replay. */
  deadLetterReleaseMs: number;
  /** Sales whose pools to look at for holds stuck paying. */
  listSales(): Promise<{ id: string; pools: number }[]>;
  batch?: number;
}

export type Fixes = Record<string, number>;

// One reconciler at a time across all workers; a Postgres session lock dies with its holder.
// Was the number 0x66735f7265636f6e ("fs_recon"): past 2^53, so a rounded double that node-postgres sent
// as this decimal. Deployed workers lock on this value, so it is kept exactly (a rolling deploy must agree).
const LOCK_ID = 7382349159122301000n;

/**
 * Continuous reconciliation: every few seconds it finishes what the happy path left undone.
 *  1. attempts pending past the threshold whose job no worker will run (lost, dead-lettered) → asked
 *     at the provider by PaymentIntent id or idempotency key → order, refusal, or hold given back;
 *  2. holds paying past the threshold whose attempt is already decided (a crash between Postgres and
 *     Redis) or never started → Redis brought in line, buyer told;
 *  3. orders whose capture failed → captured with the same key;
 *  4. failed attempts whose intent stopped in requires_action and is not yet cancelled, once their hold
 *     no longer pays for them → cancelled, so the buyer's challenge can never complete them later.
 */
export class Reconciler {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<Fixes> | undefined;

  constructor(readonly d: SagaDeps, readonly db: Db, readonly payments: Queue<PaymentJob>, readonly o: ReconcilerOptions) {}

  start(intervalMs: number): void {
    const loop = (): void => {
      this.timer = setTimeout(() => {
        this.pass().catch((err: unknown) => this.d.log.error({ err }, 'reconciliation pass failed')).finally(loop);
      }, intervalMs);
    };
    loop();
  }

  async stop(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.running?.catch(() => {});
  }

  /** One pass; returns what it fixed, by action. Does nothing while another process holds the lock. */
  pass(): Promise<Fixes> {
    this.running ??= this.locked().finally(() => (this.running = undefined));
    return this.running;
  }

  private async locked(): Promise<Fixes> {
    const c = await this.db.connect();
    let broken = false;
    // The pass holds this client while it calls the provider and Redis. If Postgres drops it meanwhile,
    // the client emits 'error' on itself (the pool listens only to idle clients): unheard, that would end
    // the process. The lock died with the connection; the next pass takes a new one.
    const lost = (): void => void (broken = true);
    c.on('error', lost);
    try {
      const got = await c.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1::bigint) AS ok', [LOCK_ID]);
      if (!got.rows[0]?.ok) return {};
      try {
        const fixes: Fixes = {};
        const fixed = (action: string): void => {
          fixes[action] = (fixes[action] ?? 0) + 1;
          metrics.reconciliationFixes.inc({ action });
        };
        await this.stalePayments(fixed);
        await this.captures(fixed);
        await this.stuckHolds(fixed);
        await this.openIntents(fixed);
        if (Object.keys(fixes).length > 0) this.d.log.info({ fixes }, 'reconciliation fixed payments');
        return fixes;
      } finally {
        // If the unlock fails the connection is gone, and the lock with it.
        broken = await c.query('SELECT pg_advisory_unlock($1::bigint)', [LOCK_ID]).then(() => broken, () => true);
      }
    } finally {
      c.off('error', lost);
      c.release(broken);
    }
  }

  private async jobState(holdId: string, attemptNo: number): Promise<{ state: string; finishedOn?: number }> {
    const job = await this.payments.getJob(paymentJobId(holdId, attemptNo));
    if (!job) return { state: 'missing' };
    return { state: await job.getState(), ...(job.finishedOn ? { finishedOn: job.finishedOn } : {}) };
  }

  private async stalePayments(fixed: (a: string) => void): Promise<void> {
    for (const a of await this.d.store.stalePending(this.o.afterMs, this.o.batch ?? 100)) {
      try {
        await this.stalePayment(a, fixed);
      } catch (err) {
        this.d.log.warn({ err, holdId: a.hold_id, attempt: a.attempt_no }, 'could not reconcile payment; next pass retries');
      }
    }
  }

  private async stalePayment(a: AttemptRow, fixed: (a: string) => void): Promise<void> {
    const job = await this.jobState(a.hold_id, a.attempt_no);
    // A worker will still run it (waiting, in backoff, or active — a dead worker's job comes back
    // through BullMQ's stalled check): the job finishes it, not us.
    if (LIVE_JOB_STATES.includes(job.state)) return;
    const pi = await this.d.provider.find(a.payment_intent_id, a.idempotency_key);
    if (pi && PAID.includes(pi.status)) {
      const r = await finishAuthorised(this.d, a, pi.id);
      fixed(r === 'sold' ? 'ordered' : r);
    } else if (pi && UNPAID.includes(pi.status)) {
      const err = pi.last_payment_error as { decline_code?: string; code?: string } | null;
      await finishRefused(this.d, a, err?.decline_code ?? err?.code ?? `payment_${pi.status}`, pi.id);
      fixed('refused');
    } else if (pi?.status === 'requires_action') {
      // The job died after the confirmation stopped for the buyer's challenge: finish it as the job would.
      await finishNeedsAction(this.d, a, pi.id);
      fixed('needs_action');
    } else if (!pi || pi.status === 'requires_confirmation') {
      // Nothing authorised: the intent was never created, or created and never confirmed (the job died
      // in between). A dead letter still waits a while for an operator.
      if (job.state === 'failed' && Date.now() - (job.finishedOn ?? 0) < this.o.deadLetterReleaseMs) return;
      // Failed first, then the unconfirmed intent cancelled: a late confirmation can authorise nothing.
      if (pi) await abandon(this.d, a, 'payment_not_completed', true);
      else await finishRefused(this.d, a, 'payment_not_completed', null, true, 'given_up');
      if (job.state === 'failed') await (await this.payments.getJob(paymentJobId(a.hold_id, a.attempt_no)))?.remove().catch(() => {});
      fixed('released');
    }
    // Other statuses (processing) are the provider's to finish: the next pass looks again.
  }

  private async stuckHolds(fixed: (a: string) => void): Promise<void> {
    for (const sale of await this.o.listSales()) {
      // Aged by Redis' clock, which scored them: this worker's clock may be off (docs/settlement.md).
      for (const holdId of await this.d.inventory.payingLongerThan(sale.id, sale.pools, this.o.afterMs, this.o.batch ?? 100)) {
        try {
          await this.stuckHold(sale.id, holdId, fixed);
        } catch (err) {
          this.d.log.warn({ err, holdId }, 'could not reconcile paying hold; next pass retries');
        }
      }
    }
  }

  private async stuckHold(saleId: string, holdId: string, fixed: (a: string) => void): Promise<void> {
    const hold = await this.d.inventory.getHold(saleId, holdId);
    if (hold?.state !== 'paying') return;
    const a = await this.d.store.attemptOf(holdId, hold.attempts);
    if (a?.status === 'pending') return; // stalePayments' to finish
    if (a?.status === 'succeeded') {
      if (await completeStoredOrder(this.d, a)) fixed('sold_in_redis');
      return;
    }
    if (a?.status === 'failed' && a.failure_reason === SOLD_OUT) {
      // Refused by the ledger's stock fence, and the run that decided it died before Redis: the
      // authorisation is cancelled (again, harmlessly) and the hold closed, not given back retryable.
      await finishSoldOut(this.d, a, a.payment_intent_id, false);
      fixed('sold_out');
      return;
    }
    if (a) {
      // An intent still awaiting the buyer's action is cancelled before the hold leaves paying.
      await cancelOpenIntent(this.d, a);
      await holdBack(this.d, a, a.failure_reason ?? 'payment_failed');
      fixed('given_back');
      return;
    }
    // No attempt row: the provider was never called (the row is written first). Unless its job is
    // still queued, the payment never started — the hold goes back to its buyer.
    const job = await this.jobState(holdId, hold.attempts);
    if (LIVE_JOB_STATES.includes(job.state)) return;
    await holdBack(this.d, { hold_id: holdId, sale_id: saleId, buyer_id: hold.buyer, attempt_no: hold.attempts }, 'payment_not_started');
    fixed('never_started');
  }

  private async openIntents(fixed: (a: string) => void): Promise<void> {
    for (const a of await this.d.store.openIntents(this.o.afterMs, this.o.batch ?? 100)) {
      try {
        const hold = await this.d.inventory.getHold(a.sale_id, a.hold_id);
        // Still paying for this very attempt: the job or stuckHolds cancels it before giving the hold back.
        if (hold?.state === 'paying' && hold.attempts === a.attempt_no) continue;
        if (await cancelOpenIntent(this.d, a)) fixed('intent_canceled');
      } catch (err) {
        this.d.log.warn({ err, holdId: a.hold_id, attempt: a.attempt_no }, 'could not cancel an intent awaiting action; next pass retries');
      }
    }
  }

  private async captures(fixed: (a: string) => void): Promise<void> {
    for (const o of await this.d.store.uncaptured(this.o.afterMs, this.o.batch ?? 100)) {
      // One try per order per pass: a failure stays marked and the next pass is the retry.
      if ((await captureOrder(this.d, o.id, o.payment_intent_id, o.idempotency_key)) === null) fixed('captured');
    }
  }
}
