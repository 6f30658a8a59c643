import { describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { createSale, stats, useStack } from '../e2e/kit.js';
import { uniqueId } from '../helpers/env.js';
import { ADMIN_TOKEN, type Stack } from '../helpers/stack.js';
import { buyerPage, consolePage, DEMO_STACK, DESKTOP, headline, PHONE, screenshot, usePages } from './browser.js';

let stack: Stack;
useStack((s) => { stack = s; }, DEMO_STACK);
const { open } = usePages();

/** Signs in and selects `saleId` in the sales table; resolves when its detail shows live numbers. */
async function consoleOn(page: Page, saleId: string): Promise<void> {
  await consolePage(page, stack.url(), ADMIN_TOKEN);
  await page.locator(`#sales tbody tr[data-id="${saleId}"]`).click();
  await page.locator('#d-name', { hasText: `(${saleId})` }).waitFor();
  await page.locator('#live', { hasText: /^Live$/ }).waitFor();
}
const kpi = (page: Page, id: string, text: string) => page.locator(`#k-${id}`, { hasText: new RegExp(`^${text}$`) }).waitFor({ timeout: 10_000 });
const badge = (page: Page, state: string) => page.locator('#d-state', { hasText: new RegExp(`^${state}$`) }).waitFor({ timeout: 10_000 });

describe('the operator console in Chromium', () => {
  it('a wrong admin token is refused and not kept', async () => {
    const page = await open();
    await consolePage(page, stack.url(), 'not-the-token');
    await page.locator('#msg', { hasText: 'The admin token was refused.' }).waitFor();
    expect(await page.locator('#login').isVisible()).toBe(true);
    expect(await page.evaluate(() => sessionStorage.getItem('fsAdminToken'))).toBeNull();
  });

  it('a buyer pays on the buyer page and the console, open beside it, shows sold go up by itself (phone and desktop)', async () => {
    const sale = await createSale(stack, { stock: 4, holdSeconds: 120 });
    const consoles = [await open(DESKTOP), await open(PHONE)];
    for (const c of consoles) {
      await consoleOn(c, sale.id);
      await kpi(c, 'sold', '0');
      await kpi(c, 'available', '4');
    }
    const buyer = await open(PHONE);
    await buyerPage(buyer, stack.url(), sale.id, uniqueId('gil'));
    await buyer.getByRole('button', { name: 'Join the queue' }).click();
    await headline(buyer, 'Your item is held for you');
    for (const c of consoles) await kpi(c, 'held', '1');
    expect(await consoles[0]!.locator('#ages-total').textContent()).toBe('(1 active)');
    await buyer.getByRole('button', { name: 'Pay' }).click();
    await headline(buyer, 'Order confirmed');
    for (const c of consoles) {
      await kpi(c, 'sold', '1');
      await kpi(c, 'available', '3');
      const row = c.locator(`#sales tbody tr[data-id="${sale.id}"] td`);
      expect(await row.nth(6).textContent()).toBe('1');
    }
    await screenshot(consoles[0]!, 'console-sold-desktop');
    await screenshot(consoles[1]!, 'console-sold-phone');
    await screenshot(buyer, 'buyer-order-phone');
  });

  it('creating a sale shows each validation message under its field and creates nothing, then creates a valid one', async () => {
    const page = await open();
    await consolePage(page, stack.url(), ADMIN_TOKEN);
    await page.locator('#live', { hasText: /^Live$/ }).waitFor();
    const id = uniqueId('console-made');
    await page.getByText('New sale').click();
    const form = page.locator('#create');
    const field = (label: string) => form.getByLabel(label, { exact: true });
    await field('Id (optional)').fill(id);
    await field('Name').fill('');
    await field('SKU').fill('SKU-C');
    await field('Stock').fill('0');
    await page.getByRole('button', { name: 'Create sale' }).click();
    await page.locator('#c-stock-err', { hasText: /.+/ }).waitFor();
    expect(await page.locator('#c-name-err').textContent()).not.toBe('');
    expect(await field('Stock').getAttribute('aria-invalid')).toBe('true');
    expect(await page.locator('#msg').textContent()).toBe('Please correct the marked fields.');
    expect((await stack.admin('GET', `/v1/admin/sales/${id}`)).status).toBe(404);

    await field('Name').fill('Made in the console');
    await field('Stock').fill('12');
    await field('Pools').fill('3');
    await page.getByRole('button', { name: 'Create sale' }).click();
    await page.locator('#d-name', { hasText: `Made in the console (${id})` }).waitFor();
    expect(await page.locator('#c-stock-err').textContent()).toBe('');
    const created = await stack.admin('GET', `/v1/admin/sales/${id}`);
    expect(created.body).toMatchObject({ id, stock: 12, pools: 3, name: 'Made in the console' });
    await kpi(page, 'available', '12');
  });

  it('pause and resume act at once; end asks first, and Cancel changes nothing', async () => {
    const sale = await createSale(stack);
    const page = await open();
    await consoleOn(page, sale.id);
    await page.getByRole('button', { name: 'Pause' }).click();
    await badge(page, 'paused');
    expect((await stats(stack, sale.id)).state).toBe('paused');
    await page.getByRole('button', { name: 'Resume' }).click();
    await badge(page, 'open');

    await page.getByRole('button', { name: 'End sale' }).click();
    const dialog = page.getByRole('dialog');
    await dialog.waitFor();
    expect(await dialog.textContent()).toContain(`End sale ${sale.id}?`);
    // The safe choice has the focus, so Enter does not end a sale by accident.
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('confirm-cancel');
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await dialog.waitFor({ state: 'hidden' });
    expect((await stats(stack, sale.id)).state).toBe('open');

    await page.getByRole('button', { name: 'End sale' }).click();
    await dialog.getByRole('button', { name: 'Confirm' }).click();
    await badge(page, 'ended');
    expect((await stats(stack, sale.id)).state).toBe('ended');
    expect(await page.getByRole('button', { name: 'End sale' }).isDisabled()).toBe(true);
  });

  it('live tuning: a bad value is refused under its field and changes nothing; a good one applies', async () => {
    const sale = await createSale(stack, { admitPerSecond: 50 });
    const page = await open();
    await consoleOn(page, sale.id);
    await page.locator('#tune').getByLabel('Admit per second').fill('0');
    await page.getByRole('button', { name: 'Apply tuning' }).click();
    await page.locator('#t-admitPerSecond-err', { hasText: /.+/ }).waitFor();
    expect((await stack.admin('GET', `/v1/admin/sales/${sale.id}`)).body.admitPerSecond).toBe(50);

    await page.locator('#tune').getByLabel('Admit per second').fill('37');
    await page.locator('#tune').getByLabel('Hold seconds').fill('45');
    await page.getByRole('button', { name: 'Apply tuning' }).click();
    await page.locator('#d-sub', { hasText: 'Admit 37/s' }).waitFor({ timeout: 10_000 });
    expect(await page.locator('#d-sub').textContent()).toContain('45 s to pay');
    expect((await stack.admin('GET', `/v1/admin/sales/${sale.id}`)).body).toMatchObject({ admitPerSecond: 37, holdSeconds: 45 });
    expect(await page.locator('#t-admitPerSecond-err').textContent()).toBe('');
  });

  it('restock asks first, then grows the stock', async () => {
    const sale = await createSale(stack, { stock: 10 });
    const page = await open();
    await consoleOn(page, sale.id);
    await page.getByLabel('Restock units').fill('5');
    await page.getByRole('button', { name: 'Restock' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Confirm' }).click();
    await kpi(page, 'available', '15');
    expect((await stats(stack, sale.id)).stock).toBe(15);
  });

  it('lists the selected sale\'s dead letters from GET /v1/admin/dead-letters', async () => {
    const sale = await createSale(stack);
    const page = await open();
    // The worker cannot be made to dead-letter on demand here: the answer of the contract's endpoint
    // is given to the page, which must show the one of this sale and not the other sale's.
    await page.route('**/v1/admin/dead-letters', (route) => route.fulfill({
      json: { deadLetters: [
        { id: 'hold_0_x-a1', holdId: 'hold_0_x', saleId: sale.id, reason: 'stripe timed out', attempts: 4, failedAt: new Date().toISOString() },
        { id: 'hold_0_y-a1', holdId: 'hold_0_y', saleId: 'another-sale', reason: 'other', attempts: 4, failedAt: new Date().toISOString() },
      ] },
    }));
    await consoleOn(page, sale.id);
    await page.locator('#dl tbody tr', { hasText: 'hold_0_x' }).waitFor();
    expect(await page.locator('#dl-count').textContent()).toBe('(1)');
    expect(await page.locator('#dl tbody').textContent()).toContain('stripe timed out');
    expect(await page.locator('#dl tbody').textContent()).not.toContain('hold_0_y');
  });

  it('the live channel comes back by itself after it is cut', async () => {
    const sale = await createSale(stack);
    const page = await open();
    let requests = 0;
    // The first connection of the live channel fails at the network level; later ones go through.
    await page.route('**/v1/admin/live', (route) => (++requests === 1 ? route.abort('connectionreset') : route.continue()));
    await consolePage(page, stack.url(), ADMIN_TOKEN);
    await page.locator('#live[data-conn="retrying"]', { hasText: /retrying in \d+ s/ }).waitFor();
    await page.locator('#live', { hasText: /^Live$/ }).waitFor({ timeout: 15_000 });
    await page.locator(`#sales tbody tr[data-id="${sale.id}"]`).waitFor();
    expect(requests).toBe(2);
  });

  it('the chart keeps a bounded rolling window and redraws at most once per animation frame', async () => {
    const page = await open();
    await consolePage(page, stack.url(), ADMIN_TOKEN);
    const r = await page.evaluate(async () => {
      const { StockHistory, BurnDownChart, WINDOW_SECONDS } = (window as any).FlashSaleChart;
      const h = new StockHistory();
      for (let i = 0; i < 2000; i++) h.push('s', i * 1000, { available: 2000 - i, held: 1, paying: 1, sold: i });
      const points = h.get('s')[0].length;
      const first = h.get('s')[0][0];
      const div = document.createElement('div');
      div.style.width = '600px';
      document.body.append(div);
      const chart = new BurnDownChart(div);
      let draws = 0;
      const setData = chart.plot.setData.bind(chart.plot);
      chart.plot.setData = (d: unknown) => { draws++; setData(d); };
      for (let i = 0; i < 100; i++) chart.show(h.get('s'));
      await new Promise((res) => requestAnimationFrame(() => requestAnimationFrame(res)));
      // Histories of many sales (a long day of stampede runs) are bounded too.
      for (let i = 0; i < 500; i++) h.push(`sale-${i}`, 0, { available: 1, held: 0, paying: 0, sold: 0 });
      return { points, first, sales: h.bySale.size, draws, window: WINDOW_SECONDS };
    });
    expect(r.points).toBe(r.window + 1);
    expect(r.first).toBe(1999 - r.window);
    expect(r.sales).toBeLessThanOrEqual(200);
    expect(r.draws).toBe(1);
  });
  it('survives a POSIX locale: Chromium under LANG=C reports navigator.language "en-US@posix", which Intl rejects', async () => {
    const sale = await createSale(stack, { stock: 3 });
    const page = await open();
    // What Debian's Chromium started with LANG=C reports, before any script of the page runs.
    await page.addInitScript(() => {
      Object.defineProperty(Navigator.prototype, 'language', { get: () => 'en-US@posix', configurable: true });
    });
    expect(await page.evaluate(() => { try { new Intl.NumberFormat('en-US@posix'); return 'accepted'; } catch (e) { return (e as Error).message; } })).toMatch(/Invalid language tag/);
    await consoleOn(page, sale.id);
    await kpi(page, 'available', '3');
    // The burn-down chart was built (uPlot formats numbers with navigator.language when it loads).
    await page.locator('.uplot canvas').first().waitFor();
    expect(await page.evaluate(() => navigator.language)).toBe('en-US');
  });
});
