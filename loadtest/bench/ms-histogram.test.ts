import { describe, expect, it } from 'vitest';
import { figures, mergeSparse, msHistogram, record, toSparse } from './ms-histogram.js';

describe('ms histogram (position ages of many sockets)', () => {
  it('gives nearest-rank percentiles as bucket upper edges, and the share within a bound', () => {
    const h = msHistogram();
    for (let i = 0; i < 98; i++) record(h, 500 + i); // 500..597 ms
    record(h, 1_004);
    record(h, 2_500);
    const f = figures(h, 1000);
    expect(f).toMatchObject({ n: 100, p50: 550, max: 2510 });
    expect(f.p99).toBe(1010);
    expect(f.shareWithin).toBe(0.98);
  });

  it('merges the sparse forms of several processes by adding, with an overflow bucket past 60 s', () => {
    const a = msHistogram();
    const b = msHistogram();
    record(a, 5);
    record(b, 5);
    record(b, 90_000);
    const m = mergeSparse([toSparse(a), toSparse(b)]);
    expect(figures(m, 100)).toMatchObject({ n: 3, p50: 10, max: 60_010 });
    expect(toSparse(a)).toEqual([[0, 1]]);
  });

  it('is empty without samples', () => {
    expect(figures(msHistogram(), 1000)).toEqual({ n: 0, p50: 0, p99: 0, max: 0, shareWithin: 0 });
  });
});
