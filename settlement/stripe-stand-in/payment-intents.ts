import { ApiError, invalidParam, invalidRequest, missingParam, noSuchIntent, unexpectedState } from './errors.js';
import type { FormObject } from './form.js';
import { randomAlnum, stripeId } from './ids.js';
import type { Charge, IntentEventType, IntentStatus, PaymentIntent, RequestContext } from './intent-model.js';
import * as p from './params.js';
import { testCardOutcome } from './test-cards.js';

export type { Charge, IntentEventType, IntentStatus, PaymentIntent, RequestContext } from './intent-model.js';

const CREATE_PARAMS = [
  'amount', 'currency', 'payment_method', 'confirm', 'capture_method', 'metadata', 'description',
  // stripe@23 (API 2026-09-30+) names the list `allowed_payment_method_types`; older versions `payment_method_types`.
  'payment_method_types', 'allowed_payment_method_types', 'automatic_payment_methods', 'customer',
  // Accepted and ignored: they change nothing a stand-in can observe.
  'expand', 'off_session', 'receipt_email', 'return_url', 'statement_descriptor', 'statement_descriptor_suffix',
] as const;
const CANCELABLE: readonly IntentStatus[] = ['requires_payment_method', 'requires_capture', 'requires_confirmation', 'requires_action'];
const CONFIRMABLE: readonly IntentStatus[] = ['requires_confirmation', 'requires_payment_method', 'requires_action'];
const CONFIRM_PARAMS = [
  'payment_method', 'capture_method', 'expand',
  // Accepted and ignored: they change nothing a stand-in can observe.
  'off_session', 'receipt_email', 'return_url', 'use_stripe_sdk',
] as const;
const now = (): number => Math.floor(Date.now() / 1000);
const clone = (pi: PaymentIntent): PaymentIntent => structuredClone(pi);

/**
 * In-memory PaymentIntents plus the ledger of money actually taken. Methods throw ApiError. They
 * answer the live intents, not copies: the server serialises an answer before it handles anything
 * else, and a copy per request was one of the stand-in's largest costs after HTTP.
 */
export class PaymentIntentStore {
  private readonly intents = new Map<string, PaymentIntent>();
  /** The idempotency key each intent was created with: a charge is listed under it, whichever call captured. */
  private readonly createdWith = new Map<string, string | null>();
  private ledger: Charge[] = [];

  /**
   * `onEvent` hears every status change worth a Stripe event (the webhook sender). It is handed the
   * live intent and must copy what it keeps before returning (the sender snapshots it only when a
   * webhook endpoint is configured: no copy per request otherwise).
   */
  constructor(private readonly onEvent: (type: IntentEventType, pi: PaymentIntent) => void = () => {}) {}

  create(form: FormObject, ctx: RequestContext): PaymentIntent {
    p.allowOnly(form, CREATE_PARAMS);
    const amount = p.optionalInt(form, 'amount', 1);
    if (amount === undefined) throw missingParam('amount');
    const currency = p.requiredString(form, 'currency').toLowerCase();
    if (!/^[a-z]{3}$/.test(currency)) throw invalidParam('currency', `Invalid currency: ${currency}.`);
    const paymentMethod = p.optionalString(form, 'payment_method') ?? null;
    const confirm = p.optionalBoolean(form, 'confirm') ?? false;
    const legacyTypes = p.optionalStringArray(form, 'payment_method_types');
    const allowedTypes = p.optionalStringArray(form, 'allowed_payment_method_types');
    const automatic = p.automaticPaymentMethods(form);
    if (legacyTypes && allowedTypes) {
      throw invalidRequest('You may only specify one of these parameters: allowed_payment_method_types, payment_method_types.', { code: 'parameters_exclusive' });
    }
    const types = allowedTypes ?? legacyTypes;
    if (types && automatic?.enabled) {
      throw invalidRequest('You may only specify one of these parameters: automatic_payment_methods, payment_method_types.', { code: 'parameters_exclusive' });
    }
    if (confirm && paymentMethod === null) {
      throw invalidParam('payment_method', 'You cannot confirm this PaymentIntent because it is missing a payment method.');
    }
    if (paymentMethod !== null && !paymentMethod.startsWith('pm_card_')) {
      throw invalidRequest(`No such PaymentMethod: '${paymentMethod}'`, { code: 'resource_missing', param: 'payment_method' });
    }

    const id = stripeId('pi');
    const pi: PaymentIntent = {
      id, object: 'payment_intent', allowed_payment_method_types: allowedTypes ?? null, amount, amount_capturable: 0, amount_received: 0,
      automatic_payment_methods: automatic, canceled_at: null, cancellation_reason: null,
      capture_method: p.optionalEnum(form, 'capture_method', ['automatic', 'automatic_async', 'manual'] as const) ?? 'automatic',
      client_secret: `${id}_secret_${randomAlnum(25)}`, confirmation_method: 'automatic',
      created: now(), currency, customer: p.optionalString(form, 'customer') ?? null,
      description: p.optionalString(form, 'description') ?? null, last_payment_error: null, latest_charge: null,
      livemode: false, metadata: p.metadata(form), next_action: null, payment_method: paymentMethod,
      payment_method_types: types ?? ['card'],
      status: paymentMethod === null ? 'requires_payment_method' : 'requires_confirmation',
    };
    this.intents.set(id, pi);
    this.createdWith.set(id, ctx.idempotencyKey);
    if (confirm) this.runCard(pi);
    return pi;
  }

  /**
   * `POST /v1/payment_intents/{id}/confirm`, as Stripe: only an intent that still needs confirming (or a
   * new payment method, or the buyer's action) may be confirmed; a payment method given here replaces
   * the intent's. A decline is an answer stored for the idempotency key, as on create.
   */
  confirm(id: string, form: FormObject): PaymentIntent {
    p.allowOnly(form, CONFIRM_PARAMS);
    const pi = this.get(id);
    if (!CONFIRMABLE.includes(pi.status)) {
      throw unexpectedState(`You cannot confirm this PaymentIntent because it has a status of ${pi.status}. Only a PaymentIntent with one of the following statuses may be confirmed: ${CONFIRMABLE.join(', ')}.`);
    }
    const paymentMethod = p.optionalString(form, 'payment_method');
    if (paymentMethod !== undefined && !paymentMethod.startsWith('pm_card_')) {
      throw invalidRequest(`No such PaymentMethod: '${paymentMethod}'`, { code: 'resource_missing', param: 'payment_method' });
    }
    if (paymentMethod === undefined && pi.payment_method === null) {
      throw invalidParam('payment_method', 'You cannot confirm this PaymentIntent because it is missing a payment method.');
    }
    const captureMethod = p.optionalEnum(form, 'capture_method', ['automatic', 'automatic_async', 'manual'] as const);
    if (paymentMethod !== undefined) pi.payment_method = paymentMethod;
    if (captureMethod !== undefined) pi.capture_method = captureMethod;
    pi.last_payment_error = null;
    this.runCard(pi);
    return pi;
  }

  /**
   * Test control: the buyer completes (or fails) the 3D Secure challenge of an intent in requires_action,
   * as the issuer's page would. Anything else — a canceled intent above all — cannot be completed.
   */
  authenticate(id: string, succeed: boolean): PaymentIntent {
    const pi = this.get(id);
    if (pi.status !== 'requires_action') {
      throw unexpectedState(`This PaymentIntent's authentication cannot be completed because it has a status of ${pi.status}.`);
    }
    pi.next_action = null;
    if (!succeed) {
      this.decline(pi, { code: 'payment_intent_authentication_failure', message: 'The provided PaymentMethod has failed authentication.' }, false);
      return pi;
    }
    this.authorised(pi);
    return pi;
  }

  retrieve(id: string, query: FormObject): PaymentIntent {
    p.allowOnly(query, ['expand', 'client_secret']);
    return this.get(id);
  }

  capture(id: string, form: FormObject, _ctx: RequestContext): PaymentIntent {
    p.allowOnly(form, ['amount_to_capture', 'expand']);
    const pi = this.get(id);
    if (pi.status !== 'requires_capture') {
      throw unexpectedState(`This PaymentIntent could not be captured because it has a status of ${pi.status}. Only a PaymentIntent with one of the following statuses may be captured: requires_capture.`);
    }
    const amount = p.optionalInt(form, 'amount_to_capture', 1, pi.amount_capturable) ?? pi.amount_capturable;
    pi.status = 'succeeded';
    pi.amount_received = amount;
    pi.amount_capturable = 0;
    this.record(pi, amount);
    this.onEvent('payment_intent.succeeded', pi);
    return pi;
  }

  cancel(id: string, form: FormObject): PaymentIntent {
    p.allowOnly(form, ['cancellation_reason', 'expand']);
    const reason = p.optionalEnum(form, 'cancellation_reason', ['duplicate', 'fraudulent', 'requested_by_customer', 'abandoned'] as const);
    const pi = this.get(id);
    if (!CANCELABLE.includes(pi.status)) {
      throw unexpectedState(`You cannot cancel this PaymentIntent because it has a status of ${pi.status}. Only a PaymentIntent with one of the following statuses may be canceled: ${CANCELABLE.join(', ')}.`);
    }
    pi.status = 'canceled';
    pi.canceled_at = now();
    pi.cancellation_reason = reason ?? null;
    pi.amount_capturable = 0;
    this.onEvent('payment_intent.canceled', pi);
    return pi;
  }

  /** Newest first, like Stripe; `starting_after` pages towards older objects. */
  list(query: FormObject): { object: 'list'; url: string; has_more: boolean; data: PaymentIntent[] } {
    p.allowOnly(query, ['limit', 'starting_after', 'expand']);
    const limit = p.optionalInt(query, 'limit', 1, 100) ?? 10;
    let all = [...this.intents.values()].reverse();
    const after = p.optionalString(query, 'starting_after');
    if (after !== undefined) {
      const at = all.findIndex((pi) => pi.id === after);
      if (at < 0) throw noSuchIntent(after);
      all = all.slice(at + 1);
    }
    return { object: 'list', url: '/v1/payment_intents', has_more: all.length > limit, data: all.slice(0, limit) };
  }

  /** Only `metadata['key']:'value'` queries. Unlike real Stripe, results are visible immediately. */
  search(query: FormObject): { object: 'search_result'; url: string; has_more: false; next_page: null; data: PaymentIntent[] } {
    p.allowOnly(query, ['query', 'limit', 'page', 'expand']);
    const q = p.requiredString(query, 'query');
    const limit = p.optionalInt(query, 'limit', 1, 100) ?? 10;
    const m = /^\s*metadata\[(['"])(.+?)\1\]\s*:\s*(['"])(.*?)\3\s*$/.exec(q);
    if (!m || m[2] === undefined || m[4] === undefined) {
      throw invalidParam('query', `The stand-in only supports queries of the form metadata['key']:'value', got: ${q}`);
    }
    const [key, value] = [m[2], m[4]];
    const hits = [...this.intents.values()].reverse().filter((pi) => pi.metadata[key] === value);
    return { object: 'search_result', url: '/v1/payment_intents/search', has_more: false, next_page: null, data: hits.slice(0, limit) };
  }

  charges(): Charge[] {
    return structuredClone(this.ledger);
  }

  reset(): void {
    this.intents.clear();
    this.createdWith.clear();
    this.ledger = [];
  }

  private get(id: string): PaymentIntent {
    const pi = this.intents.get(id);
    if (pi === undefined) throw noSuchIntent(id);
    return pi;
  }

  /** Runs the test card: declines leave the intent retryable, 3DS cards wait for the buyer, good cards authorise or take the money. */
  private runCard(pi: PaymentIntent): void {
    const outcome = testCardOutcome(pi.payment_method as string);
    if (outcome.kind === 'decline') {
      this.decline(pi, { code: 'card_declined', decline_code: outcome.decline_code, message: outcome.message }, true);
      return;
    }
    if (outcome.kind === 'challenge') {
      // Nothing is authorised yet: the issuer waits for the buyer's challenge (Stripe answers 200).
      pi.status = 'requires_action';
      pi.next_action = { type: 'use_stripe_sdk', use_stripe_sdk: { type: 'three_d_secure_redirect', stripe_js: `https://hooks.stripe.com/3d_secure_2/hosted?payment_intent=${pi.id}` } };
      this.onEvent('payment_intent.requires_action', pi);
      return;
    }
    this.authorised(pi);
  }

  /**
   * The card refused: as on Stripe, the failed method is detached and the intent needs a new one. Thrown
   * (an API answer) when the refusal is the answer of the request; the card was tried, so Stripe stores
   * that answer for the idempotency key (storable = true).
   */
  private decline(pi: PaymentIntent, why: { code: string; message: string; decline_code?: string }, answer: boolean): void {
    const pm = pi.payment_method as string;
    pi.latest_charge = stripeId('ch');
    const error = {
      type: 'card_error' as const, ...why, charge: pi.latest_charge,
      payment_method: { id: pm, object: 'payment_method', type: 'card' },
    };
    pi.status = 'requires_payment_method';
    pi.payment_method = null;
    pi.last_payment_error = { ...error, doc_url: `https://stripe.com/docs/error-codes/${why.code.replaceAll('_', '-')}` };
    this.onEvent('payment_intent.payment_failed', pi);
    if (answer) throw new ApiError(402, { ...error, payment_intent: clone(pi) }, true);
  }

  /** The card said yes: authorised (manual capture) or charged. */
  private authorised(pi: PaymentIntent): void {
    pi.latest_charge = stripeId('ch');
    if (pi.capture_method === 'manual') {
      pi.status = 'requires_capture';
      pi.amount_capturable = pi.amount;
      this.onEvent('payment_intent.amount_capturable_updated', pi);
      return;
    }
    pi.status = 'succeeded';
    pi.amount_received = pi.amount;
    this.record(pi, pi.amount);
    this.onEvent('payment_intent.succeeded', pi);
  }

  private record(pi: PaymentIntent, amount: number): void {
    this.ledger.push({
      paymentIntent: pi.id, amount, currency: pi.currency, status: 'succeeded',
      idempotencyKey: this.createdWith.get(pi.id) ?? null, metadata: { ...pi.metadata },
    });
  }
}
