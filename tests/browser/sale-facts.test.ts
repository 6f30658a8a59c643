import { describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { Buyers, createSale, pay, stats, useStack } from '../e2e/kit.js';
import { uniqueId } from '../helpers/env.js';
import { ADMIN_TOKEN, type Stack } from '../helpers/stack.js';
import { buyerPage, consolePage, DEMO_STACK, DESKTOP, headline, launchChromium, PHONE, screenshot } from './browser.js';

// Issue 15 items 4 and 5 in Chromium: the buyer page tells what is sold (in two locales and time
// zones) and what a restock after sold_out does; the console draws the funnel and a back-filled chart.
let stack: Stack;
let buyers: Buyers;
useStack((s, b) => ((stack = s), (buyers = b)), DEMO_STACK);

let browser: Browser | undefined;
const opened: { close(): Promise<void>; errors: string[] }[] = [];
beforeAll(async () => { browser = await launchChromium(); });
afterEach(async () => {
  for (const c of opened.splice(0)) {
    await c.close();
    expect(c.errors).toEqual([]);
  }
});
afterAll(async () => { await browser?.close(); });

/** A page in its own context with the buyer's locale and time zone; script errors fail the test. */
async function open(viewport = PHONE, locale = 'en-US', timezoneId = 'UTC'): Promise<Page> {
  const context = await browser!.newContext({ viewport, locale, timezoneId });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => { if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) errors.push(`console: ${m.text()}`); });
  opened.push({ close: () => context.close(), errors });
  return page;
}

const text = async (page: Page, id: string) => (await page.locator(`#${id}`).textContent()) ?? '';

describe('the buyer page tells what is sold', () => {
  for (const [locale, timeZone, symbol] of [['en-US', 'America/New_York', '€120.00'], ['de-DE', 'Europe/Berlin', '120,00 €']] as const) {
    it(`name, price and window in the buyer's locale: ${locale}, ${timeZone}`, async () => {
      const startsAt = '2030-12-01T18:00:00.000Z';
      const endsAt = '2030-12-01T19:30:00.000Z';
      const sale = await createSale(stack, { name: 'Sneaker drop 42', price: { amount: 12000, currency: 'eur' }, startsAt, endsAt });
      const page = await open(PHONE, locale, timeZone);
      await buyerPage(page, stack.url(), sale.id, uniqueId('loc'));
      await page.locator('#product:not([hidden])').waitFor();
      expect(await text(page, 'product-name')).toBe('Sneaker drop 42');
      expect(await text(page, 'title')).toBe('Sneaker drop 42');
      // The page's own Intl, the same as Node's for that locale; the separators are the locale's (NBSP in de-DE).
      expect((await text(page, 'product-price')).replace(/\u00a0/g, ' ')).toBe(symbol);
      expect(await text(page, 'product-price')).toBe(new Intl.NumberFormat(locale, { style: 'currency', currency: 'EUR' }).format(120));
      const range = new Intl.DateTimeFormat(locale, { dateStyle: 'medium', timeStyle: 'short', timeZone }).formatRange(new Date(startsAt), new Date(endsAt));
      // Chromium's ICU and Node's may pick other space characters (thin, narrow no-break) around the dash and AM/PM.
      const spaces = (x: string) => x.replace(/[\u00a0\u2009\u202f]/g, ' ');
      expect(spaces(await text(page, 'product-window'))).toBe(spaces(`Sale window: ${range} (${timeZone})`));
      // Local time, not UTC: 18:00 UTC is 13:00 in New York and 19:00 in Berlin.
      expect(await text(page, 'product-window')).toContain(locale === 'en-US' ? '1:00' : '19:00');
      await screenshot(page, `facts-buyer-${locale}`);
    });
  }

  it('after sold_out the waiter is told their place is kept; a restock lets them in without a new join', async () => {
    const sale = await createSale(stack, { name: 'Limited vinyl', price: { amount: 3450, currency: 'usd' }, stock: 1, pools: 1 });
    const holder = await buyers.holding(sale.id);
    const page = await open(PHONE);
    await buyerPage(page, stack.url(), sale.id, uniqueId('wait'));
    await page.getByRole('button', { name: 'Join the queue' }).click();
    await headline(page, 'You are in line');
    expect((await pay(holder.b, holder.holdId, 'pm_card_visa')).type).toBe('order_confirmed');
    await headline(page, 'Sold out');
    expect(await text(page, 'detail')).toContain('You keep your place in line: if the seller adds units, this page tells you and lets you in automatically');
    expect(await page.getByRole('button', { name: 'Leave' }).isVisible()).toBe(true);
    expect((await stats(stack, sale.id)).waiting).toBe(0);
    await screenshot(page, 'facts-buyer-sold-out-place-kept');

    expect((await stack.admin('POST', `/v1/admin/sales/${sale.id}/restock`, { quantity: 1 })).status).toBe(200);
    await headline(page, 'Your item is held for you');
  });

  it('a buyer who came after the sell-out is told there is no place to keep', async () => {
    const sale = await createSale(stack, { stock: 1, pools: 1 });
    const holder = await buyers.holding(sale.id);
    expect((await pay(holder.b, holder.holdId, 'pm_card_visa')).type).toBe('order_confirmed');
    const page = await open(PHONE);
    await buyerPage(page, stack.url(), sale.id, uniqueId('late'));
    await headline(page, 'Sold out');
    expect(await text(page, 'detail')).toBe('Everything has been sold. If the seller adds units, this page shows it and you can join the queue then.');
    expect(await page.getByRole('button', { name: 'Leave' }).count()).toBe(0);
  });
});

describe('the console, opened mid-sale', () => {
  it('draws the seconds before it was opened, and the funnel as bars', async () => {
    const sale = await createSale(stack, { name: 'Console drop', stock: 4, pools: 1, holdSeconds: 1 });
    const createdAt = Date.now();
    const paid = await buyers.holding(sale.id);
    expect((await pay(paid.b, paid.holdId, 'pm_card_visa')).type).toBe('order_confirmed');
    const declined = await buyers.holding(sale.id);
    expect((await pay(declined.b, declined.holdId, 'pm_card_chargeDeclined')).type).toBe('payment_failed');
    await declined.b.next('hold_expired', 10_000);
    const leaver = await buyers.holding(sale.id);
    await leaver.b.request({ type: 'leave' }, 'left');
    // Some seconds of history with no console open.
    while (Date.now() - createdAt < 6000) await stats(stack, sale.id);

    const page = await open(DESKTOP);
    await consolePage(page, stack.url(), ADMIN_TOKEN);
    await page.locator(`#sales tbody tr[data-id="${sale.id}"]`).click();
    await page.locator('#d-name', { hasText: `(${sale.id})` }).waitFor();
    // Within its first second the chart holds the gateway's past seconds, not one new point.
    await page.locator('#chart[data-points]').waitFor();
    const points = Number(await page.locator('#chart').getAttribute('data-points'));
    expect(points).toBeGreaterThanOrEqual(5);
    expect(points).toBeLessThanOrEqual(300);

    const bar = (stage: string) => page.locator(`#funnel g[data-stage="${stage}"] text.n`);
    await bar('joined').waitFor();
    const got = Object.fromEntries(await Promise.all(['joined', 'admitted', 'paid', 'expired', 'declined', 'left'].map(async (s) => [s, await bar(s).textContent()])));
    expect(got).toEqual({ joined: '3', admitted: '3', paid: '1', expired: '1', declined: '1', left: '1' });
    expect(Number(await page.locator('#funnel g[data-stage="joined"] rect').getAttribute('width'))).toBeGreaterThan(Number(await page.locator('#funnel g[data-stage="paid"] rect').getAttribute('width')));
    await screenshot(page, 'facts-console-desktop');
  });
});
