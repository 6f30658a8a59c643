import { afterEach, describe, expect, it, vi } from 'vitest';
import { uniqueId } from '../tests/helpers/env.js';
import { permanentRefusal, settlePayment } from './settle-payment.js';
import { settlementFixture } from '../tests/helpers/settlement-fixture.js';

const f = settlementFixture();
const chargesOf = (holdId: string) => f.chargesOf(holdId);
const ordersOf = async (holdId: string) => (await f.ordersOf(holdId)).length;
async function payingHold(buyer = uniqueId('b'), paymentMethod = 'pm_card_visa', perBuyerLimit = 1) {
  const { saleId, job } = await f.payingHold({ buyer, paymentMethod, perBuyerLimit });
  return { sale: { id: saleId }, job };
}

describe('settlePayment', () => {
  it('charges once, writes one order and one outbox event, marks the hold sold; running the job again changes nothing', async () => {
    const { sale, job } = await payingHold();
    expect(await settlePayment(f.deps, job)).toBe('sold');
    expect(await settlePayment(f.deps, job)).toBe('sold');
    expect(chargesOf(job.holdId)).toHaveLength(1);
    expect(await ordersOf(job.holdId)).toBe(1);
    const outbox = await f.s.db.query("SELECT payload FROM outbox WHERE event_type = 'order.created' AND payload->>'holdId' = $1", [job.holdId]);
    expect(outbox.rowCount).toBe(1);
    expect(await f.s.inventory.getHold(sale.id, job.holdId)).toMatchObject({ state: 'sold', orderId: `ord_${job.holdId.slice(5)}` });
    expect(await f.s.sales.stats((await f.s.sales.get(sale.id))!)).toMatchObject({ sold: 1, paying: 0, available: 1 });
    const attempt = await f.s.db.query('SELECT status, idempotency_key FROM payment_attempts WHERE hold_id = $1', [job.holdId]);
    expect(attempt.rows).toEqual([{ status: 'succeeded', idempotency_key: `fs-${job.holdId}-a1` }]);
  });

  it('a declined card stores the failed attempt, gives the hold back to the buyer, charges nothing', async () => {
    const { sale, job } = await payingHold(uniqueId('b'), 'pm_card_chargeDeclined');
    expect(await settlePayment(f.deps, job)).toBe('declined');
    expect(chargesOf(job.holdId)).toHaveLength(0);
    expect(await f.s.inventory.getHold(sale.id, job.holdId)).toMatchObject({ state: 'held' });
    const attempt = await f.s.db.query('SELECT status, failure_reason FROM payment_attempts WHERE hold_id = $1', [job.holdId]);
    expect(attempt.rows).toEqual([{ status: 'failed', failure_reason: 'generic_decline' }]);
    // The buyer pays again: a new attempt, a new key, one charge in the end.
    const again = { ...job, attemptNo: await f.s.inventory.beginPay(sale.id, job.holdId, job.buyer), paymentMethod: 'pm_card_visa' };
    expect(again.attemptNo).toBe(2);
    expect(await settlePayment(f.deps, again)).toBe('sold');
    expect(chargesOf(job.holdId)).toHaveLength(1);
    expect(chargesOf(job.holdId)[0]!.idempotencyKey).toBe(`fs-${job.holdId}-a2`);
  });

  it('a job for an attempt that is no longer current charges nothing (no second charge for one hold)', async () => {
    const { sale, job } = await payingHold();
    // Attempt 1 was given up (hold back to held) and the buyer paid again as attempt 2.
    await f.s.inventory.payFailed(sale.id, job.holdId, job.attemptNo);
    const second = { ...job, attemptNo: await f.s.inventory.beginPay(sale.id, job.holdId, job.buyer) };
    expect(await settlePayment(f.deps, job)).toBe('declined');
    expect(chargesOf(job.holdId)).toHaveLength(0);
    expect(await f.s.inventory.getHold(sale.id, job.holdId)).toMatchObject({ state: 'paying', attempts: 2 });
    expect(await settlePayment(f.deps, second)).toBe('sold');
    expect(chargesOf(job.holdId)).toHaveLength(1);
    expect(await ordersOf(job.holdId)).toBe(1);
  });

  it('never charges a buyer past perBuyerLimit, even if the waiting room let a second hold through', async () => {
    const buyer = uniqueId('b');
    const first = await payingHold(buyer);
    expect(await settlePayment(f.deps, first.job)).toBe('sold');
    // A second hold of the same buyer in the same sale (only possible through a bug or a lost Redis).
    const holdId = f.s.inventory.holdId(0, uniqueId('h').replace('-', '_'));
    await f.s.inventory.take(first.sale.id, 0, holdId, buyer, 60);
    const job = { ...first.job, holdId, attemptNo: await f.s.inventory.beginPay(first.sale.id, holdId, buyer) };
    expect(await settlePayment(f.deps, job)).toBe('declined');
    expect(chargesOf(holdId)).toHaveLength(0);
    expect(await f.s.inventory.getHold(first.sale.id, holdId)).toMatchObject({ state: 'released' });
    const orders = await f.s.db.query('SELECT id FROM orders WHERE sale_id = $1 AND buyer_id = $2', [first.sale.id, buyer]);
    expect(orders.rowCount).toBe(1);
  });

  it('an unknown PaymentMethod is a permanent refusal: no retries, the hold is the buyer\'s again', async () => {
    const { sale, job } = await payingHold(uniqueId('b'), 'pm_doesnotexist');
    expect(await settlePayment(f.deps, job)).toBe('declined');
    expect(await f.s.inventory.getHold(sale.id, job.holdId)).toMatchObject({ state: 'held' });
    const attempt = await f.s.db.query('SELECT status, failure_reason FROM payment_attempts WHERE hold_id = $1', [job.holdId]);
    expect(attempt.rows).toEqual([{ status: 'failed', failure_reason: 'resource_missing' }]);
  });
});

describe('settlePayment: the PaymentIntent id is stored before the confirmation', () => {
  afterEach(async () => {
    vi.restoreAllMocks();
    await f.setFaults({});
  });
  const intentsOf = async (holdId: string) => (await f.deps.provider.stripe.paymentIntents.search({ query: `metadata['holdId']:'${holdId}'` })).data;

  it('creates the intent unconfirmed, stores its id on the pending attempt, then confirms it with a derived key', async () => {
    const { job } = await payingHold();
    const key = `fs-${job.holdId}-a1`;
    const seenAtConfirm: unknown[] = [];
    const confirm = f.deps.provider.confirm.bind(f.deps.provider);
    vi.spyOn(f.deps.provider, 'confirm').mockImplementation(async (id, attemptKey) => {
      // The ledger knows the intent before any money may move.
      seenAtConfirm.push(await f.deps.store.attemptByKey(attemptKey));
      return confirm(id, attemptKey);
    });
    expect(await settlePayment(f.deps, job)).toBe('sold');
    const [pi] = await intentsOf(job.holdId);
    expect(seenAtConfirm).toMatchObject([{ status: 'pending', payment_intent_id: pi!.id, idempotency_key: key }]);
    expect(await f.deps.store.attemptByKey(key)).toMatchObject({ status: 'succeeded', payment_intent_id: pi!.id });
    expect(chargesOf(job.holdId)).toMatchObject([{ paymentIntent: pi!.id, idempotencyKey: key }]);
  });

  it('a confirmation whose answer was lost: the retry confirms the stored intent with the same key — one intent, one charge', async () => {
    const { sale, job } = await payingHold();
    const create = vi.spyOn(f.deps.provider, 'create');
    // The bare create touches no card and is answered; the confirmation's answer is lost after it ran.
    await f.setFaults({ dropAfterChargeRate: 1 });
    await expect(settlePayment(f.deps, job)).rejects.toMatchObject({ type: 'StripeConnectionError' });
    await f.setFaults({});
    const stored = await f.deps.store.attemptOf(job.holdId, 1);
    expect(stored).toMatchObject({ status: 'pending', payment_intent_id: expect.stringMatching(/^pi_/) });
    expect(await settlePayment(f.deps, job)).toBe('sold');
    // The rerun did not create again: it went straight to the stored intent.
    expect(create).toHaveBeenCalledTimes(1);
    expect((await intentsOf(job.holdId)).map((pi) => pi.id)).toEqual([stored!.payment_intent_id]);
    expect(chargesOf(job.holdId)).toHaveLength(1);
    expect(await f.s.inventory.getHold(sale.id, job.holdId)).toMatchObject({ state: 'sold' });
  });

  it('an attempt given up while its intent was being created: the intent is never confirmed, the decision stands', async () => {
    const { sale, job } = await payingHold();
    const create = f.deps.provider.create.bind(f.deps.provider);
    vi.spyOn(f.deps.provider, 'create').mockImplementation(async (j, key) => {
      const pi = await create(j, key);
      // Reconciliation gives the attempt up just now.
      const a = (await f.deps.store.attemptByKey(key))!;
      await f.deps.store.markFailed(a.id, 'payment_not_completed', null);
      return pi;
    });
    const confirm = vi.spyOn(f.deps.provider, 'confirm');
    expect(await settlePayment(f.deps, job)).toBe('declined');
    expect(confirm).not.toHaveBeenCalled();
    expect(await f.deps.store.attemptOf(job.holdId, 1)).toMatchObject({ status: 'failed', payment_intent_id: null });
    expect(await f.s.inventory.getHold(sale.id, job.holdId)).toMatchObject({ state: 'held' });
    expect(chargesOf(job.holdId)).toEqual([]);
  });
});

describe('settlePayment: a card that asks for 3D Secure (requires_action)', () => {
  afterEach(() => vi.restoreAllMocks());
  const THREE_DS = 'pm_card_threeDSecure2Required';
  const intent = (id: string) => f.deps.provider.stripe.paymentIntents.retrieve(id);
  const authenticate = (id: string) => fetch(`${f.standIn.url}/_stand-in/payment_intents/${id}/authenticate`, { method: 'POST', body: '{}' });

  it('the attempt fails (requires_action), the intent is cancelled, the buyer is told payment_failed; nobody can complete it later', async () => {
    const { sale, job } = await payingHold(uniqueId('b'), THREE_DS);
    expect(await settlePayment(f.deps, job)).toBe('declined');
    const a = await f.deps.store.attemptOf(job.holdId, 1);
    expect(a).toMatchObject({ status: 'failed', failure_reason: 'requires_action', payment_intent_id: expect.stringMatching(/^pi_/), open_intent_id: null });
    expect((await intent(a!.payment_intent_id!)).status).toBe('canceled');
    expect(await f.s.inventory.getHold(sale.id, job.holdId)).toMatchObject({ state: 'held' });
    expect(await f.frame(sale.id, job.buyer, 'payment_failed')).toMatchObject({ holdId: job.holdId, reason: 'requires_action', retryable: true });
    // The buyer's challenge, had it reached them, can no longer move money.
    expect((await authenticate(a!.payment_intent_id!)).status).toBe(409);
    expect(chargesOf(job.holdId)).toEqual([]);
    // The buyer pays again with another card: attempt 2, one charge.
    const again = { ...job, attemptNo: await f.s.inventory.beginPay(sale.id, job.holdId, job.buyer), paymentMethod: 'pm_card_visa' };
    expect(await settlePayment(f.deps, again)).toBe('sold');
    expect(chargesOf(job.holdId)).toHaveLength(1);
  });

  it('the cancel fails: the hold stays paying (nobody else gets the unit) until the retried job cancels the intent, then the buyer is told once', async () => {
    const { sale, job } = await payingHold(uniqueId('b'), THREE_DS);
    vi.spyOn(f.deps.provider, 'cancel').mockRejectedValueOnce(Object.assign(new Error('provider away'), { type: 'StripeConnectionError' }));
    await expect(settlePayment(f.deps, job)).rejects.toThrow('provider away');
    const a = await f.deps.store.attemptOf(job.holdId, 1);
    expect(a).toMatchObject({ status: 'failed', failure_reason: 'requires_action', open_intent_id: a!.payment_intent_id });
    expect((await intent(a!.payment_intent_id!)).status).toBe('requires_action');
    expect(await f.s.inventory.getHold(sale.id, job.holdId)).toMatchObject({ state: 'paying' });
    expect(f.framesTo(sale.id, job.buyer)).toEqual([]);

    expect(await settlePayment(f.deps, job)).toBe('declined');
    expect((await intent(a!.payment_intent_id!)).status).toBe('canceled');
    expect(await f.deps.store.attemptOf(job.holdId, 1)).toMatchObject({ open_intent_id: null });
    expect(await f.s.inventory.getHold(sale.id, job.holdId)).toMatchObject({ state: 'held' });
    await f.frame(sale.id, job.buyer, 'payment_failed');
    expect(f.framesTo(sale.id, job.buyer).filter((x) => x.type === 'payment_failed')).toHaveLength(1);
  });
});

describe('permanentRefusal', () => {
  it('declines and invalid requests are final; everything else retries', () => {
    expect(permanentRefusal({ type: 'StripeCardError', decline_code: 'insufficient_funds' })).toBe('insufficient_funds');
    expect(permanentRefusal({ type: 'StripeInvalidRequestError', statusCode: 400, code: 'resource_missing' })).toBe('resource_missing');
    for (const transient of [
      { type: 'StripeAPIError', statusCode: 500 }, { type: 'StripeConnectionError' }, { type: 'StripeRateLimitError', statusCode: 429 },
      { type: 'StripeIdempotencyError', statusCode: 409, code: 'idempotency_key_in_use' }, { type: 'StripeAuthenticationError', statusCode: 401 },
      new Error('socket hang up'),
    ]) expect(permanentRefusal(transient)).toBeNull();
  });
});
