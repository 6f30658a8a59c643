import { describe, expect, it } from 'vitest';
import { BuyerHub, newSocketData, type SocketData } from './buyer-hub.js';
import type { Stage } from './buyer-state.js';
import type { Context } from './context.js';
import { createLogger } from '../shared/logger.js';

/*
 * sold_out goes to the buyers waiting on this gateway, from the hub's own index of sockets (waiters
 * are no uWS topic of their own: a subscription per waiter costs memory). Holders and buyers who are
 * done must not hear it: a holder may still pay.
 */
const SALE = {
  id: 's1', name: 'n', sku: 'k', price: { amount: 1, currency: 'eur' }, stock: 1, pools: 1,
  startsAt: new Date(Date.now() - 60_000).toISOString(), endsAt: new Date(Date.now() + 3600_000).toISOString(),
  admitPerSecond: 10, maxActiveHolds: 10, holdSeconds: 60, perBuyerLimit: 1, status: 'active' as const, prequeueKey: 'x',
};

describe('sold_out on this gateway', () => {
  it('reaches every waiting socket (both tabs of a buyer, pre-queue too) and no holder or finished buyer', async () => {
    const ctx = {
      config: { MAX_FRAME_BYTES: 4096 },
      log: createLogger('test', 'silent'),
      room: { status: async () => ({ kind: 'none' }) },
      sales: { isSoldOut: async () => false },
      saleCache: { get: async () => SALE, forget: () => {}, markKnown: () => {} },
    } as unknown as Context;
    const hub = new BuyerHub(ctx);
    const published: string[] = [];
    hub.app = { publish: (_t: string, m: string) => (published.push(m), true) } as unknown as BuyerHub['app'];

    const sockets = new Map<string, { data: SocketData; sent: string[] }>();
    const open = async (name: string, buyer: string, stage: Stage) => {
      const s = { data: newSocketData(SALE.id, buyer), sent: [] as string[] };
      const ws = { getUserData: () => s.data, send: (m: string) => (s.sent.push(m), 1), subscribe: () => true } as unknown as Parameters<BuyerHub['onOpen']>[0];
      await hub.onOpen(ws);
      await s.data.chain;
      s.data.stage = stage;
      s.sent.length = 0;
      sockets.set(name, s);
    };
    await open('waiter', 'b1', 'waiting');
    await open('waiter-tab2', 'b1', 'waiting');
    await open('pre', 'b2', 'pre');
    await open('holder', 'b3', 'holding');
    await open('finished', 'b4', 'finished');
    await open('fresh', 'b5', 'none');

    hub.onSaleEvent(SALE.id, { t: 'state', state: 'sold_out' });
    const got = Object.fromEntries([...sockets].map(([k, v]) => [k, v.sent]));
    expect(got).toEqual({ waiter: ['{"type":"sold_out"}'], 'waiter-tab2': ['{"type":"sold_out"}'], pre: ['{"type":"sold_out"}'], holder: [], finished: [], fresh: [] });
  });
});
