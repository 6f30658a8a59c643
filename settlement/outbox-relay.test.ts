import { describe, expect, it } from 'vitest';
import { uniqueId } from '../tests/helpers/env.js';
import { OutboxRelay, orderEventsStream } from './outbox-relay.js';
import { OrderEventConsumer, type OrderEvent } from './order-events.js';
import { settlementFixture } from '../tests/helpers/settlement-fixture.js';

// The outbox relay and a deduping consumer against real Postgres (own database) and Redis.
const f = settlementFixture();

async function orders(n: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const { job } = await f.payingHold();
    const { row } = await f.deps.store.ensureAttempt(job);
    const r = await f.deps.store.commitOrder(row, `pi_${uniqueId('o').replace('-', '')}`);
    if (r.kind === 'ordered') ids.push(r.orderId);
  }
  return ids;
}

const relay = (afterPublish?: (ids: string[]) => Promise<void>) => new OutboxRelay(f.s.db, f.s.redis, f.s.prefix, f.deps.log, afterPublish);
const streamLength = () => f.s.redis.xlen(orderEventsStream(f.s.prefix));

async function drain(c: OrderEventConsumer): Promise<{ handled: number; duplicates: number }> {
  const total = { handled: 0, duplicates: 0 };
  for (;;) {
    const r = await c.poll(50);
    if (r.handled + r.duplicates === 0) return total;
    total.handled += r.handled;
    total.duplicates += r.duplicates;
  }
}

describe('outbox relay', () => {
  it('publishes every order event at least once; a relay that dies after sending resends, the consumer handles each once', async () => {
    const ids = await orders(12);
    const handled: OrderEvent[] = [];
    const consumer = new OrderEventConsumer(f.s.redis, f.s.prefix, 'fulfilment', 'c1', async (e) => void handled.push(e));
    await consumer.ensureGroup();

    // The first relay sends its batch and dies before marking it published.
    await expect(relay(async () => { throw new Error('killed'); }).pump(5)).rejects.toThrow('killed');
    expect(await streamLength()).toBe(5);
    expect((await f.s.db.query('SELECT 1 FROM outbox WHERE published_at IS NOT NULL')).rowCount).toBe(0);

    // Its successor resumes from the table: the 5 again, then the rest.
    const next = relay();
    let sent = 0;
    for (let n; (n = await next.pump(5)) > 0;) sent += n;
    expect(sent).toBe(12);
    expect(await next.pending()).toBe(0);
    expect(await streamLength()).toBe(17);

    const r = await drain(consumer);
    expect(r).toEqual({ handled: 12, duplicates: 5 });
    expect(handled.map((e) => e.payload.orderId).sort()).toEqual([...ids].sort());
    expect(new Set(handled.map((e) => e.key)).size).toBe(12);
    expect(handled[0]).toMatchObject({ type: 'order.created', key: expect.stringMatching(/^order\.created:ord_/) });
  });

  it('relays running side by side never send the same row in the same pass', async () => {
    const before = await streamLength();
    await orders(20);
    const counts = await Promise.all([relay().pump(7), relay().pump(7), relay().pump(7)]);
    const rest = await relay().pump(100);
    expect(counts.reduce((a, b) => a + b, 0) + rest).toBe(20);
    expect(await streamLength()).toBe(before + 20);
  });

  it('a consumer that fails before acknowledging gets the event again and handles it once', async () => {
    await orders(3);
    await relay().pump(100);
    let fail = true;
    const seen: string[] = [];
    const consumer = new OrderEventConsumer(f.s.redis, f.s.prefix, `billing-${uniqueId('g')}`, 'c1', async (e) => {
      if (fail) {
        fail = false;
        throw new Error('downstream hiccup');
      }
      seen.push(e.key);
    });
    await consumer.ensureGroup();
    await expect(consumer.poll(100)).rejects.toThrow('downstream hiccup');
    const r = await drain(consumer);
    // Every entry was read: each distinct event handled once (the failed one included), resends skipped.
    expect(r.handled + r.duplicates).toBe(await streamLength());
    expect(seen).toHaveLength(r.handled);
    expect(new Set(seen).size).toBe(seen.length);
    const distinct = (await f.s.db.query('SELECT count(*)::int AS n FROM outbox')).rows[0].n;
    expect(seen).toHaveLength(distinct);
  });
});
