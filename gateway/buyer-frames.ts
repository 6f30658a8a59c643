import { z } from 'zod';
import type { BuyerView } from '../admission/waiting-room.js';
import type { PlaceEstimate } from '../admission/estimates.js';

/** Buyer-to-gateway frames of the contract, validated once per frame. */
export const buyerFrame = z.discriminatedUnion('type', [
  // `proof` answers the socket's `challenge` (printable ASCII: clients send a counter or similar).
  z.object({ type: z.literal('join'), proof: z.string().regex(/^[\x21-\x7e]{1,128}$/, 'proof is 1 to 128 printable ASCII characters').optional() }).strict(),
  z.object({ type: z.literal('status') }).strict(),
  z.object({
    type: z.literal('pay'),
    holdId: z.string().regex(/^hold_[a-z0-9_]{1,100}$/, 'holdId is the id of your hold'),
    paymentMethod: z.string().regex(/^pm_[A-Za-z0-9_]{1,120}$/, 'paymentMethod is a Stripe PaymentMethod id (pm_...)'),
  }).strict(),
  z.object({ type: z.literal('leave') }).strict(),
]);

export type BuyerFrameIn = z.infer<typeof buyerFrame>;

/** Where a socket stands, for pushing queue positions without asking Redis. */
export type Phase = 'none' | 'pre' | 'queued' | 'holding' | 'done';

export interface Rendered {
  frame: Record<string, unknown> | null;
  phase: Phase;
  ticket?: number;
}

/** Applies a sale's model of the last tick to a place (estimates.ts placeEstimator). */
export type Estimator = (position: number, startsInSeconds?: number) => PlaceEstimate;

/** A `queued` frame: the place, its ETA and 80 % interval, the chance a unit is left for it, the ticket. */
export function queuedFrame(position: number, ticket: number, est: Estimator, startsInSeconds = 0) {
  const e = est(position, startsInSeconds);
  return { type: 'queued', position, etaSeconds: e.etaSeconds, etaRange: e.etaRange, chance: e.chance, ticket };
}

/**
 * queuedFrame's text, written out directly: the gateway pushes it to every waiting socket that moved,
 * up to 100,000 a tick, and a template is about twice as fast as JSON.stringify of the object
 * (every field is a number, so nothing needs escaping).
 */
export function queuedText(position: number, ticket: number, est: Estimator): string {
  const e = est(position);
  return `{"type":"queued","position":${position},"etaSeconds":${e.etaSeconds},"etaRange":[${e.etaRange[0]},${e.etaRange[1]}],"chance":${e.chance},"ticket":${ticket}}`;
}

/**
 * Turns what Redis says of a buyer into the contract frame the buyer gets, and the socket's phase.
 * `m` applies the sale's estimate model of the last admitter tick (estimates.ts).
 */
export function renderView(v: BuyerView, m: Estimator, startsInSeconds: number): Rendered {
  switch (v.kind) {
    case 'none': return { frame: null, phase: 'none' };
    // The caller sends the sale frame (state 'ended', with its window): nothing more will come.
    case 'ended': return { frame: null, phase: 'done' };
    case 'left':
    case 'released': return { frame: { type: 'left' }, phase: 'done' };
    // Whole seconds, as for every other ETA: the time left to the start is rounded up.
    // Until the seal the ticket is the rank in the pre-queue (the ticket the seal would give now);
    // from the seal on it is fixed.
    case 'pre': return { frame: queuedFrame(v.position, v.position, m, startsInSeconds), phase: 'pre' };
    case 'waiting': {
      const position = Math.max(1, v.ticket - v.served);
      return { frame: queuedFrame(position, v.ticket, m), phase: 'queued', ticket: v.ticket };
    }
    // The admitter is taking a unit for this buyer now (it goes back to the front only if none is left).
    case 'admitting': return { frame: { type: 'queued', position: 1, etaSeconds: 0, etaRange: [0, 1], chance: 1, ticket: v.ticket }, phase: 'queued' };
    case 'sold_out': return { frame: { type: 'sold_out' }, phase: 'done' };
    case 'held': return { frame: { type: 'admitted', holdId: v.holdId, expiresAt: new Date(v.expiresAt).toISOString() }, phase: 'holding' };
    case 'paying': return { frame: { type: 'payment_pending', holdId: v.holdId }, phase: 'holding' };
    case 'sold': return { frame: { type: 'order_confirmed', holdId: v.holdId, orderId: v.orderId }, phase: 'done' };
    case 'expired': return { frame: { type: 'hold_expired', holdId: v.holdId }, phase: 'done' };
    case 'done': return { frame: { type: 'error', code: 'purchase_limit_reached', message: 'this buyer has bought as many units as the sale allows' }, phase: 'done' };
  }
}
