import { describe, expect, it } from 'vitest';
import type { SaleStats } from '../admission/sale-schema.js';
import { holdsByAge, projectSellOut, ratePerSecond } from './live-stats.js';

const stats = (over: Partial<SaleStats> = {}): SaleStats => ({
  state: 'open', stock: 100, available: 60, held: 10, paying: 5, sold: 25, waiting: 0, admitted: 40, expired: 0, ...over,
});

describe('live stats arithmetic', () => {
  it('rates are per second over the samples inside the window, oldest to newest', () => {
    const s = [{ at: 0, admitted: 0, sold: 0 }, { at: 4000, admitted: 40, sold: 8 }, { at: 8000, admitted: 100, sold: 20 }];
    expect(ratePerSecond(s, 'admitted', 8000)).toBe(12.5);
    expect(ratePerSecond(s, 'sold', 8000)).toBe(2.5);
    // Only the samples of the last 5 s count: (100 - 40) / 4 s.
    expect(ratePerSecond(s, 'admitted', 8000, 5000)).toBe(15);
    expect(ratePerSecond(s.slice(0, 1), 'admitted', 0)).toBe(0);
  });

  it('holds fall into quarters of the hold time by age; overdue and future deadlines are clamped', () => {
    const now = 1_000_000;
    const hold = (ageSeconds: number, state: 'held' | 'paying' = 'held') => ({ state, deadline: now + (120 - ageSeconds) * 1000 });
    const b = holdsByAge([hold(0), hold(29), hold(30), hold(95, 'paying'), hold(200), hold(-10)], 120, now);
    expect(b).toEqual([
      { fromSeconds: 0, toSeconds: 30, held: 3, paying: 0 },
      { fromSeconds: 30, toSeconds: 60, held: 1, paying: 0 },
      { fromSeconds: 60, toSeconds: 90, held: 0, paying: 0 },
      { fromSeconds: 90, toSeconds: 120, held: 1, paying: 1 },
    ]);
  });

  it('sell-out is projected from the sold rate; none when sold out, ended or nothing sells', () => {
    expect(projectSellOut(stats(), 5, 0)).toBe(new Date(15_000).toISOString());
    expect(projectSellOut(stats(), 0, 0)).toBeNull();
    expect(projectSellOut(stats({ state: 'sold_out' }), 5, 0)).toBeNull();
    expect(projectSellOut(stats({ state: 'ended' }), 5, 0)).toBeNull();
  });
});
