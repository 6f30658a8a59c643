import { describe, expect, it } from 'vitest';
import { createSale, useStack, type Buyers } from '../e2e/kit.js';
import { ADMIN_TOKEN, type Stack } from '../helpers/stack.js';
import { consolePage, DEMO_STACK, screenshot, usePages } from './browser.js';

let stack: Stack;
let buyers: Buyers;
useStack((s, b) => { stack = s; buyers = b; }, DEMO_STACK);
const { open } = usePages();

describe('the console shows how good past estimates were', () => {
  it('Brier score, coverage of the 80 % ranges, predicted vs actual waits of the admitted buyers', async () => {
    const sale = await createSale(stack, { stock: 2, maxActiveHolds: 1, holdSeconds: 120 });
    const holder = await buyers.holding(sale.id);
    const waiters = [];
    for (let i = 0; i < 4; i++) waiters.push(await buyers.queued(sale.id));
    // The holder gives up: the first waiter is admitted (an outcome for the record).
    await holder.b.request({ type: 'leave' }, 'left');
    await waiters[0]!.b.next('admitted');

    const page = await open();
    await consolePage(page, stack.url(), ADMIN_TOKEN);
    await page.locator(`#sales tbody tr[data-id="${sale.id}"]`).click();
    await page.locator('#est-recent tbody tr').first().waitFor({ timeout: 15_000 });
    expect(await page.locator('#est-brier').textContent()).toMatch(/^0\.\d{3}$/);
    expect(await page.locator('#est-coverage').textContent()).toMatch(/^\d{1,3}\s%$/);
    expect(await page.locator('#est-actual').textContent()).toMatch(/^\d+\.\d\s+s$/);
    expect(await page.locator('#est-outcomes').textContent()).toMatch(/^\d+ admitted, 0 missed \(sold out or ended\), 0 left, [3-5] still waiting\.$/);
    expect(await page.locator('#est-n').textContent()).toMatch(/^\([4-6] buyers recorded\)$/);
    expect(await page.locator('#est-bands tbody tr').count()).toBeGreaterThanOrEqual(1);
    await page.locator('#estimates').scrollIntoViewIfNeeded();
    await screenshot(page, 'console-estimates-desktop');
  });
});
