import { describe, expect, it } from 'vitest';
import { createSale, useStack, type Buyers } from '../e2e/kit.js';
import { uniqueId } from '../helpers/env.js';
import type { Stack } from '../helpers/stack.js';
import { buyerPage, DEMO_STACK, headline, PHONE, screenshot, usePages } from './browser.js';

let stack: Stack;
let buyers: Buyers;
useStack((s, b) => { stack = s; buyers = b; }, DEMO_STACK);
const { open } = usePages();

describe('the buyer page tells its chance', () => {
  it('a place far behind the units left is told early it is unlikely; a near place is not', async () => {
    // Two units, both held: every unit a waiter gets must come back from a holder who does not pay.
    const sale = await createSale(stack, { stock: 2, maxActiveHolds: 2, holdSeconds: 120 });
    await buyers.holding(sale.id);
    await buyers.holding(sale.id);
    const near = await open();
    await buyerPage(near, stack.url(), sale.id, uniqueId('near'));
    await near.getByRole('button', { name: 'Join the queue' }).click();
    await headline(near, 'You are in line');
    for (let i = 0; i < 15; i++) await buyers.queued(sale.id);
    const far = await open(PHONE);
    await buyerPage(far, stack.url(), sale.id, uniqueId('far'));
    await far.getByRole('button', { name: 'Join the queue' }).click();
    await headline(far, 'You are in line');

    const unlikely = far.locator('#unlikely');
    await unlikely.waitFor({ state: 'visible' });
    expect(await unlikely.textContent()).toMatch(/^Unlikely — .*keep your place in case of a restock, or leave\.$/);
    expect(await far.locator('#chance').textContent()).toMatch(/^Chance a unit is left for your place: (under 1|[0-4])\s%\.$/);
    expect(await far.locator('#eta-range').textContent()).toMatch(/^8 times in 10 the wait from this place is \d+ (s|min) to \d+ (s|min)\.$/);
    await screenshot(far, 'buyer-unlikely-phone');

    // The first place may well get a unit back: its chance is shown, without the warning.
    expect(await near.locator('#position').textContent()).toBe('1');
    await near.locator('#chance').waitFor({ state: 'visible' });
    const shown = Number(/(\d+)\s%/.exec((await near.locator('#chance').textContent())!)![1]);
    expect(shown).toBeGreaterThanOrEqual(5);
    expect(await near.locator('#unlikely').isVisible()).toBe(false);

    // Leaving ends the place: the estimate lines go with it.
    await far.getByRole('button', { name: 'Leave' }).click();
    await far.locator('#chance-box').waitFor({ state: 'hidden' });
  });
});
