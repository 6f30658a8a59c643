import { describe, expect, it } from 'vitest';
import type { Stack } from '../helpers/stack.js';
import { Buyers, createSale, expectCleanAudit, stats, useStack } from './kit.js';

// A slow admitter tick (5 s) so the sweeper cannot be the one that expires the hold in this test.
let stack: Stack;
let buyers: Buyers;
useStack((s, b) => ((stack = s), (buyers = b)), { env: { TICK_MS: '5000' } });

async function sweeperExpiries(saleId: string): Promise<number> {
  const text = await (await fetch(stack.url('/metrics'))).text();
  const m = new RegExp(`^fs_holds_expired_total\\{sale="${saleId}"\\} (\\d+)`, 'm').exec(text);
  return m ? Number(m[1]) : 0;
}

describe('pay after the hold deadline, before the sweeper ran', () => {
  it('is refused with hold_ended and the buyer is told hold_expired at once; the unit is back', async () => {
    const sale = await createSale(stack, { stock: 1, holdSeconds: 1 });
    const { b, holdId, expiresAt } = await buyers.holding(sale.id);
    // No event marks a passing deadline: wait for the clock itself.
    await new Promise((r) => setTimeout(r, Math.max(0, Date.parse(expiresAt) - Date.now()) + 100));
    const from = b.frames.length;
    b.send({ type: 'pay', holdId, paymentMethod: 'pm_card_visa' });
    const refused = await b.next((f) => f.type === 'error', 3000, from);
    expect(refused.code).toBe('hold_ended');
    const expired = await b.next('hold_expired', 3000, from);
    expect(expired.holdId).toBe(holdId);
    expect(await sweeperExpiries(sale.id)).toBe(0);
    expect(await stats(stack, sale.id)).toMatchObject({ available: 1, held: 0, paying: 0, sold: 0 });
    expect(stack.standIn.charges().filter((c) => c.metadata.holdId === holdId)).toHaveLength(0);
    await expectCleanAudit(stack, sale.id);
  });
});
