import Stripe from 'stripe';

let verifier: Stripe | undefined;

/**
 * Checks a Stripe webhook's signature with the SDK (`webhooks.constructEvent`); throws when it is
 * wrong, so the caller answers 400. Feeding the events into settlement comes with reconciliation.
 */
export function verifyWebhook(body: Buffer, signature: string, secret: string, apiKey: string): Stripe.Event {
  verifier ??= new Stripe(apiKey);
  return verifier.webhooks.constructEvent(body, signature, secret);
}
