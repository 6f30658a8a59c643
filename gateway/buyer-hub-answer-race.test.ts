import { describe, expect, it } from 'vitest';
import { BuyerHub, newSocketData, type SocketData } from './buyer-hub.js';
import type { Context } from './context.js';
import type { BuyerView } from '../admission/waiting-room.js';
import { createLogger } from '../shared/logger.js';

/*
 * The one race of the buyer hub that real sockets hit too rarely to test end to end: an answer to
 * `join` is read from Redis, and while it is being finished an "admitted" is pushed to the same
 * socket. The older answer ("queued") must not follow the newer frame. Here the sale read the answer
 * waits on is held open by hand, the push happens inside it, then the read completes.
 */

const SALE = {
  id: 's1', name: 'n', sku: 'k', price: { amount: 1, currency: 'eur' }, stock: 1, pools: 1,
  startsAt: new Date(Date.now() - 60_000).toISOString(), endsAt: new Date(Date.now() + 3600_000).toISOString(),
  admitPerSecond: 10, maxActiveHolds: 10, holdSeconds: 60, perBuyerLimit: 1, joinChallengeBits: 0, status: 'active' as const, prequeueKey: 'x',
};
const HOLD = 'hold_0_1_abc';

function harness() {
  let holdNextSaleRead = false;
  /** Sale reads to let through before the held one (a join reads the sale for its challenge first). */
  let skipReads = 0;
  let releaseSaleRead: (() => void) | null = null;
  let saleReadHeld!: () => void;
  const heldRead = new Promise<void>((r) => (saleReadHeld = r));
  let view: BuyerView = { kind: 'none' };
  const ctx = {
    config: { MAX_FRAME_BYTES: 4096 },
    log: createLogger('test', 'silent'),
    room: {
      join: async () => ({ kind: 'waiting', ticket: 1, served: 0 }) as BuyerView,
      status: async () => view,
    },
    sales: { isSoldOut: async () => false },
    saleCache: {
      get: () => {
        if (!holdNextSaleRead || skipReads-- > 0) return Promise.resolve(SALE);
        holdNextSaleRead = false;
        return new Promise((resolve) => {
          releaseSaleRead = () => resolve(SALE);
          saleReadHeld();
        });
      },
      forget: () => {},
      markKnown: () => {},
    },
  } as unknown as Context;
  const hub = new BuyerHub(ctx);
  hub.app = { publish: () => true } as unknown as BuyerHub['app'];

  const sent: any[] = [];
  const topics = new Set<string>();
  const data: SocketData = newSocketData(SALE.id, 'b1');
  const ws = {
    getUserData: () => data,
    send: (m: string) => (sent.push(JSON.parse(m)), 1),
    subscribe: (t: string) => topics.add(t),
    unsubscribe: (t: string) => topics.delete(t),
    isSubscribed: (t: string) => topics.has(t),
  } as unknown as Parameters<BuyerHub['onOpen']>[0];
  return {
    hub, ws, data, sent, topics,
    holdNextSaleRead: (skip = 0) => {
      holdNextSaleRead = true;
      skipReads = skip;
    },
    heldRead,
    release: () => releaseSaleRead!(),
    setView: (v: BuyerView) => (view = v),
  };
}

const frame = (o: unknown) => new TextEncoder().encode(JSON.stringify(o)).buffer;

describe('an answer read before a pushed event is not sent after it', () => {
  it('join answered "queued" while "admitted" is pushed: the socket ends admitted, not queued', async () => {
    const h = harness();
    await h.hub.onOpen(h.ws);
    await h.data.chain;
    expect(h.sent.map((f) => f.type)).toEqual(['sale']);

    // The join's Redis read says "waiting"; its sale read (after the one of the challenge check) is then held open...
    h.holdNextSaleRead(1);
    h.hub.onMessage(h.ws, frame({ type: 'join' }), false);
    await h.heldRead;
    // ...while the admitter's tick admits this buyer (Redis now says "held").
    const expiresAt = new Date(Date.now() + 60_000).toISOString();
    h.setView({ kind: 'held', holdId: HOLD, expiresAt: Date.parse(expiresAt) });
    h.hub.onSaleEvent(SALE.id, { t: 'tick', served: 1, rate: 1, buyers: [{ b: 'b1', f: { type: 'admitted', holdId: HOLD, expiresAt } }] });
    h.release();
    await h.data.chain;

    const types = h.sent.map((f) => f.type);
    expect(types.slice(types.indexOf('admitted'))).not.toContain('queued');
    expect(h.sent.at(-1)).toMatchObject({ type: 'admitted', holdId: HOLD });
    expect(h.data.stage).toBe('holding');
    // A holder is not on the waiting topic (it would get sold_out broadcasts meant for waiters).
    expect([...h.topics]).toEqual(['sale:s1']);
  });
});
