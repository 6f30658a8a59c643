import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { services, silentLog } from '../tests/helpers/env.js';
import { Inventory } from '../inventory/inventory-service.js';
import { Admitter } from './admitter.js';
import { SaleEvents, type SaleEvent } from './sale-events.js';
import { SaleTracker } from './estimate-tracker.js';
import { joinAll, makeSale } from './lua-test-support.js';
import type { EstimateModel } from './estimates.js';

// The chance/ETA tracker lives with the admitter's lease (estimate-tracker.ts): a process that gets a
// sale's lease back after another process held it must not carry on from what it measured before,
// or the whole gap counts as one tick (waiters watched for an hour, a line that moved once in an hour).

const s = services();
afterAll(() => s.close());
afterEach(() => vi.useRealTimers());

const HOUR = 3600_000;

describe('the admitter\'s estimates across a lease handover', () => {
  it('start again from the priors when this process takes the lease back', async () => {
    // One unit, held for long: the rest wait, the line is moving (active, sealed, not sold out).
    const sale = await makeSale(s, { stock: 1, pools: 1, maxActiveHolds: 1000, holdSeconds: 24 * 3600, endsAt: Date.now() + 24 * HOUR, takeLease: false });
    await joinAll(s, sale, ['w1', 'w2', 'w3', 'w4', 'w5']);
    const models: EstimateModel[] = [];
    // eslint-disable-next-line @typescript-eslint/unbound-method -- the original, called back with .call(this)
    const publish = SaleEvents.prototype.publish;
    const spy = vi.spyOn(SaleEvents.prototype, 'publish').mockImplementation(function (this: SaleEvents, saleId: string, ev: SaleEvent) {
      if (saleId === sale.id && ev.t === 'tick' && ev.m) models.push(ev.m);
      return publish.call(this, saleId, ev);
    });
    try {
      const opts = { tickMs: 50, leaseMs: 60_000, batch: 1000, log: silentLog };
      const a = new Admitter(s.redis, s.prefix, new Inventory(s.redis, s.prefix), opts);
      const b = new Admitter(s.redis, s.prefix, new Inventory(s.redis, s.prefix), opts);
      await a.tickSale(sale.id);
      await a.tickSale(sale.id);
      // Another process holds the lease for an hour.
      await s.redis.del(sale.k.lease);
      await b.tickSale(sale.id);
      vi.useFakeTimers({ toFake: ['Date'] });
      vi.setSystemTime(Date.now() + HOUR);
      await s.redis.del(sale.k.lease);
      models.length = 0;
      await a.tickSale(sale.id);
      expect(models).toHaveLength(1);

      // What a fresh holder (nothing measured yet) makes of the same sale at this tick.
      const fresh = new SaleTracker().tick({
        now: Date.now(), available: 0, held: 1, paying: 0, sold: 0, expired: 0, released: 0, admitted: 1, seq: 5, served: 1, waiting: 4,
        admitPerSecond: sale.admitPerSecond, maxActiveHolds: sale.maxActiveHolds, holdSeconds: sale.holdSeconds, moving: true, soldOut: false,
      });
      expect(models[0]!.a).toEqual(fresh.a);
      expect(models[0]!.r).toEqual(fresh.r);
    } finally {
      spy.mockRestore();
    }
  });
});
