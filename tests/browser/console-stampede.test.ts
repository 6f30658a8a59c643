import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { Browser } from 'playwright-core';
import { mintBuyerToken } from '../../shared/buyer-token.js';
import { createSale, stats, useStack } from '../e2e/kit.js';
import { ADMIN_TOKEN, BUYER_SECRET, type Stack } from '../helpers/stack.js';
import { LiveClient } from '../helpers/live-client.js';
import { consolePage, DESKTOP, launchChromium, openPage, screenshot, type WatchedPage } from './browser.js';

const BUYERS = 400;
const STOCK = 120;

let browser: Browser;
let stack: Stack;
let watched: WatchedPage | undefined;
useStack((s) => { stack = s; });
beforeAll(async () => { browser = await launchChromium(); });
afterAll(async () => {
  await watched?.context.close();
  await browser?.close();
});

/** One buyer of the crowd: joins at once, pays with the Visa test card when admitted. */
function buyer(url: string): Promise<'confirmed' | 'sold_out'> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.on('open', () => ws.send(JSON.stringify({ type: 'join' })));
    ws.on('message', (data) => {
      const f = JSON.parse(String(data));
      if (f.type === 'admitted') ws.send(JSON.stringify({ type: 'pay', holdId: f.holdId, paymentMethod: 'pm_card_visa' }));
      if (f.type === 'order_confirmed' || f.type === 'sold_out') {
        ws.close();
        resolve(f.type === 'order_confirmed' ? 'confirmed' : 'sold_out');
      }
    });
    ws.on('error', reject);
  });
}

describe('the console during a stampede', () => {
  it(`keeps up with ${BUYERS} buyers: live numbers, no frozen frame, the sold curve reaches the stock`, async () => {
    const sale = await createSale(stack, { stock: STOCK, pools: 4, admitPerSecond: 60, maxActiveHolds: 200, holdSeconds: 30 });
    watched = await openPage(browser, DESKTOP);
    const { page } = watched;
    await consolePage(page, stack.url(), ADMIN_TOKEN);
    await page.locator(`#sales tbody tr[data-id="${sale.id}"]`).click();
    await page.locator('#live', { hasText: /^Live$/ }).waitFor();
    // What the operator would have seen: the longest main-thread task and the largest waiting count
    // shown; beside it, the live channel's own cadence as a second console receives it.
    const cadence = await LiveClient.open(stack.url('/v1/admin/live'));
    await page.evaluate(() => {
      const w = window as any;
      w.seen = { longest: 0, maxWaiting: 0 };
      new PerformanceObserver((l) => { for (const e of l.getEntries()) w.seen.longest = Math.max(w.seen.longest, e.duration); }).observe({ type: 'longtask', buffered: true });
      new MutationObserver(() => {
        const waiting = Number(document.getElementById('k-waiting')!.textContent.replace(/[^\d]/g, ''));
        if (waiting > w.seen.maxWaiting) w.seen.maxWaiting = waiting;
      }).observe(document.body, { subtree: true, childList: true, characterData: true, attributes: true });
    });

    const tokens = await Promise.all(Array.from({ length: BUYERS }, (_, i) => mintBuyerToken(BUYER_SECRET, `crowd-${i}-${sale.id}`)));
    const outcomes = Promise.all(tokens.map((t) => buyer(stack.wsUrl(sale.id, t))));
    await page.locator('#k-waiting', { hasText: /^[1-9]/ }).waitFor({ timeout: 15_000 });
    await screenshot(page, 'console-stampede-desktop');
    const results = await outcomes;
    expect(results.filter((r) => r === 'confirmed').length).toBe(STOCK);

    await page.locator('#k-sold', { hasText: new RegExp(`^${STOCK}$`) }).waitFor({ timeout: 10_000 });
    await page.locator('#d-state', { hasText: /^sold out$/ }).waitFor({ timeout: 10_000 });
    expect(await page.locator('#k-sellout').textContent()).toMatch(/^sold out /);
    expect((await stats(stack, sale.id)).sold).toBe(STOCK);
    const seen = await page.evaluate(() => (window as any).seen);
    expect(seen.maxWaiting).toBeGreaterThan(0);
    // A quick machine sells out in a couple of seconds: the cadence needs a few rounds to be judged.
    const tickCount = () => cadence.events.filter((e) => e.type === 'tick').length;
    const enough = tickCount() + 3;
    await cadence.next(() => tickCount() >= enough, 10_000);
    cadence.close();
    const ticks = cadence.events.filter((e) => e.type === 'tick').map((e) => e.receivedAt);
    const gaps = ticks.slice(1).map((t, i) => t - ticks[i]!).sort((x, y) => x - y);
    expect(gaps.length).toBeGreaterThanOrEqual(2);
    // Pushed about every second through the stampede; a busy machine may delay a round, never stall it.
    expect(gaps[Math.floor(gaps.length / 2)]).toBeLessThan(1600);
    expect(gaps[gaps.length - 1]).toBeLessThan(5000);
    // A frozen console would show as a long main-thread task; rendering is one rAF per change.
    expect(seen.longest).toBeLessThan(500);
    expect(watched.errors).toEqual([]);
    await screenshot(page, 'console-stampede-sold-out-desktop');
  });
});
