import { describe, expect, it } from 'vitest';
import { createSale, useStack, type Buyers } from '../e2e/kit.js';
import { uniqueId } from '../helpers/env.js';
import type { Stack } from '../helpers/stack.js';
import { buyerPage, DEMO_STACK, headline, usePages } from './browser.js';

let stack: Stack;
let buyers: Buyers;
useStack((s, b) => { stack = s; buyers = b; }, DEMO_STACK);
const { open } = usePages();

describe('"verify my place" on the buyer page', () => {
  it('after the start the page checks the published key and order against what it saw; a wrong commitment is a mismatch', async () => {
    const startsAt = Date.now() + 8000;
    const sale = await createSale(stack, { stock: 10, startsAt: new Date(startsAt).toISOString() });
    await Promise.all([0, 1, 2].map(() => buyers.queued(sale.id)));
    const good = await open();
    const bad = await open();
    for (const page of [good, bad]) {
      await buyerPage(page, stack.url(), sale.id, uniqueId('vp'));
      await page.getByRole('button', { name: 'Join the queue' }).click();
      await headline(page, 'You are in line');
    }
    // Paused before the start: nobody is admitted, so the page's buyer is still in line with a ticket after the draw.
    expect((await stack.admin('POST', `/v1/admin/sales/${sale.id}/pause`)).status).toBe(200);
    expect(Date.now()).toBeLessThan(startsAt);
    expect(await good.evaluate((id) => sessionStorage.getItem('fsCommitment:' + id), sale.id)).toBe(sale.prequeueCommitment);
    // This tab "saw" another commitment before the start: the published key must not pass for it.
    await bad.evaluate((id) => sessionStorage.setItem('fsCommitment:' + id, '0'.repeat(64)), sale.id);

    await good.locator('#verify[data-result="ok"]').waitFor({ timeout: 20_000 });
    expect(await good.locator('#verify-result').textContent()).toMatch(/^Verified: ticket [1-5] of 5 in the draw/);
    await bad.locator('#verify[data-result="mismatch"]').waitFor({ timeout: 20_000 });
    expect(await bad.locator('#verify-result').textContent()).toMatch(/not the one committed/);
    // The button checks again on demand, with the same answer.
    await good.getByRole('button', { name: 'Verify my place' }).click();
    await good.locator('#verify[data-result="ok"]').waitFor();
  });
});
