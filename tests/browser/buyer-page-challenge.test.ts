import { describe, expect, it } from 'vitest';
import { createSale, stats, useStack } from '../e2e/kit.js';
import { uniqueId } from '../helpers/env.js';
import type { Stack } from '../helpers/stack.js';
import { buyerPage, DEMO_STACK, headline, PHONE, usePages } from './browser.js';

let stack: Stack;
useStack((s) => { stack = s; }, DEMO_STACK);
const { open } = usePages();

describe('the buyer page with a join challenge (joinChallengeBits)', () => {
  it('solves the proof-of-work in a Web Worker, shows its progress line, and joins with the proof', async () => {
    // 14 bits: about 16k hashes, long enough to see the line, short enough for a loaded machine.
    const sale = await createSale(stack, { stock: 3, holdSeconds: 120, joinChallengeBits: 14 });
    const page = await open(PHONE);
    const workers: string[] = [];
    page.on('worker', (w) => workers.push(w.url()));
    await buyerPage(page, stack.url(), sale.id, uniqueId('pow'));
    // The join is clicked at once: the page sends it when the proof is found, not before.
    await page.getByRole('button', { name: 'Join the queue' }).click();
    await page.locator('#pow', { hasText: /not a bot|Checked/ }).waitFor();
    await headline(page, 'Your item is held for you');
    expect(await page.locator('#pow').textContent()).toMatch(/^Checked: [\d,]+ hashes/);
    expect(workers.some((u) => u.endsWith('/assets/pow-worker.js'))).toBe(true);
    // No join was refused on the way: the gateway counted no challenge_failed.
    const metrics = await (await fetch(stack.url('/metrics'))).text();
    expect(metrics).not.toMatch(/fs_ws_errors_total\{code="challenge_failed"\} [1-9]/);
    expect((await stats(stack, sale.id)).held).toBe(1);
  });
});
