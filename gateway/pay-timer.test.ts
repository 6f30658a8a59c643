import { describe, expect, it } from 'vitest';
import { metrics } from '../shared/metrics.js';
import { PayTimer } from './pay-timer.js';

const count = async () => (await metrics.payToConfirmed.get()).values.find((v) => v.metricName?.endsWith('_count'))?.value ?? 0;
const sum = async () => (await metrics.payToConfirmed.get()).values.find((v) => v.metricName?.endsWith('_sum'))?.value ?? 0;

describe('pay → confirmed timing', () => {
  it('observes once per confirmed hold, from the pay frame received to the confirmation sent', async () => {
    const t = new PayTimer();
    const before = await count();
    const sumBefore = await sum();
    t.start('hold_0_a', 1_000_000_000n);
    t.confirmed('hold_0_a', 3_500_000_000n);
    t.confirmed('hold_0_a', 9_000_000_000n); // a second copy of the frame (two tabs) is not a second sale
    expect(await count()).toBe(before + 1);
    expect((await sum()) - sumBefore).toBeCloseTo(2.5, 6);
    expect(t.size).toBe(0);
  });

  it('a retried pay restarts the clock; a hold that ends unpaid is not observed', async () => {
    const t = new PayTimer();
    const sumBefore = await sum();
    t.start('hold_0_b', 1_000_000_000n);
    t.start('hold_0_b', 4_000_000_000n);
    t.confirmed('hold_0_b', 5_000_000_000n);
    expect((await sum()) - sumBefore).toBeCloseTo(1, 6);
    const before = await count();
    t.start('hold_0_c', 1n);
    t.forget('hold_0_c');
    t.confirmed('hold_0_c');
    expect(await count()).toBe(before);
  });

  it('forgets pays that never hear back, so the map stays bounded', () => {
    const t = new PayTimer();
    t.start('hold_0_old', 0n);
    t.start('hold_0_new', 20n * 60n * 1_000_000_000n);
    t.sweep(20n * 60n * 1_000_000_000n);
    expect(t.size).toBe(1);
  });
});
