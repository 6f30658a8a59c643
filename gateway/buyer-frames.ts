import { z } from 'zod';
import type { BuyerFrame } from '../admission/sale-events.js';
import type { SaleState } from '../admission/sale-schema.js';
import type { ErrorCode } from './errors.js';

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

/*
 * Gateway-to-buyer frames of the contract (../shared/CONTRACT.md, "Gateway to buyer"), one variant
 * per `type`. The frames about a hold are admission's and settlement's own (`BuyerFrame` of
 * sale-events.ts): they reach the buyer as published, so their shape is written down once.
 */
export interface SaleFrame { type: 'sale'; state: SaleState; startsAt: string; endsAt: string; name: string; price: { amount: number; currency: string }; prequeueCommitment: string }
export interface ChallengeFrame { type: 'challenge'; nonce: string; bits: number }
/** `etaRange`: an 80 % interval of seconds; `chance`: 0..1 that a unit is left for this place (admission/estimates.ts). */
export interface QueuedFrame { type: 'queued'; position: number; etaSeconds: number; etaRange: [number, number]; chance: number; ticket: number }
export interface SoldOutFrame { type: 'sold_out' }
/** Not in the contract's table (clients may ignore it): the answer to `leave`, or a status after it. */
export interface LeftFrame { type: 'left' }
export interface ErrorFrame { type: 'error'; code: ErrorCode; message: string }

export type FrameToBuyer = SaleFrame | ChallengeFrame | QueuedFrame | BuyerFrame | SoldOutFrame | LeftFrame | ErrorFrame;

/** A frame as sent: the one serialisation of every outgoing frame. */
export const frameText = (frame: FrameToBuyer): string => JSON.stringify(frame);
