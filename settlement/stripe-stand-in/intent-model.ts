// The shapes the stand-in answers with: Stripe's PaymentIntent (the fields our code or the SDK's types
// read), the stand-in's own record of money taken, and what a request carries into the store.

export type IntentStatus = 'requires_payment_method' | 'requires_confirmation' | 'requires_action' | 'requires_capture' | 'succeeded' | 'canceled';
type CaptureMethod = 'automatic' | 'automatic_async' | 'manual';

/** The PaymentIntent fields Stripe returns that our settlement (or the SDK's types) may read. */
export interface PaymentIntent {
  id: string;
  object: 'payment_intent';
  allowed_payment_method_types: string[] | null;
  amount: number;
  amount_capturable: number;
  amount_received: number;
  automatic_payment_methods: { enabled: boolean } | null;
  canceled_at: number | null;
  cancellation_reason: string | null;
  capture_method: CaptureMethod;
  client_secret: string;
  confirmation_method: 'automatic';
  created: number;
  currency: string;
  customer: string | null;
  description: string | null;
  last_payment_error: Record<string, unknown> | null;
  latest_charge: string | null;
  livemode: false;
  metadata: Record<string, string>;
  next_action: Record<string, unknown> | null;
  payment_method: string | null;
  payment_method_types: string[];
  status: IntentStatus;
}

/** One successful payment, as listed by `GET /_stand-in/charges`. */
export interface Charge {
  paymentIntent: string;
  amount: number;
  currency: string;
  status: 'succeeded';
  idempotencyKey: string | null;
  metadata: Record<string, string>;
}

export interface RequestContext {
  idempotencyKey: string | null;
}

/** The intent events the stand-in sends to a webhook (webhooks.ts), beside the intents that cause them. */
export type IntentEventType =
  | 'payment_intent.amount_capturable_updated'
  | 'payment_intent.succeeded'
  | 'payment_intent.payment_failed'
  | 'payment_intent.requires_action'
  | 'payment_intent.canceled';
