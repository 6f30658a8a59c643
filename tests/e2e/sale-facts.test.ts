import { describe, expect, it } from 'vitest';
import type { Stack } from '../helpers/stack.js';
import { LiveClient } from '../helpers/live-client.js';
import { Buyers, useStack, createSale, expectCleanAudit, pay, stats } from './kit.js';

// Issue 15, items 4 and 5 over real sockets: what the buyer is told is sold, and the operator's
// numbers (waiting without the buyers told sold_out, the console's back-filled history, the funnel).
let stack: Stack;
let buyers: Buyers;
useStack((s, b) => ((stack = s), (buyers = b)));

async function waitingGauge(saleId: string): Promise<number | null> {
  const text = await (await fetch(stack.url('/metrics'))).text();
  const m = new RegExp(`^fs_waiting_buyers\\{sale="${saleId}"\\} (\\d+)`, 'm').exec(text);
  return m ? Number(m[1]) : null;
}

async function until<T>(read: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 10_000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await read();
    if (ok(v) || Date.now() > end) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('what is sold, and the operator truth', () => {
  it('the sale frame carries the product name and its price (minor units and currency)', async () => {
    const sale = await createSale(stack, { name: 'Sneaker drop', price: { amount: 12000, currency: 'eur' } });
    const b = await buyers.connect(sale.id);
    expect(b.frames[0]).toMatchObject({ type: 'sale', name: 'Sneaker drop', price: { amount: 12000, currency: 'eur' }, startsAt: sale.startsAt, endsAt: sale.endsAt });
  });

  it('waiting leaves out the buyers told sold_out (stats, live channel, gauge), and counts them again after a restock', async () => {
    const sale = await createSale(stack, { stock: 1 });
    const holder = await buyers.holding(sale.id);
    const waiters = await Promise.all(Array.from({ length: 3 }, () => buyers.queued(sale.id)));
    expect(await stats(stack, sale.id)).toMatchObject({ waiting: 3 });

    expect(await pay(holder.b, holder.holdId, 'pm_card_visa')).toMatchObject({ type: 'order_confirmed' });
    await Promise.all(waiters.map((w) => w.b.next('sold_out', 10_000)));
    expect(await stats(stack, sale.id)).toMatchObject({ state: 'sold_out', waiting: 0 });
    const live = await LiveClient.open(stack.url('/v1/admin/live'));
    try {
      expect((await live.sale(sale.id, (s) => s.stats.state === 'sold_out')).stats.waiting).toBe(0);
    } finally {
      live.close();
    }
    expect(await until(() => waitingGauge(sale.id), (n) => n === 0)).toBe(0);

    // A restock of one: the first waiter gets it, the two behind keep their places and wait again.
    expect((await stack.admin('POST', `/v1/admin/sales/${sale.id}/restock`, { quantity: 1 })).status).toBe(200);
    const first = waiters.reduce((a, w) => (w.position < a.position ? w : a));
    await first.b.next('admitted', 10_000);
    expect(await until(() => stats(stack, sale.id), (s) => s.waiting === 2)).toMatchObject({ state: 'open', held: 1, waiting: 2 });
    await expectCleanAudit(stack, sale.id, { stock: 2, sold: 1, held: 1 });
  });

  it('a console opened mid-sale gets each sale\'s past seconds first (at most 300 samples, oldest first, before it connected)', async () => {
    const sale = await createSale(stack, { stock: 5, pools: 1 });
    const createdAt = Date.now();
    // With no console listening, a hold is taken: the history must show before and after it.
    await until(async () => Date.now(), (t) => t - createdAt >= 2500);
    const { holdId, b } = await buyers.holding(sale.id);
    expect(holdId).toMatch(/^hold_/);
    await until(async () => Date.now(), (t) => t - createdAt >= 5000);

    const connectedAt = Date.now();
    const live = await LiveClient.open(stack.url('/v1/admin/live'));
    try {
      const h = (await live.next((e) => e.type === 'history' && e.data.id === sale.id, 5000)).data as { id: string; samples: { at: number; held: number; available: number; sold: number; waiting: number }[] };
      // It came before this sale's first `sale` event of this connection.
      const firstSale = live.events.findIndex((e) => e.type === 'sale' && e.data.id === sale.id);
      expect(firstSale === -1 || firstSale > live.events.findIndex((e) => e.type === 'history' && e.data.id === sale.id)).toBe(true);
      const s = h.samples;
      expect(s.length).toBeGreaterThanOrEqual(4);
      expect(s.length).toBeLessThanOrEqual(300);
      for (let i = 1; i < s.length; i++) expect(s[i]!.at).toBeGreaterThan(s[i - 1]!.at);
      // About one sample a second, all from before this console connected, going back to the sale's start.
      expect(s[s.length - 1]!.at).toBeLessThanOrEqual(connectedAt);
      expect(s[0]!.at - createdAt).toBeLessThan(1500);
      expect((s[s.length - 1]!.at - s[0]!.at) / (s.length - 1)).toBeGreaterThan(800);
      expect(s[0]).toMatchObject({ available: 5, held: 0 });
      expect(s[s.length - 1]).toMatchObject({ available: 4, held: 1 });
    } finally {
      live.close();
    }
    await b.request({ type: 'leave' }, 'left');
  });

  it('the funnel counts joined, admitted, paid, expired, declined and left', async () => {
    const sale = await createSale(stack, { stock: 3, pools: 1, holdSeconds: 1 });
    // Three holds: one is paid, one is declined and then left to expire, one is given up (left).
    const paid = await buyers.holding(sale.id);
    const declined = await buyers.holding(sale.id);
    const leaver = await buyers.holding(sale.id);
    expect(await pay(paid.b, paid.holdId, 'pm_card_visa')).toMatchObject({ type: 'order_confirmed' });
    expect(await pay(declined.b, declined.holdId, 'pm_card_chargeDeclined')).toMatchObject({ type: 'payment_failed', retryable: true });
    await leaver.b.request({ type: 'leave' }, 'left');
    await declined.b.next('hold_expired', 10_000);
    const r = await stack.admin('GET', `/v1/admin/sales/${sale.id}/funnel`);
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ joined: 3, admitted: 3, paid: 1, expired: 1, declined: 1, left: 1 });
    expect((await stack.admin('GET', '/v1/admin/sales/no-such-sale/funnel')).status).toBe(404);
  });
});
