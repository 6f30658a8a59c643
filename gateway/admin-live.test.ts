import { describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, type Stack } from '../tests/helpers/stack.js';
import { createSale, pay, stats, useStack, type Buyers } from '../tests/e2e/kit.js';
import { MAX_LIVE_CONSOLES } from './admin-live.js';
import { LiveClient } from '../tests/helpers/live-client.js';

describe('the operator live channel GET /v1/admin/live', () => {
  let stack: Stack;
  let buyers: Buyers;
  useStack((s, b) => { stack = s; buyers = b; });

  it('refuses a missing or wrong admin token with 401 in the contract error shape', async () => {
    for (const headers of [{}, { authorization: 'Bearer wrong-token' }, { authorization: ADMIN_TOKEN }] as Record<string, string>[]) {
      const res = await fetch(stack.url('/v1/admin/live'), { headers });
      expect(res.status).toBe(401);
      expect(await res.json()).toEqual({ error: { code: 'unauthorized', message: expect.any(String) } });
    }
  });

  it('pushes every sale once a second with the same numbers as the operator API', async () => {
    const sale = await createSale(stack, { stock: 7, holdSeconds: 40 });
    const live = await LiveClient.open(stack.url('/v1/admin/live'));
    try {
      expect(live.status).toBe(200);
      expect(live.contentType).toContain('text/event-stream');
      const first = await live.sale(sale.id);
      expect(first).toMatchObject({ id: sale.id, name: sale.name, settings: { admitPerSecond: sale.admitPerSecond, maxActiveHolds: sale.maxActiveHolds, holdSeconds: 40, pools: sale.pools } });
      expect(first.stats).toEqual(await stats(stack, sale.id));
      const from = live.events.length;
      const a = await live.next((e) => e.type === 'sale' && e.data.id === sale.id, 5000, from);
      const b = await live.next((e) => e.type === 'sale' && e.data.id === sale.id, 5000, live.events.indexOf(a) + 1);
      // One round a second (the timer's 1 s, with some slack for a busy machine).
      const gap = Date.parse(b.data.at) - Date.parse(a.data.at);
      expect(gap).toBeGreaterThanOrEqual(900);
      expect(gap).toBeLessThanOrEqual(1600);
      const tick = await live.next((e) => e.type === 'tick');
      expect(tick.data.sales).toContain(sale.id);
    } finally {
      live.close();
    }
  });

  it('follows a buyer through hold, age bucket and sale: held, then sold, with rates and a projected sell-out', async () => {
    const sale = await createSale(stack, { stock: 3, pools: 1, holdSeconds: 60 });
    const live = await LiveClient.open(stack.url('/v1/admin/live'));
    try {
      await live.sale(sale.id, (s) => s.stats.available === 3);
      const { b, holdId } = await buyers.holding(sale.id);
      const held = await live.sale(sale.id, (s) => s.stats.held === 1);
      expect(held.holdsByAge).toEqual([
        { fromSeconds: 0, toSeconds: 15, held: 1, paying: 0 },
        { fromSeconds: 15, toSeconds: 30, held: 0, paying: 0 },
        { fromSeconds: 30, toSeconds: 45, held: 0, paying: 0 },
        { fromSeconds: 45, toSeconds: 60, held: 0, paying: 0 },
      ]);
      expect((await pay(b, holdId, 'pm_card_visa')).type).toBe('order_confirmed');
      const sold = await live.sale(sale.id, (s) => s.stats.sold === 1 && s.soldRate > 0);
      expect(sold.stats).toMatchObject({ stock: 3, available: 2, held: 0, paying: 0, sold: 1 });
      expect(sold.holdsByAge.every((x) => x.held + x.paying === 0)).toBe(true);
      expect(Date.parse(sold.projectedSellOutAt!)).toBeGreaterThan(Date.parse(sold.at));
      const admitted = live.events.filter((e) => e.type === 'sale' && e.data.id === sale.id).map((e) => e.data.admissionRate as number);
      expect(Math.max(...admitted)).toBeGreaterThan(0);
    } finally {
      live.close();
    }
  });

  it('marks the moment a sale sold out, and a restock clears it', async () => {
    const sale = await createSale(stack, { stock: 1, pools: 1 });
    const live = await LiveClient.open(stack.url('/v1/admin/live'));
    try {
      const { b, holdId } = await buyers.holding(sale.id);
      expect((await pay(b, holdId, 'pm_card_visa')).type).toBe('order_confirmed');
      const out = await live.sale(sale.id, (s) => s.stats.state === 'sold_out');
      expect(out.soldOutAt).not.toBeNull();
      expect(out.projectedSellOutAt).toBeNull();
      expect((await stack.admin('POST', `/v1/admin/sales/${sale.id}/restock`, { quantity: 2 })).status).toBe(200);
      const back = await live.sale(sale.id, (s) => s.stats.stock === 3);
      expect(back.soldOutAt).toBeNull();
    } finally {
      live.close();
    }
  });

  it('an ended sale with nothing running is still listed, from its last reading, without being read every second', async () => {
    const sale = await createSale(stack);
    expect((await stack.admin('POST', `/v1/admin/sales/${sale.id}/end`)).status).toBe(200);
    const live = await LiveClient.open(stack.url('/v1/admin/live'));
    try {
      const mine = () => live.events.filter((e) => e.type === 'sale' && e.data.id === sale.id);
      const ended = await live.sale(sale.id, (s) => s.stats.state === 'ended');
      const start = mine().findIndex((e) => e.data.at === ended.at);
      while (mine().length < start + 4) await live.next((x) => x.type === 'sale' && x.data.id === sale.id, 5000, live.events.length);
      // Of the three rounds after it, at most one re-read the sale (every 10th round does); the others
      // sent its last event again, byte for byte.
      const next = mine().slice(start + 1, start + 4);
      expect(next.filter((e) => e.raw === mine()[start]!.raw).length).toBeGreaterThanOrEqual(2);
      expect(live.events.filter((e) => e.type === 'tick').pop()!.data.sales).toContain(sale.id);
    } finally {
      live.close();
    }
  });

  it('computes each round once for every console: two consoles get the same bytes for the same second', async () => {
    const sale = await createSale(stack);
    const one = await LiveClient.open(stack.url('/v1/admin/live'));
    const two = await LiveClient.open(stack.url('/v1/admin/live'));
    try {
      const e1 = await one.next((e) => e.type === 'sale' && e.data.id === sale.id && one.events.indexOf(e) > 0);
      const e2 = await two.next((e) => e.type === 'sale' && e.data.id === sale.id && e.data.at === e1.data.at);
      expect(e2.raw).toBe(e1.raw);
    } finally {
      one.close();
      two.close();
    }
  });

  it('a console that goes away is dropped; the next one is served again', async () => {
    const consoles = async () => Number(/^fs_admin_live_consoles (\d+)/m.exec(await (await fetch(stack.url('/metrics'))).text())?.[1]);
    const sale = await createSale(stack);
    const before = await consoles();
    const first = await LiveClient.open(stack.url('/v1/admin/live'));
    await first.sale(sale.id);
    expect(await consoles()).toBe(before + 1);
    first.close();
    // The gateway sees the abort a moment after the client closes: poll the gauge, bounded.
    const until = Date.now() + 5000;
    while ((await consoles()) !== before && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    expect(await consoles()).toBe(before);
    const again = await LiveClient.open(stack.url('/v1/admin/live'));
    try {
      expect((await again.sale(sale.id)).id).toBe(sale.id);
    } finally {
      again.close();
    }
  });

  it(`refuses more than ${MAX_LIVE_CONSOLES} consoles on one gateway with 503, and takes one again when a place frees`, async () => {
    const open: LiveClient[] = [];
    try {
      for (let i = 0; i < MAX_LIVE_CONSOLES; i++) open.push(await LiveClient.open(stack.url('/v1/admin/live')));
      expect(open.filter((c) => c.status === 200).length).toBe(MAX_LIVE_CONSOLES);
      const res = await fetch(stack.url('/v1/admin/live'), { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
      expect(res.status).toBe(503);
      expect(await res.json()).toEqual({ error: { code: 'unavailable', message: expect.stringContaining(String(MAX_LIVE_CONSOLES)) } });
      open.pop()!.close();
      let retry: LiveClient | undefined;
      for (const until = Date.now() + 5000; Date.now() < until;) {
        retry = await LiveClient.open(stack.url('/v1/admin/live'));
        if (retry.status === 200) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      expect(retry?.status).toBe(200);
      open.push(retry!);
    } finally {
      for (const c of open) c.close();
    }
  });
});
