import Stripe from 'stripe';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parseForm } from './form.js';
import { randomAlnum, stripeId } from './ids.js';
import { startStandIn, type StandIn } from './server.js';

// Scripted fault rolls: each roll takes the next value; an empty script yields 0.999999, which
// fails only a rate of 1 (rates of 0 are never rolled), so tests stay deterministic.
let rolls: number[] = [];
let standIn: StandIn;

beforeAll(async () => {
  standIn = await startStandIn({ port: 0, random: () => rolls.shift() ?? 0.999999 });
});
afterAll(() => standIn.close());
beforeEach(async () => {
  rolls = [];
  expect((await raw('/_stand-in/reset', { method: 'POST' })).status).toBe(200);
});

function sdk(maxNetworkRetries = 0): Stripe {
  return new Stripe('sk_test_stand_in', { host: '127.0.0.1', port: standIn.port, protocol: 'http', maxNetworkRetries });
}

async function raw(path: string, init: RequestInit = {}): Promise<{ status: number; headers: Headers; body: any }> {
  const res = await fetch(`${standIn.url}${path}`, init);
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text ? JSON.parse(text) : null };
}

const json = (method: string, body: unknown): RequestInit => ({ method, body: JSON.stringify(body), headers: { 'Content-Type': 'application/json' } });
const setFaults = (faults: Record<string, number>) => raw('/_stand-in/faults', json('POST', faults));

/** The error a promise rejects with (fails the test if it resolves). */
async function rejection(p: Promise<unknown>): Promise<any> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error('expected the call to fail');
}

const pay = (stripe: Stripe, overrides: Partial<Stripe.PaymentIntentCreateParams> = {}, options: Stripe.RequestOptions = {}) =>
  stripe.paymentIntents.create(
    {
      amount: 2500,
      currency: 'eur',
      payment_method: 'pm_card_visa',
      allowed_payment_method_types: ['card'],
      confirm: true,
      metadata: { holdId: 'hold-1' },
      ...overrides,
    },
    options,
  );

describe('payment intents', () => {
  it('charges a good card and lists the charge', async () => {
    const pi = await pay(sdk(), { description: 'ticket' }, { idempotencyKey: 'settle:hold-1' });
    expect(pi.id).toMatch(/^pi_[A-Za-z0-9]{24}$/);
    expect(pi).toMatchObject({
      object: 'payment_intent', amount: 2500, amount_received: 2500, currency: 'eur', status: 'succeeded',
      capture_method: 'automatic', metadata: { holdId: 'hold-1' }, payment_method: 'pm_card_visa', livemode: false, description: 'ticket',
    });
    expect(pi.latest_charge).toMatch(/^ch_/);
    expect(pi.lastResponse.requestId).toMatch(/^req_/);
    expect(pi.lastResponse.headers['stripe-version']).toBeTruthy();

    const expected = { paymentIntent: pi.id, amount: 2500, currency: 'eur', status: 'succeeded', idempotencyKey: 'settle:hold-1', metadata: { holdId: 'hold-1' } };
    expect((await raw('/_stand-in/charges')).body).toEqual({ charges: [expected] });
    expect(standIn.charges()).toEqual([expected]);
    expect(await sdk().paymentIntents.retrieve(pi.id)).toMatchObject({ id: pi.id, status: 'succeeded' });
  });

  it.each([
    ['pm_card_chargeDeclined', 'generic_decline'],
    ['pm_card_chargeDeclinedInsufficientFunds', 'insufficient_funds'],
  ])('declines %s with %s and takes no money', async (paymentMethod, declineCode) => {
    const err = await rejection(pay(sdk(), { payment_method: paymentMethod }));
    expect(err).toBeInstanceOf(Stripe.errors.StripeCardError);
    expect(err).toMatchObject({ statusCode: 402, code: 'card_declined', decline_code: declineCode });
    expect(err.raw.payment_intent).toMatchObject({ status: 'requires_payment_method', amount: 2500 });
    const pi = await sdk().paymentIntents.retrieve(err.raw.payment_intent.id);
    expect(pi.status).toBe('requires_payment_method');
    expect(pi.last_payment_error).toMatchObject({ decline_code: declineCode });
    expect(standIn.charges()).toEqual([]);
  });

  it('answers resource_missing for an unknown payment method and 404 for an unknown intent', async () => {
    const err = await rejection(pay(sdk(), { payment_method: 'pm_nope' }));
    expect(err).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
    expect(err).toMatchObject({ statusCode: 400, code: 'resource_missing', param: 'payment_method' });
    const missing = await rejection(sdk().paymentIntents.retrieve('pi_doesnotexist'));
    expect(missing).toMatchObject({ statusCode: 404, code: 'resource_missing' });
  });

  it('accepts the pre-2026-09 payment_method_types name as well', async () => {
    const res = await raw('/v1/payment_intents', {
      method: 'POST',
      headers: { Authorization: 'Bearer sk_test_x', 'Content-Type': 'application/x-www-form-urlencoded' },
      body: 'amount=100&currency=usd&payment_method=pm_card_visa&confirm=true&payment_method_types[0]=card',
    });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: 'succeeded', payment_method_types: ['card'], allowed_payment_method_types: null });
  });

  it('validates parameters like Stripe (unknown params, bad amount)', async () => {
    expect(await rejection(pay(sdk(), { amount: 0 }))).toMatchObject({ statusCode: 400, code: 'parameter_invalid_integer', param: 'amount' });
    const unknown = await rejection(pay(sdk(), { bogus: 1 } as Partial<Stripe.PaymentIntentCreateParams>));
    expect(unknown).toMatchObject({ statusCode: 400, code: 'parameter_unknown', param: 'bogus' });
  });

  it('authorises with manual capture, then captures once; cancel rules follow the status', async () => {
    const stripe = sdk();
    const held = await pay(stripe, { capture_method: 'manual' }, { idempotencyKey: 'authorise:1' });
    expect(held).toMatchObject({ status: 'requires_capture', amount_capturable: 2500, amount_received: 0 });
    expect(standIn.charges()).toEqual([]);

    const captured = await stripe.paymentIntents.capture(held.id, {}, { idempotencyKey: 'capture:1' });
    expect(captured).toMatchObject({ status: 'succeeded', amount_received: 2500, amount_capturable: 0 });
    // Listed under the key the payment was created with: one payment, one key, whichever call captured it.
    expect(standIn.charges()).toMatchObject([{ paymentIntent: held.id, amount: 2500, idempotencyKey: 'authorise:1' }]);

    const again = await rejection(stripe.paymentIntents.capture(held.id));
    expect(again).toMatchObject({ statusCode: 400, code: 'payment_intent_unexpected_state' });
    const cancelSucceeded = await rejection(stripe.paymentIntents.cancel(held.id));
    expect(cancelSucceeded).toBeInstanceOf(Stripe.errors.StripeInvalidRequestError);
    expect(cancelSucceeded.code).toBe('payment_intent_unexpected_state');

    const other = await pay(stripe, { capture_method: 'manual' });
    const canceled = await stripe.paymentIntents.cancel(other.id, { cancellation_reason: 'abandoned' });
    expect(canceled).toMatchObject({ status: 'canceled', cancellation_reason: 'abandoned', amount_capturable: 0 });
    expect(await rejection(stripe.paymentIntents.capture(other.id))).toMatchObject({ code: 'payment_intent_unexpected_state' });

    const declined = await rejection(pay(stripe, { payment_method: 'pm_card_chargeDeclined' }));
    expect((await stripe.paymentIntents.cancel(declined.raw.payment_intent.id)).status).toBe('canceled');
    expect(standIn.charges()).toHaveLength(1);
  });

  it('captures part of an authorisation', async () => {
    const held = await pay(sdk(), { capture_method: 'manual' });
    const captured = await sdk().paymentIntents.capture(held.id, { amount_to_capture: 1000 });
    expect(captured.amount_received).toBe(1000);
    expect(standIn.charges()).toMatchObject([{ amount: 1000 }]);
  });

  it("searches by metadata['holdId']", async () => {
    const stripe = sdk();
    const a = await pay(stripe, { metadata: { holdId: 'h-a' } });
    await pay(stripe, { metadata: { holdId: 'h-b' } });
    const declined = await rejection(pay(stripe, { metadata: { holdId: 'h-a' }, payment_method: 'pm_card_chargeDeclined' }));

    const found = await stripe.paymentIntents.search({ query: "metadata['holdId']:'h-a'" });
    expect(found.object).toBe('search_result');
    expect(found.has_more).toBe(false);
    expect(found.data.map((pi) => pi.id)).toEqual([declined.raw.payment_intent.id, a.id]);
    const doubleQuoted = await stripe.paymentIntents.search({ query: 'metadata["holdId"]:"h-b"' });
    expect(doubleQuoted.data).toHaveLength(1);
    expect((await stripe.paymentIntents.search({ query: "metadata['holdId']:'none'" })).data).toEqual([]);
    expect(await rejection(stripe.paymentIntents.search({ query: 'amount>100' }))).toMatchObject({ statusCode: 400, param: 'query' });
  });

  it('lists newest first with limit and pagination', async () => {
    const stripe = sdk();
    const ids = [];
    for (let i = 0; i < 3; i++) ids.push((await pay(stripe)).id);
    const page = await stripe.paymentIntents.list({ limit: 2 });
    expect(page).toMatchObject({ object: 'list', has_more: true });
    expect(page.data.map((pi) => pi.id)).toEqual([ids[2], ids[1]]);
    const all = await stripe.paymentIntents.list({ limit: 1 }).autoPagingToArray({ limit: 10 });
    expect(all.map((pi) => pi.id)).toEqual([...ids].reverse());
  });
});

describe('create, then confirm', () => {
  const create = (stripe: Stripe, paymentMethod = 'pm_card_visa', key = `k-create-${randomAlnum(8)}`) =>
    stripe.paymentIntents.create(
      { amount: 1800, currency: 'eur', payment_method: paymentMethod, capture_method: 'manual', confirm: false, metadata: { holdId: 'h-cc' } },
      { idempotencyKey: key },
    );

  it('an intent created without confirm holds nothing; confirm authorises once, replays for its key, refuses a second confirmation', async () => {
    const stripe = sdk();
    // A create that touches no card is never a "dropped after charge" answer.
    await setFaults({ dropAfterChargeRate: 1 });
    const pi = await create(stripe, 'pm_card_visa', 'k-cc');
    await raw('/_stand-in/faults', { method: 'DELETE' });
    expect(pi).toMatchObject({ status: 'requires_confirmation', amount_capturable: 0, payment_method: 'pm_card_visa' });
    expect(pi.latest_charge).toBeNull();

    const confirmed = await stripe.paymentIntents.confirm(pi.id, {}, { idempotencyKey: 'k-cc-confirm' });
    expect(confirmed).toMatchObject({ id: pi.id, status: 'requires_capture', amount_capturable: 1800 });
    const replayed = await stripe.paymentIntents.confirm(pi.id, {}, { idempotencyKey: 'k-cc-confirm' });
    expect(replayed.status).toBe('requires_capture');
    expect(replayed.lastResponse.headers['idempotent-replayed']).toBe('true');
    expect(await rejection(stripe.paymentIntents.confirm(pi.id, {}, { idempotencyKey: 'k-cc-other' }))).toMatchObject({ statusCode: 400, code: 'payment_intent_unexpected_state' });

    await stripe.paymentIntents.capture(pi.id, {}, { idempotencyKey: 'k-cc-capture' });
    // One payment, listed under the key it was created with.
    expect(standIn.charges()).toMatchObject([{ paymentIntent: pi.id, amount: 1800, idempotencyKey: 'k-cc' }]);
  });

  it('a declined confirmation is stored for its key; the intent takes another card', async () => {
    const stripe = sdk();
    const pi = await create(stripe, 'pm_card_chargeDeclined');
    const first = await rejection(stripe.paymentIntents.confirm(pi.id, {}, { idempotencyKey: 'k-cd' }));
    expect(first).toBeInstanceOf(Stripe.errors.StripeCardError);
    expect(first).toMatchObject({ statusCode: 402, decline_code: 'generic_decline' });
    expect(first.raw.payment_intent).toMatchObject({ id: pi.id, status: 'requires_payment_method' });
    const again = await rejection(stripe.paymentIntents.confirm(pi.id, {}, { idempotencyKey: 'k-cd' }));
    expect(again.headers['idempotent-replayed']).toBe('true');
    // No payment method left on it: confirming without one is refused, with one it goes through.
    expect(await rejection(stripe.paymentIntents.confirm(pi.id))).toMatchObject({ statusCode: 400, param: 'payment_method' });
    expect((await stripe.paymentIntents.confirm(pi.id, { payment_method: 'pm_card_visa' })).status).toBe('requires_capture');
  });

  it('validates like Stripe: unknown parameters, unknown intents, unknown payment methods', async () => {
    const stripe = sdk();
    const pi = await create(stripe);
    expect(await rejection(stripe.paymentIntents.confirm(pi.id, { bogus: 1 } as Stripe.PaymentIntentConfirmParams))).toMatchObject({ statusCode: 400, code: 'parameter_unknown' });
    expect(await rejection(stripe.paymentIntents.confirm('pi_nope'))).toMatchObject({ statusCode: 404, code: 'resource_missing' });
    expect(await rejection(stripe.paymentIntents.confirm(pi.id, { payment_method: 'pm_nope' }))).toMatchObject({ statusCode: 400, code: 'resource_missing' });
    expect((await stripe.paymentIntents.retrieve(pi.id)).status).toBe('requires_confirmation');
  });

  it('dropAfterChargeRate loses the answer of a confirmation; the same key replays it', async () => {
    const stripe = sdk();
    const pi = await create(stripe);
    await setFaults({ dropAfterChargeRate: 1 });
    expect(await rejection(stripe.paymentIntents.confirm(pi.id, {}, { idempotencyKey: 'k-cdrop' }))).toBeInstanceOf(Stripe.errors.StripeConnectionError);
    await raw('/_stand-in/faults', { method: 'DELETE' });
    const replayed = await stripe.paymentIntents.confirm(pi.id, {}, { idempotencyKey: 'k-cdrop' });
    expect(replayed).toMatchObject({ status: 'requires_capture' });
    expect(replayed.lastResponse.headers['idempotent-replayed']).toBe('true');
  }, 15_000);
});

describe('3D Secure (requires_action)', () => {
  const authenticate = (id: string, outcome?: 'succeed' | 'fail') =>
    raw(`/_stand-in/payment_intents/${id}/authenticate`, json('POST', outcome ? { outcome } : {}));

  it.each(['pm_card_threeDSecure2Required', 'pm_card_authenticationRequired'])('%s stops in requires_action, nothing authorised until the buyer completes the challenge', async (pm) => {
    const pi = await pay(sdk(), { payment_method: pm, capture_method: 'manual' });
    expect(pi).toMatchObject({ status: 'requires_action', amount_capturable: 0, next_action: { type: 'use_stripe_sdk' } });
    expect(standIn.charges()).toEqual([]);
    const done = await authenticate(pi.id);
    expect(done).toMatchObject({ status: 200, body: { id: pi.id, status: 'requires_capture', amount_capturable: 2500, next_action: null } });
    expect((await sdk().paymentIntents.retrieve(pi.id)).status).toBe('requires_capture');
  });

  it('a failed challenge leaves the intent needing another payment method', async () => {
    const pi = await pay(sdk(), { payment_method: 'pm_card_threeDSecure2Required', capture_method: 'manual' });
    const failed = await authenticate(pi.id, 'fail');
    expect(failed.body).toMatchObject({ status: 'requires_payment_method', payment_method: null, last_payment_error: { code: 'payment_intent_authentication_failure' } });
  });

  it('a canceled intent can never be completed: the challenge, a confirmation and a capture are all refused', async () => {
    const stripe = sdk();
    const pi = await pay(stripe, { payment_method: 'pm_card_threeDSecure2Required', capture_method: 'manual' });
    expect((await stripe.paymentIntents.cancel(pi.id, { cancellation_reason: 'abandoned' })).status).toBe('canceled');
    expect(await authenticate(pi.id)).toMatchObject({ status: 409, body: { error: { code: 'payment_intent_unexpected_state' } } });
    expect(await rejection(stripe.paymentIntents.confirm(pi.id))).toMatchObject({ code: 'payment_intent_unexpected_state' });
    expect(await rejection(stripe.paymentIntents.capture(pi.id))).toMatchObject({ code: 'payment_intent_unexpected_state' });
    expect((await stripe.paymentIntents.retrieve(pi.id)).status).toBe('canceled');
    expect(standIn.charges()).toEqual([]);
    expect((await authenticate('pi_nope')).status).toBe(404);
    expect((await raw(`/_stand-in/payment_intents/${pi.id}/authenticate`, json('POST', { outcome: 'maybe' }))).status).toBe(400);
  });
});

describe('idempotency', () => {
  it('replays the first answer for the same key and parameters, charging once', async () => {
    const first = await pay(sdk(), {}, { idempotencyKey: 'k-same' });
    const second = await pay(sdk(), {}, { idempotencyKey: 'k-same' });
    expect(second.id).toBe(first.id);
    expect(second.lastResponse.headers['idempotent-replayed']).toBe('true');
    expect(second.lastResponse.headers['original-request']).toBe(first.lastResponse.requestId);
    expect(standIn.charges()).toHaveLength(1);
  });

  it('rejects the same key with other parameters', async () => {
    await pay(sdk(), {}, { idempotencyKey: 'k-other' });
    const err = await rejection(pay(sdk(), { amount: 9999 }, { idempotencyKey: 'k-other' }));
    expect(err).toBeInstanceOf(Stripe.errors.StripeIdempotencyError);
    expect(err.statusCode).toBe(400);
    expect(err.message).toMatch(/^Keys for idempotent requests can only be used with the same parameters/);
    expect(standIn.charges()).toHaveLength(1);
  });

  it('stores a decline (the card was tried) but not a validation error', async () => {
    const first = await rejection(pay(sdk(), { payment_method: 'pm_card_chargeDeclined' }, { idempotencyKey: 'k-decline' }));
    const second = await rejection(pay(sdk(), { payment_method: 'pm_card_chargeDeclined' }, { idempotencyKey: 'k-decline' }));
    expect(second).toBeInstanceOf(Stripe.errors.StripeCardError);
    expect(second.raw.payment_intent.id).toBe(first.raw.payment_intent.id);
    expect(second.headers['idempotent-replayed']).toBe('true');

    await rejection(pay(sdk(), { amount: 0 }, { idempotencyKey: 'k-invalid' }));
    // Nothing was stored, so the key is free for a corrected request.
    expect((await pay(sdk(), {}, { idempotencyKey: 'k-invalid' })).status).toBe('succeeded');
  });

  it('answers 409 idempotency_key_in_use while the first request is still processing', async () => {
    await setFaults({ latencyMs: 400 });
    const request = (): Promise<{ status: number; headers: Headers; body: any }> =>
      raw('/v1/payment_intents', {
        method: 'POST',
        headers: { Authorization: 'Bearer sk_test_x', 'Idempotency-Key': 'k-flight', 'Content-Type': 'application/x-www-form-urlencoded' },
        body: 'amount=700&currency=usd&payment_method=pm_card_visa&confirm=true&metadata[holdId]=hf',
      });
    const answers = await Promise.all([request(), request()]);
    const ok = answers.find((a) => a.status === 200);
    const conflict = answers.find((a) => a.status === 409);
    expect(ok?.body.status).toBe('succeeded');
    expect(conflict?.body).toMatchObject({ error: { type: 'idempotency_error', code: 'idempotency_key_in_use' } });

    await raw('/_stand-in/faults', { method: 'DELETE' });
    const later = await request();
    expect(later.status).toBe(200);
    expect(later.body.id).toBe(ok?.body.id);
    expect(later.headers.get('idempotent-replayed')).toBe('true');
    expect(standIn.charges()).toHaveLength(1);
  });
});

describe('faults', () => {
  it('reports, merges, clears and validates faults', async () => {
    const none = { latencyMs: 0, errorRate: 0, dropAfterChargeRate: 0 };
    expect(await raw('/_stand-in/faults')).toMatchObject({ status: 200, body: none });
    expect((await setFaults({ latencyMs: 5 })).body).toEqual({ ...none, latencyMs: 5 });
    expect((await setFaults({ errorRate: 0.25 })).body).toEqual({ ...none, latencyMs: 5, errorRate: 0.25 });
    expect((await raw('/_stand-in/faults')).body).toEqual({ ...none, latencyMs: 5, errorRate: 0.25 });
    expect(await raw('/_stand-in/faults', { method: 'DELETE' })).toMatchObject({ status: 200, body: none });

    const bad: unknown[] = [{ errorRate: 2 }, { latencyMs: -1 }, { latencyMs: 1.5 }, { dropAfterChargeRate: 'x' }, { surprise: 1 }, []];
    for (const body of bad) {
      const res = await raw('/_stand-in/faults', json('POST', body));
      expect(res.status).toBe(400);
      expect(res.body).toMatchObject({ error: { code: 'invalid_request', message: expect.any(String) } });
    }
    expect((await raw('/_stand-in/faults', { method: 'POST', body: '{not json' })).status).toBe(400);
    expect((await raw('/_stand-in/faults')).body).toEqual(none);
  });

  it('errorRate 1 answers 500 without charging or storing the key', async () => {
    await setFaults({ errorRate: 1 });
    const err = await rejection(pay(sdk(), {}, { idempotencyKey: 'k-500' }));
    expect(err).toBeInstanceOf(Stripe.errors.StripeAPIError);
    expect(err.statusCode).toBe(500);
    expect(standIn.charges()).toEqual([]);

    await raw('/_stand-in/faults', { method: 'DELETE' });
    const pi = await pay(sdk(), {}, { idempotencyKey: 'k-500' });
    expect(pi.lastResponse.headers['idempotent-replayed']).toBeUndefined();
    expect(standIn.charges()).toMatchObject([{ paymentIntent: pi.id, idempotencyKey: 'k-500' }]);
  });

  it("the SDK's own retries ride through injected 500s and charge exactly once", async () => {
    await setFaults({ errorRate: 0.5 });
    rolls = [0.1, 0.2, 0.9]; // attempt 1 and 2 fail, attempt 3 goes through
    const stripe = sdk(2);
    let attempts = 0;
    stripe.on('request', () => attempts++);
    const pi = await pay(stripe);
    expect(pi.status).toBe('succeeded');
    expect(attempts).toBe(3);
    const charges = standIn.charges();
    expect(charges).toHaveLength(1);
    // The SDK generated one key and reused it across its retries.
    expect(charges[0]?.idempotencyKey).toMatch(/^stripe-node-retry-/);
  }, 15_000);

  it('dropAfterChargeRate 1 charges, drops the answer, and a retry with the key replays', async () => {
    await setFaults({ dropAfterChargeRate: 1 });
    const err = await rejection(pay(sdk(), {}, { idempotencyKey: 'k-drop' }));
    expect(err).toBeInstanceOf(Stripe.errors.StripeConnectionError);
    const charges = standIn.charges();
    expect(charges).toMatchObject([{ idempotencyKey: 'k-drop', amount: 2500 }]);

    await raw('/_stand-in/faults', { method: 'DELETE' });
    const pi = await pay(sdk(), {}, { idempotencyKey: 'k-drop' });
    expect(pi.id).toBe(charges[0]?.paymentIntent);
    expect(pi.lastResponse.headers['idempotent-replayed']).toBe('true');
    expect(standIn.charges()).toHaveLength(1);
  }, 15_000);
});

describe('http surface', () => {
  const form = { 'Content-Type': 'application/x-www-form-urlencoded' };

  it('requires a Bearer sk_ key on /v1 and answers Stripe-style errors', async () => {
    const attempts: Record<string, string>[] = [{}, { Authorization: 'Bearer pk_test_x' }, { Authorization: 'Basic abc' }];
    for (const headers of attempts) {
      const res = await raw('/v1/payment_intents', { headers });
      expect(res.status).toBe(401);
      expect(res.body).toEqual({ error: { type: 'invalid_request_error', message: expect.any(String) } });
    }
    const unknown = await raw('/v1/customers', { headers: { Authorization: 'Bearer sk_test_x' } });
    expect(unknown.status).toBe(404);
    expect(unknown.body.error).toMatchObject({ type: 'invalid_request_error', message: expect.stringContaining('Unrecognized request URL') });
    expect((await raw('/_stand-in/nothing')).status).toBe(404);
    expect(unknown.headers.get('request-id')).toMatch(/^req_/);
  });

  it('refuses bodies over 1 MB with 413', async () => {
    const res = await raw('/v1/payment_intents', {
      method: 'POST',
      headers: { ...form, Authorization: 'Bearer sk_test_x' },
      body: `description=${'x'.repeat(1024 * 1024 + 1)}`,
    });
    expect(res.status).toBe(413);
  });

  it('reset clears intents, charges, keys and faults', async () => {
    const pi = await pay(sdk(), {}, { idempotencyKey: 'k-reset' });
    await setFaults({ latencyMs: 1 });
    await raw('/_stand-in/reset', { method: 'POST' });
    expect(standIn.charges()).toEqual([]);
    expect((await raw('/_stand-in/faults')).body.latencyMs).toBe(0);
    expect(await rejection(sdk().paymentIntents.retrieve(pi.id))).toMatchObject({ statusCode: 404 });
    expect((await pay(sdk(), {}, { idempotencyKey: 'k-reset' })).id).not.toBe(pi.id);
  });
});

describe('parseForm', () => {
  it('builds nested objects and arrays from bracket notation', () => {
    expect(parseForm('amount=5&metadata[holdId]=h%201&payment_method_types[0]=card&payment_method_types[1]=link&automatic_payment_methods[enabled]=true&a[b][c]=d&l[]=x&l[]=y')).toEqual({
      amount: '5',
      metadata: { holdId: 'h 1' },
      payment_method_types: ['card', 'link'],
      automatic_payment_methods: { enabled: 'true' },
      a: { b: { c: 'd' } },
      l: ['x', 'y'],
    });
    expect(parseForm('metadata%5BholdId%5D=h2')).toEqual({ metadata: { holdId: 'h2' } });
  });

  it('decodes what the SDK encodes: metadata, indexed arrays of objects, nesting to depth 5, empty values, last duplicate', () => {
    // Shaped as stripe-node writes it: arrays as a[0], a[1] (never a[]), brackets unescaped, values escaped.
    const body = [
      'metadata[holdId]=hold_1', 'metadata[note]=a%20%26%20b%3D%5Bc%5D', 'metadata[empty]=',
      'payment_method_types[0]=card', 'payment_method_types[1]=link',
      'line_items[0][price_data][product_data][metadata][sku]=S1', 'line_items[0][quantity]=2',
      'line_items[1][price_data][product_data][metadata][sku]=S2', 'line_items[1][quantity]=1',
      'expand[0]=latest_charge', 'amount=5', 'amount=6',
    ].join('&');
    expect(parseForm(body)).toEqual({
      metadata: { holdId: 'hold_1', note: 'a & b=[c]', empty: '' },
      payment_method_types: ['card', 'link'],
      line_items: [
        { price_data: { product_data: { metadata: { sku: 'S1' } } }, quantity: '2' },
        { price_data: { product_data: { metadata: { sku: 'S2' } } }, quantity: '1' },
      ],
      expand: ['latest_charge'],
      amount: '6',
    });
    // One level deeper than Stripe nests is refused, not cut short into a literal key.
    expect(() => parseForm('a[b][c][d][e][f][g]=1')).toThrow(/Invalid parameters/);
    expect(() => parseForm('metadata[a=1')).toThrow(/Invalid parameter name/);
  });

  it('rejects prototype keys, conflicts and absurd indexes', () => {
    expect(() => parseForm('a[__proto__][x]=1')).toThrow(/Invalid parameter name/);
    // Plain keys take a shorter path and are checked just the same.
    expect(() => parseForm('__proto__=1')).toThrow(/Invalid parameter name/);
    expect(() => parseForm('constructor=1&amount=5')).toThrow(/Invalid parameter name/);
    expect(() => parseForm('a]=1')).toThrow(/Invalid parameter name/);
    expect(() => parseForm('a=1&a[b]=2')).toThrow(/Conflicting/);
    expect(() => parseForm('a[100000]=1')).toThrow(/too large/);
    expect(({} as Record<string, unknown>).x).toBeUndefined();
  });
});

describe('ids', () => {
  it('are alphanumeric, of the asked length, every character in use, and do not repeat', () => {
    const long = randomAlnum(5000);
    expect(long).toMatch(/^[A-Za-z0-9]{5000}$/);
    // 5,000 draws from 62 characters: the chance that a fair source misses one is about 10^-33.
    expect(new Set(long).size).toBe(62);
    const ids = Array.from({ length: 2000 }, () => stripeId('pi'));
    expect(ids.every((id) => /^pi_[A-Za-z0-9]{24}$/.test(id))).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
  });
});

describe('close', () => {
  it('answers nothing more, also on a connection the client kept alive', async () => {
    const own = await startStandIn({ port: 0 });
    const agent = new (await import('node:http')).Agent({ keepAlive: true, maxSockets: 1 });
    const stripe = new Stripe('sk_test_close', { host: '127.0.0.1', port: own.port, protocol: 'http', httpAgent: agent, maxNetworkRetries: 0 });
    try {
      await stripe.paymentIntents.create({ amount: 100, currency: 'eur' });
      await own.close();
      // The same kept-alive socket: refused without an answer, not served by a closed stand-in.
      await expect(stripe.paymentIntents.create({ amount: 100, currency: 'eur' })).rejects.toMatchObject({ type: 'StripeConnectionError' });
      expect(own.charges()).toEqual([]);
    } finally {
      agent.destroy();
    }
  });
});
