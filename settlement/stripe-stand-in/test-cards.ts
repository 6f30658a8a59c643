// Stripe's test PaymentMethods and what each does when confirmed; every other pm_card_* is a good card.

const DECLINES: Record<string, { decline_code: string; message: string }> = {
  pm_card_chargeDeclined: { decline_code: 'generic_decline', message: 'Your card was declined.' },
  pm_card_chargeDeclinedInsufficientFunds: { decline_code: 'insufficient_funds', message: 'Your card has insufficient funds.' },
};
// Stripe's test PaymentMethods whose issuer asks for 3D Secure: a confirmation stops in requires_action
// until the buyer completes the challenge (here: `POST /_stand-in/payment_intents/{id}/authenticate`).
const THREE_D_SECURE: readonly string[] = ['pm_card_threeDSecure2Required', 'pm_card_authenticationRequired'];

/** What confirming a test card does: declined (with Stripe's codes), a 3D Secure challenge, or authorised. */
export type CardOutcome = { kind: 'decline'; decline_code: string; message: string } | { kind: 'challenge' } | { kind: 'authorise' };

export function testCardOutcome(paymentMethod: string): CardOutcome {
  const decline = DECLINES[paymentMethod];
  if (decline) return { kind: 'decline', ...decline };
  if (THREE_D_SECURE.includes(paymentMethod)) return { kind: 'challenge' };
  return { kind: 'authorise' };
}
