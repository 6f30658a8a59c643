import { describe, expect, it } from 'vitest';
import { BuyerHub, newSocketData, type SocketData } from './buyer-hub.js';
import type { Context } from './context.js';
import { createLogger } from '../shared/logger.js';
import { saleModel } from '../admission/estimates.js';

/*
 * Positions move from the ticks alone (position = ticket - served): with the tick's chance/ETA model
 * when it carries one, and from the sale's settings when none was heard yet (an admitter of an older
 * version during a deploy). Either way a waiting socket is told its new place, with every field.
 */
const SALE = {
  id: 's1', name: 'n', sku: 'k', price: { amount: 1, currency: 'eur' }, stock: 5, pools: 1,
  startsAt: new Date(Date.now() - 60_000).toISOString(), endsAt: new Date(Date.now() + 3600_000).toISOString(),
  admitPerSecond: 10, maxActiveHolds: 10, holdSeconds: 60, perBuyerLimit: 1, status: 'active' as const, prequeueKey: 'x',
};

async function waitingSocket() {
  const ctx = {
    config: { MAX_FRAME_BYTES: 4096 },
    log: createLogger('test', 'silent'),
    room: { status: async () => ({ kind: 'none' }) },
    sales: { isSoldOut: async () => false, estimates: { record: () => {} } },
    saleCache: { get: async () => SALE, forget: () => {}, markKnown: () => {} },
  } as unknown as Context;
  const hub = new BuyerHub(ctx);
  hub.app = { publish: () => true } as unknown as BuyerHub['app'];
  const s = { data: newSocketData(SALE.id, 'b1'), sent: [] as string[] };
  const ws = { getUserData: () => s.data, send: (m: string) => (s.sent.push(m), 1), subscribe: () => true } as unknown as Parameters<BuyerHub['onOpen']>[0];
  await hub.onOpen(ws);
  await s.data.chain;
  Object.assign(s.data as Partial<SocketData>, { stage: 'waiting', ticket: 30 });
  s.sent.length = 0;
  return { hub, s };
}

const queued = (sent: string[]) => sent.map((t) => JSON.parse(t) as Record<string, unknown>).filter((f) => f.type === 'queued');

describe('queue positions pushed from ticks', () => {
  it('with the tick\'s model: the new place, its ETA range and chance', async () => {
    const { hub, s } = await waitingSocket();
    const m = saleModel({ available: 5, held: 0, paying: 0, sold: 0, expired: 0, released: 0, freeSlots: 5, admitPerSecond: 10, pace: 10, leaves: 0, waiterSeconds: 0 });
    hub.onSaleEvent(SALE.id, { t: 'tick', served: 10, rate: 10, buyers: [], m });
    expect(queued(s.sent)).toEqual([expect.objectContaining({ position: 20, ticket: 30, etaRange: expect.any(Array), chance: expect.any(Number) })]);
  });

  it('with no model heard yet: still pushed, from the sale\'s settings', async () => {
    const { hub, s } = await waitingSocket();
    hub.onSaleEvent(SALE.id, { t: 'tick', served: 12, rate: 10, buyers: [] });
    await expect.poll(() => queued(s.sent)).toEqual([expect.objectContaining({ position: 18, ticket: 30, etaRange: expect.any(Array), chance: expect.any(Number) })]);
  });
});

describe('an admission in the tick of the seal', () => {
  it('tells a still pre-queued socket its sealed ticket before admitted; a ticketed waiter gets admitted alone', async () => {
    const admitted = { type: 'admitted' as const, holdId: 'hold_0_1_a', expiresAt: new Date(Date.now() + 60_000).toISOString() };
    const pre = await waitingSocket();
    pre.s.data.stage = 'pre';
    pre.hub.onSaleEvent(SALE.id, { t: 'tick', served: 7, rate: 10, buyers: [{ b: 'b1', f: admitted, t: 7 }] });
    expect(pre.s.sent.map((t) => JSON.parse(t) as Record<string, unknown>)).toEqual([
      { type: 'queued', position: 1, etaSeconds: 0, etaRange: [0, 1], chance: 1, ticket: 7 },
      admitted,
    ]);
    const waiter = await waitingSocket();
    waiter.hub.onSaleEvent(SALE.id, { t: 'tick', served: 30, rate: 10, buyers: [{ b: 'b1', f: admitted, t: 30 }] });
    expect(waiter.s.sent.map((t) => JSON.parse(t) as Record<string, unknown>)).toEqual([admitted]);
  });
});
