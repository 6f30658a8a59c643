import { afterAll, describe, expect, it } from 'vitest';
import { saleInput, services, uniqueId } from '../tests/helpers/env.js';
import { EstimateLog } from './estimate-log.js';

const s = services();
afterAll(() => s.close());
const p = (at: number, chance: number) => ({ at, chance, etaSeconds: 10, etaRange: [5, 20] as [number, number] });

describe('EstimateLog (record-estimates-1, settle-estimates-1): first prediction per buyer, its outcome', () => {
  it('keeps the first prediction per buyer, at most `cap` buyers; an admission settles a record once', async () => {
    const sale = await s.sales.create(saleInput({ stock: 5 }));
    const log = new EstimateLog(s.redis, s.prefix, 3);
    log.record(sale.id, 'ann', p(1000, 0.9));
    log.record(sale.id, 'ann', p(1500, 0.1)); // the same turn: the first one stays
    log.record(sale.id, 'bob', p(1000, 0.5));
    await log.flush();
    log.record(sale.id, 'ann', p(2000, 0.2)); // a later turn (another tab or gateway): still the first
    log.record(sale.id, 'cy', p(2000, 0.3));
    log.record(sale.id, 'dee', p(2000, 0.3)); // over the cap of 3: not kept
    await log.flush();
    await log.settle(sale.id, ['ann', 'zed'], 11_000); // zed has no record: nothing happens
    await log.settle(sale.id, ['ann'], 99_000); // a second admission of ann is not the predicted place
    const recs = await log.records(sale.id, false);
    expect(recs.map((r) => r.chance).sort()).toEqual([0.3, 0.5, 0.9]);
    const ann = recs.find((r) => r.chance === 0.9)!;
    expect(ann).toMatchObject({ at: 1000, outcome: { kind: 'admitted', at: 11_000 } });
    expect(recs.filter((r) => r.outcome.kind === 'pending')).toHaveLength(2);
  });

  it('at report time: a buyer who left is not scored, and waiters become missed once the sale is closed', async () => {
    const sale = await s.sales.create(saleInput({ stock: 1 }));
    const stayer = uniqueId('stay');
    const leaver = uniqueId('leave');
    const first = uniqueId('first');
    for (const b of [first, stayer, leaver]) await s.room.join(sale.id, b);
    await s.room.leave(sale.id, leaver);
    const log = new EstimateLog(s.redis, s.prefix);
    for (const b of [first, stayer, leaver]) log.record(sale.id, b, p(0, 0.5));
    await log.flush();
    await log.settle(sale.id, [first], 4000);
    const q = await log.quality(sale.id, true);
    expect(q).toMatchObject({ predictions: 3, resolved: 2, admitted: 1, missed: 1, left: 1, brier: 0.25, coverage: 0 });
    expect((await log.quality(sale.id, false))).toMatchObject({ resolved: 1, missed: 0 });
  });
});
