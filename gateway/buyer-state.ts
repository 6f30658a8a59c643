import type { BuyerView } from '../admission/waiting-room.js';
import { placeEstimator, priorPace, saleModel, type EstimateModel, type PlaceEstimate } from '../admission/estimates.js';
import type { Sale } from '../admission/sale-schema.js';
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

/** Applies a sale's model of the last tick to a place (estimates.ts placeEstimator). */
export type Estimator = (position: number, startsInSeconds?: number) => PlaceEstimate;

/** A `queued` frame: the place, its ETA and 80 % interval, the chance a unit is left for it, the ticket. */
export function queuedFrame(position: number, ticket: number, e: PlaceEstimate): QueuedFrame {
  return { type: 'queued', position, etaSeconds: e.etaSeconds, etaRange: e.etaRange, chance: e.chance, ticket };
}

/**
 * queuedFrame's text, written out directly: the gateway pushes it to every waiting socket that moved,
 * up to 100,000 a tick, and a template is about twice as fast as JSON.stringify of the object
 * (every field is a number, so nothing needs escaping).
 */
export function queuedText(position: number, ticket: number, e: PlaceEstimate): string {
  return `{"type":"queued","position":${position},"etaSeconds":${e.etaSeconds},"etaRange":[${e.etaRange[0]},${e.etaRange[1]}],"chance":${e.chance},"ticket":${ticket}}`;
}

/**
 * Before this gateway has heard a tick with a model for the sale (its first socket, the first second):
 * a model from the settings alone, as if nothing were sold or held yet. The next tick replaces it.
 */
export function firstModel(sale: Pick<Sale, 'stock' | 'admitPerSecond' | 'maxActiveHolds' | 'holdSeconds'> | null): EstimateModel {
  const stock = sale?.stock ?? 0;
  const admitPerSecond = sale?.admitPerSecond ?? 1;
  return saleModel({
    available: stock, held: 0, paying: 0, sold: 0, expired: 0, released: 0, freeSlots: Math.min(stock, sale?.maxActiveHolds ?? 0), admitPerSecond,
    pace: priorPace({ admitPerSecond, maxActiveHolds: sale?.maxActiveHolds ?? 1, holdSeconds: sale?.holdSeconds ?? 2 }), leaves: 0, waiterSeconds: 0,
  });
}

const settingsEstimators = new WeakMap<object, Estimator>();
/**
 * firstModel's estimator, made once per sale object (the sale cache hands out the same one until it
 * changes): every connect reads the buyer's state, and an estimator per answer is two arrays and a
 * model of allocations on the hot path of a stampede.
 */
export function settingsEstimator(sale: Parameters<typeof firstModel>[0]): Estimator {
  if (!sale) return placeEstimator(firstModel(null));
  let est = settingsEstimators.get(sale);
  if (!est) settingsEstimators.set(sale, (est = placeEstimator(firstModel(sale))));
  return est;
}

/** The `admitting` place: the admitter is taking a unit for this buyer now (back to the front only if none is left). */
export const ADMITTING: PlaceEstimate = { etaSeconds: 0, etaRange: [0, 1], chance: 1 };

export interface Rendered {
  frame: FrameToBuyer | null;
  stage: Stage;
  /** The fixed ticket of a waiting buyer (pushed positions count from it). */
  ticket?: number;
}

const LIMIT_REACHED: FrameToBuyer = { type: 'error', code: 'purchase_limit_reached', message: ERRORS.purchase_limit_reached[1] };

/**
 * Turns what Redis says of a buyer into the contract frame the buyer gets, and the socket's stage.
 * `est` applies the sale's estimate model of the last admitter tick (estimates.ts).
 */
export function renderView(v: BuyerView, est: Estimator, startsInSeconds: number): Rendered {
  switch (v.kind) {
    case 'none': return { frame: null, stage: 'none' };
    // The caller sends the sale frame (state 'ended', with its window): nothing more will come.
    case 'ended': return { frame: null, stage: 'finished' };
    case 'left':
    case 'released': return { frame: { type: 'left' }, stage: 'finished' };
    // Whole seconds, as for every other ETA: the time left to the start is rounded up.
    // Until the seal the ticket is the rank in the pre-queue (the ticket the seal would give now);
    // from the seal on it is fixed.
    case 'pre': return { frame: queuedFrame(v.position, v.position, est(v.position, startsInSeconds)), stage: 'pre' };
    case 'waiting': {
      const position = Math.max(1, v.ticket - v.served);
      return { frame: queuedFrame(position, v.ticket, est(position)), stage: 'waiting', ticket: v.ticket };
    }
    case 'admitting': return { frame: queuedFrame(1, v.ticket, ADMITTING), stage: 'waiting' };
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
