import { describe, expect, it } from 'vitest';
import { formatLine, makeLine, parseLine } from './json-line.js';
import { forDuration } from './infra.js';

describe('bench JSON line', () => {
  it('has exactly the six keys in order, and the ratio of value to baseline', () => {
    const line = formatLine(makeLine('reserve', 20000.123, 'reservations/s', 'postgres-conditional-update', 1500));
    expect(Object.keys(JSON.parse(line))).toEqual(['bench', 'value', 'unit', 'baseline', 'baseline_value', 'ratio']);
    expect(JSON.parse(line)).toEqual({ bench: 'reserve', value: 20000.12, unit: 'reservations/s', baseline: 'postgres-conditional-update', baseline_value: 1500, ratio: 13.333 });
    expect(line).not.toContain('\n');
  });

  it('refuses what a reader could not use', () => {
    expect(() => makeLine('Bad Name', 1, 'x', 'y', 1)).toThrow();
    expect(() => makeLine('ok', Number.NaN, 'x', 'y', 1)).toThrow();
    expect(() => parseLine('{"bench":"a","value":1,"unit":"u","baseline":"b","baseline_value":1}')).toThrow();
    expect(() => parseLine('{"bench":"a","value":1,"unit":"u","baseline":"b","baseline_value":1,"ratio":1,"extra":2}')).toThrow();
    expect(parseLine(formatLine(makeLine('a', 3, 'u', 'b', 0))).ratio).toBe(0);
  });

  it('forDuration runs its loops until the time is up and counts successes', async () => {
    let calls = 0;
    let wins = 0;
    const loops = new Set<number>();
    const r = await forDuration(4, 60, async (loop, i) => {
      calls++;
      loops.add(loop);
      await new Promise((res) => setTimeout(res, 5));
      if (i % 2 === 0) wins++;
      return i % 2 === 0;
    });
    expect(r.spanMs).toBeGreaterThanOrEqual(60);
    expect(loops).toEqual(new Set([0, 1, 2, 3]));
    expect(calls).toBeGreaterThanOrEqual(8);
    expect(r.ok).toBe(wins);
  });
});
