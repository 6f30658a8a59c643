import { describe, expect, it } from 'vitest';
import { createSale, pay, stats, useStack, type Buyers } from '../e2e/kit.js';
import { uniqueId } from '../helpers/env.js';
import { BUYER_SECRET, type Stack } from '../helpers/stack.js';
import { mintBuyerToken } from '../../shared/buyer-token.js';
import { buyerPage, DEMO_STACK, headline, PHONE, screenshot, usePages } from './browser.js';

let stack: Stack;
let buyers: Buyers;
useStack((s, b) => { stack = s; buyers = b; }, DEMO_STACK);
const { open } = usePages();

describe('the buyer page in Chromium', () => {
  it('joins, shows the hold countdown, pays with the Visa test card and shows the order id (phone size)', async () => {
    const sale = await createSale(stack, { stock: 3, holdSeconds: 120 });
    const page = await open(PHONE);
    await buyerPage(page, stack.url(), sale.id, uniqueId('ada'));
    await page.getByRole('button', { name: 'Join the queue' }).click();
    await headline(page, 'Your item is held for you');
    // The countdown runs down from the hold time and the bar shows the part left.
    const shown = await page.locator('#countdown').textContent();
    expect(shown).toMatch(/^[12]:\d\d$/);
    expect(await page.locator('#hold-bar').getAttribute('max')).toBe('1');
    // Focus went to the headline so keyboard and screen-reader users notice the hold.
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('headline');
    await page.getByLabel('Visa — succeeds').check();
    await page.getByRole('button', { name: 'Pay' }).click();
    await headline(page, 'Order confirmed');
    const orderId = (await page.locator('#order-id').textContent())!;
    const audit = await stack.admin('GET', `/v1/admin/sales/${sale.id}/audit`);
    expect(audit.body).toMatchObject({ ok: true, orders: 1, sold: 1 });
    expect(orderId).toMatch(/^ord_/);
    await screenshot(page, 'buyer-confirmed-phone');
  });

  it('a declined card is retryable: the page says so, keeps the hold, and a second card confirms', async () => {
    const sale = await createSale(stack, { stock: 2, holdSeconds: 120 });
    const page = await open();
    await buyerPage(page, stack.url(), sale.id, uniqueId('bob'));
    await page.getByRole('button', { name: 'Join the queue' }).click();
    await headline(page, 'Your item is held for you');
    await page.getByLabel('Visa — declined').check();
    await page.getByRole('button', { name: 'Pay' }).click();
    await headline(page, 'Payment declined');
    expect(await page.locator('#detail').textContent()).toMatch(/declined .*pay again/i);
    expect(await page.locator('#hold').isVisible()).toBe(true);
    await page.getByLabel('Visa — succeeds').check();
    await page.getByRole('button', { name: 'Pay' }).click();
    await headline(page, 'Order confirmed');
    await screenshot(page, 'buyer-confirmed-desktop');
  });

  it('shows the place in line with an ETA, announced in a polite live region, then the hold when admitted', async () => {
    // One hold at a time: the page's buyer waits behind a socket buyer until that one pays.
    const sale = await createSale(stack, { stock: 5, maxActiveHolds: 1, holdSeconds: 120 });
    const first = await buyers.holding(sale.id);
    const page = await open(PHONE);
    await buyerPage(page, stack.url(), sale.id, uniqueId('cy'));
    await page.getByRole('button', { name: 'Join the queue' }).click();
    await headline(page, 'You are in line');
    expect(await page.locator('#position').textContent()).toBe('1');
    expect(await page.locator('#eta').textContent()).toMatch(/^≈ \d+ (s|min)$/);
    const live = page.locator('#announce');
    expect(await live.getAttribute('aria-live')).toBe('polite');
    expect(await live.textContent()).toBe('You are in line');
    await screenshot(page, 'buyer-queued-phone');
    expect((await pay(first.b, first.holdId, 'pm_card_visa')).type).toBe('order_confirmed');
    await headline(page, 'Your item is held for you');
    expect(await live.textContent()).toBe('Your item is held for you');
  });

  it('an unpaid hold expires: the page says so and offers to join again', async () => {
    const sale = await createSale(stack, { stock: 2, holdSeconds: 2 });
    const page = await open();
    await buyerPage(page, stack.url(), sale.id, uniqueId('dee'));
    await page.getByRole('button', { name: 'Join the queue' }).click();
    await headline(page, 'Your item is held for you');
    await headline(page, 'Your hold expired');
    expect(await page.getByRole('button', { name: 'Join again' }).isVisible()).toBe(true);
    expect(await page.locator('#payform').isVisible()).toBe(false);
  });

  it('a sale with nothing left says sold out and offers nothing to do', async () => {
    const sale = await createSale(stack, { stock: 1, pools: 1 });
    const other = await buyers.holding(sale.id);
    expect((await pay(other.b, other.holdId, 'pm_card_visa')).type).toBe('order_confirmed');
    const page = await open(PHONE);
    await buyerPage(page, stack.url(), sale.id, uniqueId('eve'));
    await headline(page, 'Sold out');
    expect(await page.locator('#sale-state').textContent()).toBe('sold out');
    expect(await page.getByRole('button', { name: /Join/ }).count()).toBe(0);
    await screenshot(page, 'buyer-sold-out-phone');
  });

  it('a shop\'s link carries the buyer token: the page uses it, keeps it for the tab and takes it out of the address bar', async () => {
    const sale = await createSale(stack, { stock: 2 });
    const buyer = uniqueId('shop-buyer');
    const token = await mintBuyerToken(BUYER_SECRET, buyer);
    const page = await open();
    await page.goto(stack.url(`/s/${sale.id}?token=${encodeURIComponent(token)}`));
    await page.locator('#conn[data-conn="open"]').waitFor();
    expect(new URL(page.url()).search).toBe('');
    expect(await page.evaluate(() => sessionStorage.getItem('fsBuyerToken'))).toBe(token);
    expect(await page.locator('#signin').isVisible()).toBe(false);
    await page.getByRole('button', { name: 'Join the queue' }).click();
    await headline(page, 'Your item is held for you');
    // The hold is the token subject's: another tab of that buyer is told of the same hold at once.
    const sameBuyer = await buyers.connect(sale.id, buyer);
    expect((await sameBuyer.next('admitted')).holdId).toMatch(/^hold_/);
    expect(await page.getByRole('button', { name: 'Use another name' }).isVisible()).toBe(false);
  });

  it('reconnects by itself after the connection drops, and gets the same hold back', async () => {
    const sale = await createSale(stack, { stock: 2, holdSeconds: 120 });
    const page = await open();
    let sockets = 0;
    let dropFirst: (() => Promise<void>) | undefined;
    // Every socket goes through a pass-through proxy, so the test can cut the first one.
    await page.routeWebSocket(/\/v1\/sales\//, (ws) => {
      sockets++;
      ws.connectToServer();
      if (sockets === 1) dropFirst = () => ws.close({ code: 4000, reason: 'the test drops the connection' });
    });
    await buyerPage(page, stack.url(), sale.id, uniqueId('fay'));
    await page.getByRole('button', { name: 'Join the queue' }).click();
    await headline(page, 'Your item is held for you');
    // The page remembers each hold it was given (by id) in sessionStorage.
    const holdsSeen = () => page.evaluate(() => Object.keys(sessionStorage).filter((k) => k.startsWith('fsHoldMs:')));
    const before = await holdsSeen();
    expect(before).toHaveLength(1);
    await dropFirst!();
    await page.locator('#conn[data-conn="retrying"]').waitFor();
    expect(await page.locator('#conn').textContent()).toMatch(/reconnecting in \d+ s/);
    await page.locator('#conn[data-conn="open"]').waitFor({ timeout: 15_000 });
    expect(sockets).toBe(2);
    await headline(page, 'Your item is held for you');
    expect(await holdsSeen()).toEqual(before);
    await page.getByRole('button', { name: 'Pay' }).click();
    await headline(page, 'Order confirmed');
    expect((await stats(stack, sale.id)).sold).toBe(1);
  });
});
