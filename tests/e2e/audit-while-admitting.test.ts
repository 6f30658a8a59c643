import { describe, expect, it } from 'vitest';
import type { Stack } from '../helpers/stack.js';
import { Buyers, useStack, createSale, expectCleanAudit } from './kit.js';

let stack: Stack;
let buyers: Buyers;
useStack((s, b) => ((stack = s), (buyers = b)));

/*
 * OPEN BUG (admission/sale-audit.ts, not gateway/): the audit reads the pool counters, then the orders,
 * then lists the holds, each at a different moment. While the admitter takes units in between, it
 * reports problems that are not there ("pool 0: 3 held holds but counter says 0"), so an operator
 * watching a live sale sees false alarms. A fix: read each pool's counters and its holds in one
 * atomic step (one Lua call or MULTI per pool slot), or re-check and report only what persists.
 */
describe('the audit of a sale being admitted', () => {
  it('reports no problem that is not there', async () => {
    // About four seconds of admissions at 40 a second, four pools.
    const sale = await createSale(stack, { stock: 150, pools: 4, admitPerSecond: 40 });
    const all = await Promise.all(Array.from({ length: 150 }, () => buyers.connect(sale.id)));
    for (const b of all) b.send({ type: 'join' });
    let finished = false;
    const admitted = Promise.all(all.map((b) => b.next('admitted', 30_000))).finally(() => (finished = true));
    const problems = new Set<string>();
    let audits = 0;
    while (!finished) {
      const r = await stack.admin('GET', `/v1/admin/sales/${sale.id}/audit`);
      audits++;
      for (const p of r.body.problems as string[]) problems.add(p);
    }
    await admitted;
    expect(audits).toBeGreaterThan(5);
    expect([...problems], `${problems.size} distinct problems in ${audits} audits during admissions`).toEqual([]);
    await expectCleanAudit(stack, sale.id, { held: 150, available: 0 });
  });
});
