import { describe, expect, it } from 'vitest';
import type { BuyerView } from '../admission/waiting-room.js';
import { renderView, stageAfter, isWaiting, expectsNews, type Estimator } from './buyer-state.js';

/** A fixed estimator: the place's ETA is its position / 2 s, its chance 1 / position. */
const est: Estimator = (p, startsIn = 0) => ({ etaSeconds: Math.ceil(p / 2 + Math.max(0, startsIn)), etaRange: [p, 3 * p], chance: 1 / p });

/* The one mapping from admission's words to the socket's stage and the contract's frame types. */
const views: [BuyerView, string | null, string][] = [
  [{ kind: 'none' }, null, 'none'],
  [{ kind: 'ended' }, null, 'finished'],
  [{ kind: 'left' }, 'left', 'finished'],
  [{ kind: 'released', holdId: 'hold_0_1_a' }, 'left', 'finished'],
  [{ kind: 'pre', position: 3 }, 'queued', 'pre'],
  [{ kind: 'waiting', ticket: 7, served: 2 }, 'queued', 'waiting'],
  [{ kind: 'admitting', holdId: 'hold_0_1_a', ticket: 7 }, 'queued', 'waiting'],
  [{ kind: 'sold_out' }, 'sold_out', 'finished'],
  [{ kind: 'held', holdId: 'hold_0_1_a', expiresAt: 0 }, 'admitted', 'holding'],
  [{ kind: 'paying', holdId: 'hold_0_1_a' }, 'payment_pending', 'holding'],
  [{ kind: 'sold', holdId: 'hold_0_1_a', orderId: 'ord_1' }, 'order_confirmed', 'finished'],
  [{ kind: 'expired', holdId: 'hold_0_1_a' }, 'hold_expired', 'finished'],
  [{ kind: 'limit_reached', orders: 1 }, 'error', 'finished'],
];

describe('buyer state', () => {
  it.each(views)('%o -> frame %s, stage %s', (view, type, stage) => {
    const r = renderView(view, est, 0);
    expect(r.frame?.type ?? null).toBe(type);
    expect(r.stage).toBe(stage);
  });

  it('a waiting place counts its position from the served ticket and keeps its ticket', () => {
    expect(renderView({ kind: 'waiting', ticket: 7, served: 2 }, est, 0)).toEqual({ frame: { type: 'queued', position: 5, etaSeconds: 3, etaRange: [5, 15], chance: 0.2, ticket: 7 }, stage: 'waiting', ticket: 7 });
  });

  it('a pre-queue place counts the time to the start into its ETA; an admitting one is next, with a unit for it', () => {
    expect(renderView({ kind: 'pre', position: 4 }, est, 10).frame).toEqual({ type: 'queued', position: 4, etaSeconds: 12, etaRange: [4, 12], chance: 0.25, ticket: 4 });
    expect(renderView({ kind: 'admitting', holdId: 'hold_0_1_a', ticket: 9 }, est, 0).frame).toEqual({ type: 'queued', position: 1, etaSeconds: 0, etaRange: [0, 1], chance: 1, ticket: 9 });
  });

  it('a limit reached is told as the catalogue error purchase_limit_reached', () => {
    expect(renderView({ kind: 'limit_reached', orders: 1 }, est, 0).frame).toEqual({ type: 'error', code: 'purchase_limit_reached', message: 'this buyer has bought as many units as the sale allows' });
  });

  it('pushed hold frames leave the buyer holding only while the hold can still be paid', () => {
    const h = 'hold_0_1_a';
    expect(stageAfter({ type: 'admitted', holdId: h, expiresAt: '' })).toBe('holding');
    expect(stageAfter({ type: 'payment_pending', holdId: h })).toBe('holding');
    expect(stageAfter({ type: 'payment_failed', holdId: h, reason: 'card_declined', retryable: true })).toBe('holding');
    expect(stageAfter({ type: 'payment_failed', holdId: h, reason: 'sold_out', retryable: false })).toBe('finished');
    expect(stageAfter({ type: 'order_confirmed', holdId: h, orderId: 'ord_1' })).toBe('finished');
    expect(stageAfter({ type: 'hold_expired', holdId: h })).toBe('finished');
  });

  it('waiting stages are told sold_out; every unfinished stage but none expects news', () => {
    expect((['none', 'pre', 'waiting', 'holding', 'finished'] as const).map((s) => [isWaiting(s), expectsNews(s)])).toEqual([[false, false], [true, true], [true, true], [false, true], [false, false]]);
  });
});
