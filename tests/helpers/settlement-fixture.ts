import { afterAll, beforeAll, expect } from 'vitest';
import { isolatedDatabase, redisUrl, saleInput, services, silentLog, testPrefix, uniqueId, type Services } from './env.js';
import { deleteKeys, scanKeys } from '../../shared/redis.js';
import type { BuyerFrame } from '../../admission/sale-events.js';
import { SaleSubscriptions } from '../../admission/sale-subscriptions.js';
import { buyerOutcomes } from '../../admission/buyer-outcomes.js';
import { startStandIn, type StandIn } from '../../settlement/stripe-stand-in/server.js';
import { createStripe } from '../../settlement/stripe-client.js';
import { PaymentProvider } from '../../settlement/payment-provider.js';
import { PaymentStore } from '../../settlement/payment-store.js';
import type { PaymentJob } from '../../settlement/payment-job.js';
import type { SagaDeps } from '../../settlement/saga.js';
import { settlePayment } from '../../settlement/settle-payment.js';

/**
 * Shared set-up of the settlement test files (not a test file itself; like a process's main it is a
 * composition root, so it may wire admission's side of the saga's port in): real Redis, a Postgres
 * database of the file's own (reconciliation scans whole tables), a stand-in, the saga's deps, and
 * a recorder of the frames settlement publishes to buyers.
 */
export interface SettlementFixture {
  s: Services;
  standIn: StandIn;
  deps: SagaDeps;
  /** A sale with one hold taken for `buyer` and put into paying; returns the job for that attempt. */
  payingHold(o?: { buyer?: string; paymentMethod?: string; perBuyerLimit?: number; holdSeconds?: number }): Promise<{ saleId: string; job: PaymentJob }>;
  /**
   * A hold Redis gives out for a unit the ledger has already sold: a sale of one unit is sold, then its
   * pool is put back as an older Redis snapshot had it (DUMP before the sale, RESTORE after), and
   * another buyer takes the unit again and pays. Returns that buyer's job.
   */
  resoldHold(): Promise<{ saleId: string; job: PaymentJob }>;
  chargesOf(holdId: string): ReturnType<StandIn['charges']>;
  ordersOf(holdId: string): Promise<{ id: string; capture_status: string }[]>;
  /** Every frame published so far to `buyer` of `saleId`, in order. */
  framesTo(saleId: string, buyer: string): BuyerFrame[];
  /** Waits until `buyer` was sent a frame of `type` (an event, not a sleep). */
  frame(saleId: string, buyer: string, type: BuyerFrame['type'], timeoutMs?: number): Promise<BuyerFrame>;
  setFaults(f: Record<string, number>): Promise<void>;
}

export function settlementFixture(): SettlementFixture {
  const f = {} as SettlementFixture;
  const heard: { sale: string; b: string; f: BuyerFrame }[] = [];
  const waiters = new Set<() => void>();
  let subs: SaleSubscriptions;
  beforeAll(async () => {
    const prefix = testPrefix();
    f.s = services(prefix, await isolatedDatabase());
    f.standIn = await startStandIn({ port: 0 });
    f.deps = { redis: f.s.redis, prefix, inventory: f.s.inventory, store: new PaymentStore(f.s.db), provider: new PaymentProvider(createStripe('sk_test_settlement', f.standIn.url)),
      buyers: buyerOutcomes(f.s.redis, prefix), log: silentLog };
    // The sales' events as a gateway hears them (one pattern, or each sale's channels on a Cluster).
    subs = new SaleSubscriptions({
      redisUrl: redisUrl(), prefix, log: silentLog, name: 'test-sub', publisher: f.s.redis,
      onEvent: (saleId, e) => {
        if (e.t === 'buyer') heard.push({ sale: saleId, b: e.b, f: e.f });
        for (const w of waiters) w();
      },
      onResubscribed: () => {},
    });
    await subs.start();
  });
  afterAll(async () => {
    subs?.close();
    await f.standIn?.close();
    await f.s?.close();
  });
  f.payingHold = async (o = {}) => {
    const buyer = o.buyer ?? uniqueId('b');
    const sale = await f.s.sales.create(saleInput({ stock: 2, pools: 1, perBuyerLimit: o.perBuyerLimit ?? 1, holdSeconds: o.holdSeconds ?? 60 }));
    const holdId = f.s.inventory.holdId(0, uniqueId('h').replace('-', '_'));
    expect(await f.s.inventory.take(sale.id, 0, holdId, buyer, o.holdSeconds ?? 60)).not.toBeNull();
    const attemptNo = await f.s.inventory.beginPay(sale.id, holdId, buyer);
    return { saleId: sale.id, job: { saleId: sale.id, holdId, buyer, attemptNo, paymentMethod: o.paymentMethod ?? 'pm_card_visa', amount: 1999, currency: 'eur', perBuyerLimit: o.perBuyerLimit ?? 1 } };
  };
  f.resoldHold = async () => {
    const sale = await f.s.sales.create(saleInput({ stock: 1, pools: 1 }));
    const poolKey = f.s.inventory.keys(sale.id, 0).pool;
    const match = `${poolKey.slice(0, -'pool'.length)}*`;
    const keysNow = () => scanKeys(f.s.redis, match);
    const snapshot = await Promise.all((await keysNow()).map(async (k) => [k, await f.s.redis.dumpBuffer(k)] as const));
    const jobOf = async () => {
      const buyer = uniqueId('b');
      const holdId = f.s.inventory.holdId(0, uniqueId('r').replace('-', '_'));
      expect(await f.s.inventory.take(sale.id, 0, holdId, buyer, 60)).not.toBeNull();
      const attemptNo = await f.s.inventory.beginPay(sale.id, holdId, buyer);
      return { saleId: sale.id, holdId, buyer, attemptNo, paymentMethod: 'pm_card_visa', amount: 1999, currency: 'eur', perBuyerLimit: 1 };
    };
    expect(await settlePayment(f.deps, await jobOf())).toBe('sold');
    const now = await keysNow();
    await deleteKeys(f.s.redis, now);
    for (const [k, v] of snapshot) if (v) await f.s.redis.restore(k, 0, v);
    return { saleId: sale.id, job: await jobOf() };
  };
  f.chargesOf = (holdId) => f.standIn.charges().filter((c) => c.metadata.holdId === holdId);
  f.ordersOf = async (holdId) => (await f.s.db.query<{ id: string; capture_status: string }>('SELECT id, capture_status FROM orders WHERE hold_id = $1', [holdId])).rows;
  f.framesTo = (saleId, buyer) => heard.filter((h) => h.sale === saleId && h.b === buyer).map((h) => h.f);
  f.frame = (saleId, buyer, type, timeoutMs = 10_000) => new Promise((resolve, reject) => {
    const check = () => {
      const hit = f.framesTo(saleId, buyer).find((x) => x.type === type);
      if (!hit) return;
      waiters.delete(check);
      clearTimeout(timer);
      resolve(hit);
    };
    const timer = setTimeout(() => {
      waiters.delete(check);
      reject(new Error(`no ${type} for ${buyer} in ${timeoutMs} ms; got ${JSON.stringify(f.framesTo(saleId, buyer))}`));
    }, timeoutMs);
    waiters.add(check);
    check();
  });
  f.setFaults = async (faults) => {
    const res = await fetch(`${f.standIn.url}/_stand-in/faults`, Object.keys(faults).length === 0 ? { method: 'DELETE' } : { method: 'POST', body: JSON.stringify(faults) });
    expect(res.status).toBe(200);
  };
  return f;
}
