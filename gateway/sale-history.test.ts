import { describe, expect, it } from 'vitest';
import type { SaleStats } from '../admission/sale-schema.js';
import { HISTORY_SAMPLES, SaleHistory, SampleRing } from './sale-history.js';

const sample = (at: number) => ({ at, available: at, held: 0, paying: 0, sold: 0, waiting: 0 });
const stats = (available: number): SaleStats => ({ state: 'open', stock: 10, available, held: 0, paying: 0, sold: 10 - available, waiting: 0, admitted: 0, expired: 0 });

describe('the console history ring', () => {
  it('keeps the newest 300 samples, oldest first, whatever was pushed', () => {
    const ring = new SampleRing();
    for (let i = 1; i <= 1000; i++) ring.push(sample(i));
    expect(ring.length).toBe(HISTORY_SAMPLES);
    const list = ring.list();
    expect(list).toHaveLength(300);
    expect(list[0]!.at).toBe(701);
    expect(list[299]!.at).toBe(1000);
    expect(new SampleRing(3).list()).toEqual([]);
  });

  it('sends on connect only the samples of the last five minutes, one event per sale; a sale gone is dropped', () => {
    const h = new SaleHistory(300, 1000);
    const now = 1_000_000;
    for (let t = now - 400_000; t <= now; t += 1000) h.add('a', t, stats(5));
    h.add('old', now - 310_000, stats(1));
    const chunks = h.chunks(now);
    expect(chunks).toHaveLength(1);
    const data = JSON.parse(/^data: (.*)$/m.exec(chunks[0]!)![1]!);
    expect(data.id).toBe('a');
    expect(data.samples).toHaveLength(300);
    expect(data.samples[0].at).toBe(now - 299_000);
    h.retain(new Set());
    expect(h.chunks(now)).toEqual([]);
  });
});
