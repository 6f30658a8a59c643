import { afterAll, describe, expect, it } from 'vitest';
import { isolatedDatabase, redisUrl, services, saleInput, silentLog, testPrefix, uniqueId } from '../tests/helpers/env.js';
import { SaleSubscriptions } from './sale-subscriptions.js';
import type { SaleEvent } from './sale-events.js';
import { PaymentStore } from '../settlement/payment-store.js';
import { auditSale } from './sale-audit.js';
import { Inventory } from '../inventory/inventory-service.js';
import { deleteKeys } from '../shared/redis.js';
import { saleKeys } from './keys.js';
import { SaleQuarantinedError, SaleService } from './sale-service.js';
import { lossReason, type RedisMarks } from './sale-healer.js';
import { RedisGuard } from './redis-guard.js';
import type { LedgerMarks } from './sale-store.js';
import type { Sale } from './sale-schema.js';

const s = services();
afterAll(() => s.close());

/** Deletes every key of one sale (its waiting room and every pool): what an emptied Redis does to it. */
async function loseSale(saleId: string, pools: number): Promise<void> {
  const keys = [...Object.values(saleKeys(s.prefix, saleId)).filter((v): v is string => typeof v === 'string')];
  for (let p = 0; p < pools; p++) {
    const k = s.inventory.keys(saleId, p);
    const holds = await s.redis.smembers(k.holds);
    keys.push(k.pool, k.deadlines, k.paying, k.holds, ...holds.map((h) => k.hold(h)));
  }
  await deleteKeys(s.redis, keys);
}

/** Pays for a hold in the ledger only (attempt + order through the fence), as a worker does before Redis hears of it. */
async function orderInLedger(sale: Sale, holdId: string, buyer: string): Promise<string> {
  const store = new PaymentStore(s.db);
  const job = { saleId: sale.id, holdId, buyer, attemptNo: 1, paymentMethod: 'pm_card_visa', amount: 1999, currency: 'eur', perBuyerLimit: 1 };
  const { row } = await store.ensureAttempt(job);
  const r = await store.commitOrder(row, `pi_${uniqueId('p').replace('-', '')}`);
  expect(r.kind).toBe('ordered');
  return r.kind === 'ordered' ? r.orderId : '';
}

const ledger = (over: Partial<LedgerMarks> = {}): LedgerMarks => ({ id: 's', pools: 2, generation: 3, quarantined: false, stock: [5, 5], sold: [1, 0], ...over });
const marks = (over: Partial<RedisMarks> = {}): RedisMarks => ({
  sale: { generation: 3, runId: 'r1', healing: false },
  pools: [{ generation: 3, stock: 5, sold: 1, paying: 0, runId: '' }, { generation: 3, stock: 5, sold: 0, paying: 0, runId: '' }],
  ...over,
});

describe('lossReason: when a Redis copy is not to be trusted', () => {
  it('null for a copy that agrees with the ledger (paying units may be ahead of it)', () => {
    expect(lossReason(ledger(), marks(), 'r1')).toBeNull();
    expect(lossReason(ledger({ sold: [0, 0] }), marks(), 'r1')).toBeNull();
    expect(lossReason(ledger(), marks(), null)).toBeNull();
  });
  it('names each kind of loss', () => {
    expect(lossReason(ledger(), marks({ sale: null }), 'r1')).toBe('missing');
    expect(lossReason(ledger(), marks({ pools: [marks().pools[0]!, null] }), 'r1')).toBe('missing');
    expect(lossReason(ledger(), marks({ sale: { generation: 3, runId: 'r1', healing: true } }), 'r1')).toBe('interrupted');
    expect(lossReason(ledger({ generation: 4 }), marks(), 'r1')).toBe('generation');
    expect(lossReason(ledger(), marks(), 'r2')).toBe('restarted');
    expect(lossReason(ledger({ sold: [2, 0] }), marks(), 'r1')).toBe('behind_ledger');
    expect(lossReason(ledger({ stock: [6, 5] }), marks(), 'r1')).toBe('stock');
  });
  it('on a Cluster, each key against the master that holds it now: the sale hash and every pool', () => {
    const onCluster = marks({ pools: marks().pools.map((p, i) => ({ ...p!, runId: `m${i}` })) });
    expect(lossReason(ledger(), onCluster, { sale: 'r1', pools: ['m0', 'm1'] })).toBeNull();
    // One master restarted (or failed over): only its keys tell, and that is enough.
    expect(lossReason(ledger(), onCluster, { sale: 'r1', pools: ['m0', 'm1-restarted'] })).toBe('restarted');
    expect(lossReason(ledger(), onCluster, { sale: 'r1-restarted', pools: ['m0', 'm1'] })).toBe('restarted');
    // A master whose run id could not be read, or a pool not marked yet: nothing to compare.
    expect(lossReason(ledger(), onCluster, { sale: null, pools: [null, 'm1'] })).toBeNull();
    expect(lossReason(ledger(), marks(), { sale: 'r1', pools: ['m0', 'm1'] })).toBeNull();
  });
});

describe('healing a sale from the ledger', () => {
  it('a copy older than the ledger (units it shows held were paid) is healed: they are sold, never sold again', async () => {
    const sale = await s.sales.create(saleInput({ stock: 2, pools: 1 }));
    const a = s.inventory.holdId(0, 'a_old');
    const b = s.inventory.holdId(0, 'b_old');
    await s.inventory.take(sale.id, 0, a, 'buyer-a', 60);
    await s.inventory.take(sale.id, 0, b, 'buyer-b', 60);
    // The orders reached the ledger; the copy still shows both units held, as a snapshot from before would.
    await orderInLedger(sale, a, 'buyer-a');
    await orderInLedger(sale, b, 'buyer-b');
    const marks = (await s.sales.store.ledgerMarks(sale.id))[0]!;
    expect(lossReason(marks, await s.sales.healer.readMarks(sale.id, 1), s.sales.healer.serversOf(await s.sales.healer.runIds(), sale.id, 1))).toBe('behind_ledger');

    const r = await s.sales.ensureRedis(sale);
    expect(r).toMatchObject({ outcome: 'healed', generation: 2 });
    expect(await s.sales.stats(sale)).toMatchObject({ stock: 2, sold: 2, held: 0, available: 0 });
    expect(await s.inventory.take(sale.id, 0, s.inventory.holdId(0, 'c_new'), 'buyer-c', 60)).toBeNull();
    expect((await auditSale(s.db, s.sales, s.inventory, sale)).problems).toEqual([]);
    expect((await s.sales.store.ledgerMarks(sale.id))[0]!.generation).toBe(2);
    // Healed: the next look finds nothing to do.
    expect(await s.sales.ensureRedis(sale)).toBeNull();
  });

  it('an emptied copy is rebuilt: pools, orders per buyer, the sales index; waiters join again; gateways are told', async () => {
    const sale = await s.sales.create(saleInput({ stock: 5, pools: 2 }));
    const paid = s.inventory.holdId(1, 'paid');
    await s.inventory.take(sale.id, 1, paid, 'buyer-p', 60);
    await s.inventory.beginPay(sale.id, paid, 'buyer-p');
    const orderId = await orderInLedger(sale, paid, 'buyer-p');
    // Listening as a gateway does (a pattern, or the sale's channels on a Cluster).
    const heard: SaleEvent[] = [];
    const sub = new SaleSubscriptions({
      redisUrl: redisUrl(), prefix: s.prefix, log: silentLog, name: 'test-sub', publisher: s.redis,
      onEvent: (_id, e) => heard.push(e), onResubscribed: () => {},
    });
    await sub.start();
    await loseSale(sale.id, 2);

    expect(await s.sales.ensureRedis(sale)).toMatchObject({ outcome: 'healed' });
    expect(await s.sales.stats(sale)).toMatchObject({ stock: 5, sold: 1, available: 4 });
    expect(await s.inventory.getHold(sale.id, paid)).toMatchObject({ state: 'sold', orderId });
    // The buyer who paid finds the order again (the copy forgot their record; the heal points it back).
    expect(await s.room.status(sale.id, 'buyer-p')).toEqual({ kind: 'sold', holdId: paid, orderId });
    expect(await s.room.join(sale.id, 'buyer-p')).toEqual({ kind: 'sold', holdId: paid, orderId });
    expect((await s.room.join(sale.id, uniqueId('new'))).kind).toMatch(/^(waiting|pre)$/);
    await expect.poll(() => heard.some((e) => e.t === 'healed')).toBe(true);
    sub.close();
  });

  it('runs once when many processes find the same loss at the same moment', async () => {
    const sale = await s.sales.create(saleInput({ stock: 8, pools: 2 }));
    await loseSale(sale.id, 2);
    // Five "processes": each its own Redis client and Postgres pool.
    const others = Array.from({ length: 5 }, () => services(s.prefix));
    const results = await Promise.all(others.map((o) => o.sales.healer.heal(sale.id, 'missing')));
    await Promise.all(others.map((o) => o.close()));
    const healed = results.filter((r) => r.outcome === 'healed');
    expect(healed).toHaveLength(1);
    expect(results.every((r) => ['healed', 'busy', 'clean'].includes(r.outcome))).toBe(true);
    expect((await s.sales.store.ledgerMarks(sale.id))[0]!.generation).toBe(2);
    expect(await s.sales.stats(sale)).toMatchObject({ stock: 8, available: 8 });
  });

  it('a heal cut short (healing left set) is found and finished; the admitter skips the sale meanwhile', async () => {
    const sale = await s.sales.create(saleInput({ stock: 3, pools: 1 }));
    await s.redis.hset(saleKeys(s.prefix, sale.id).sale, 'healing', '1');
    expect(lossReason((await s.sales.store.ledgerMarks(sale.id))[0]!, await s.sales.healer.readMarks(sale.id, 1), s.sales.healer.serversOf(await s.sales.healer.runIds(), sale.id, 1))).toBe('interrupted');
    expect(await s.sales.ensureRedis(sale)).toMatchObject({ outcome: 'healed' });
    expect(await s.redis.hget(saleKeys(s.prefix, sale.id).sale, 'healing')).toBe('0');
  });

  it('a copy from another Redis server (run id) is healed once, then trusted', async () => {
    const sale = await s.sales.create(saleInput({ stock: 3, pools: 1 }));
    await s.redis.hset(saleKeys(s.prefix, sale.id).sale, 'runId', 'f'.repeat(40));
    expect(await s.sales.ensureRedis(sale)).toMatchObject({ outcome: 'healed' });
    expect(await s.redis.hget(saleKeys(s.prefix, sale.id).sale, 'runId')).toBe((await s.sales.healer.runIds())(saleKeys(s.prefix, sale.id).sale));
    expect(await s.sales.ensureRedis(sale)).toBeNull();
  });
});

describe('quarantine: a ledger that cannot be reconciled never bricks anything', () => {
  /** A sale whose ledger holds more orders than stock, as the bug this fence closes left some databases. */
  async function oversoldSale(): Promise<Sale> {
    const sale = await s.sales.create(saleInput({ stock: 1, pools: 1 }));
    await orderInLedger(sale, s.inventory.holdId(0, 'first'), 'buyer-1');
    // A second order written past the fence (only an old database has these): straight into the tables.
    await s.db.query(`INSERT INTO payment_attempts (id, hold_id, sale_id, buyer_id, attempt_no, idempotency_key, amount, currency, status)
      VALUES ($1, $2, $3, 'buyer-2', 1, $4, 1999, 'eur', 'succeeded')`, [`pay_${sale.id}_x`, 'hold_0_second', sale.id, `key_${sale.id}_x`]);
    await s.db.query(`INSERT INTO orders (id, hold_id, sale_id, buyer_id, amount, currency, payment_intent_id, attempt_id)
      VALUES ($1, 'hold_0_second', $2, 'buyer-2', 1999, 'eur', $3, $4)`, [`ord_${sale.id}_x`, sale.id, `pi_${sale.id}_x`, `pay_${sale.id}_x`]);
    await loseSale(sale.id, 1);
    return sale;
  }

  it('loading every sale at start quarantines the bad one and loads the others', async () => {
    const bad = await oversoldSale();
    const good = await s.sales.create(saleInput({ stock: 4, pools: 2 }));
    await loseSale(good.id, 2);
    const loaded = await new SaleService(s.db, s.redis, s.prefix, new Inventory(s.redis, s.prefix), silentLog).loadAll(silentLog);
    expect(loaded.map((x) => x.id)).toEqual(expect.arrayContaining([bad.id, good.id]));
    const stored = (await s.sales.get(bad.id))!;
    expect(stored.status).toBe('paused');
    expect(stored.quarantine?.reason).toMatch(/more sold units than stock in pool 0/);
    expect(Date.parse(stored.quarantine!.since)).toBeGreaterThan(Date.now() - 60_000);
    expect((await s.sales.stats(stored)).state).toBe('paused');
    expect(await s.sales.stats(good)).toMatchObject({ stock: 4, available: 4 });
    const audit = await auditSale(s.db, s.sales, s.inventory, stored);
    expect(audit.ok).toBe(false);
    expect(audit.problems.join('\n')).toMatch(/quarantined/);

    // Resume is refused until the ledger fits; a restock moves the fence, and then resume lifts it.
    await expect(s.sales.setStatus(bad.id, 'active')).rejects.toBeInstanceOf(SaleQuarantinedError);
    await s.sales.restock(bad.id, 1);
    const resumed = (await s.sales.setStatus(bad.id, 'active'))!;
    expect(resumed.quarantine).toBeUndefined();
    expect(resumed.status).toBe('active');
    expect(await s.sales.stats(resumed)).toMatchObject({ stock: 2, sold: 2, available: 0 });
  });
});

describe('RedisGuard', () => {
  it('finds an emptied sale within its interval while running, and heals it once', async () => {
    // A database of its own: the guard looks at every sale of its ledger.
    const own = services(testPrefix(), await isolatedDatabase());
    const sale = await own.sales.create(saleInput({ stock: 6, pools: 3 }));
    const guard = new RedisGuard(own.sales, silentLog, 100);
    guard.start();
    try {
      await guard.check();
      const lostAt = Date.now();
      await deleteKeys(own.redis, [saleKeys(own.prefix, sale.id).sale, ...[0, 1, 2].map((p) => own.inventory.keys(sale.id, p).pool)]);
      // Healed = the new generation committed in the ledger (the last step of a heal).
      await expect.poll(async () => (await own.sales.store.ledgerMarks(sale.id))[0]!.generation, { timeout: 5000, interval: 20 }).toBe(2);
      expect(Date.now() - lostAt).toBeLessThan(5000);
      expect(await own.sales.stats(sale)).toMatchObject({ stock: 6, available: 6 });
      // Once: later passes find the copy whole.
      await guard.check();
      expect((await own.sales.store.ledgerMarks(sale.id))[0]!.generation).toBe(2);
    } finally {
      await guard.stop();
      await own.close();
    }
  });
});
