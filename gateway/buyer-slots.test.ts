import { describe, expect, it } from 'vitest';
import { BuyerSlots } from './buyer-slots.js';

describe('BuyerSlots', () => {
  it('gives a buyer at most max slots, and a released slot can be taken again', () => {
    const s = new BuyerSlots(4);
    const taken = Array.from({ length: 12 }, () => s.take('b1'));
    expect(taken.filter(Boolean)).toHaveLength(4);
    expect(taken.slice(0, 4)).toEqual([true, true, true, true]);
    expect(s.take('b2')).toBe(true);
    s.release('b1');
    expect(s.of('b1')).toBe(3);
    expect(s.take('b1')).toBe(true);
    expect(s.take('b1')).toBe(false);
  });

  it('keeps no entry for a buyer with no slot, and a release too many does not go negative', () => {
    const s = new BuyerSlots(2);
    s.take('b1');
    s.release('b1');
    s.release('b1');
    expect(s.of('b1')).toBe(0);
    expect(s.buyers()).toBe(0);
    expect([s.take('b1'), s.take('b1'), s.take('b1')]).toEqual([true, true, false]);
  });
});
