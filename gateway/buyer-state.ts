import type { BuyerView } from '../admission/waiting-room.js';
import type { BuyerFrame } from '../admission/sale-events.js';
import { ERRORS } from './errors.js';
import type { FrameToBuyer, QueuedFrame } from './buyer-frames.js';

/*
 * One vocabulary for where a buyer stands:
 * - admission's `BuyerView.kind` says it in full, as Redis has it (a place: none, left, pre, waiting,
 *   admitting, sold_out, ended, limit_reached; or the hold's own state: held, paying, sold, expired,
 *   released);
 * - a socket keeps only its `Stage`, the coarse part the gateway acts on without asking Redis, named
 *   with the same words where they mean the same thing (`pre`, `waiting`);
 * - the buyer is told in the contract's frames (`queued`, `admitted`, ...), mapped here and only here.
 */

/**
 * What a socket waits for:
 * - `none`: nothing yet (never joined, or no record);
 * - `pre`: a place in the pre-queue (its ticket comes with the seal);
 * - `waiting`: a ticketed place in the line (positions are pushed from the served ticket);
 * - `holding`: a hold held or being paid for, that can still end either way;
 * - `finished`: nothing more will come (left, sold out, ended, bought, expired, limit reached).
 */
export type Stage = 'none' | 'pre' | 'waiting' | 'holding' | 'finished';

/** Stages that wait for a unit: the ones told `sold_out`, and given a place again after a lost copy. */
export const isWaiting = (stage: Stage): boolean => stage === 'waiting' || stage === 'pre';

/** Stages that still expect news, read again after a heal or a lost subscription. */
export const expectsNews = (stage: Stage): boolean => stage === 'pre' || stage === 'waiting' || stage === 'holding';

export function eta(position: number, ratePerSecond: number): number {
  return Math.ceil(position / Math.max(ratePerSecond, 0.1));
}

export function queuedFrame(position: number, etaSeconds: number, ticket: number): QueuedFrame {
  return { type: 'queued', position, etaSeconds, ticket };
}

export interface Rendered {
  frame: FrameToBuyer | null;
  stage: Stage;
  /** The fixed ticket of a waiting buyer (pushed positions count from it). */
  ticket?: number;
}

const LIMIT_REACHED: FrameToBuyer = { type: 'error', code: 'purchase_limit_reached', message: ERRORS.purchase_limit_reached[1] };

/** Turns what Redis says of a buyer into the contract frame the buyer gets, and the socket's stage. */
export function renderView(v: BuyerView, rate: number, startsInSeconds: number): Rendered {
  switch (v.kind) {
    case 'none': return { frame: null, stage: 'none' };
    // The caller sends the sale frame (state 'ended', with its window): nothing more will come.
    case 'ended': return { frame: null, stage: 'finished' };
    case 'left':
    case 'released': return { frame: { type: 'left' }, stage: 'finished' };
    // Whole seconds, as for every other ETA: the time left to the start is rounded up.
    // Until the seal the ticket is the rank in the pre-queue (the ticket the seal would give now);
    // from the seal on it is fixed.
    case 'pre': return { frame: queuedFrame(v.position, Math.ceil(Math.max(0, startsInSeconds)) + eta(v.position, rate), v.position), stage: 'pre' };
    case 'waiting': {
      const position = Math.max(1, v.ticket - v.served);
      return { frame: queuedFrame(position, eta(position, rate), v.ticket), stage: 'waiting', ticket: v.ticket };
    }
    case 'admitting': return { frame: queuedFrame(1, 0, v.ticket), stage: 'waiting' };
    case 'sold_out': return { frame: { type: 'sold_out' }, stage: 'finished' };
    case 'held': return { frame: { type: 'admitted', holdId: v.holdId, expiresAt: new Date(v.expiresAt).toISOString() }, stage: 'holding' };
    case 'paying': return { frame: { type: 'payment_pending', holdId: v.holdId }, stage: 'holding' };
    case 'sold': return { frame: { type: 'order_confirmed', holdId: v.holdId, orderId: v.orderId }, stage: 'finished' };
    case 'expired': return { frame: { type: 'hold_expired', holdId: v.holdId }, stage: 'finished' };
    case 'limit_reached': return { frame: LIMIT_REACHED, stage: 'finished' };
  }
}

/** The stage a frame pushed about a hold leaves its buyer in: holding while the hold can still be paid. */
export function stageAfter(f: BuyerFrame): Stage {
  switch (f.type) {
    case 'admitted':
    case 'payment_pending': return 'holding';
    case 'payment_failed': return f.retryable ? 'holding' : 'finished';
    case 'order_confirmed':
    case 'hold_expired': return 'finished';
  }
}
