import { describe, expect, it } from 'vitest';
import { SaleCache } from './context.js';
import type { Sale } from '../admission/sale-schema.js';

/** A sale store whose reads are answered by hand, counting them. */
function store() {
  const reads: { id: string; answer: (s: Sale | null) => void; fail: (e: Error) => void }[] = [];
  return {
    reads,
    get: (id: string) => new Promise<Sale | null>((answer, fail) => reads.push({ id, answer, fail })),
  };
}
const sale = (name: string) => ({ id: 's1', name }) as unknown as Sale;

describe('SaleCache', () => {
  it('shares one read among everyone who asks while it is in flight (no stampede on the pool)', async () => {
    const s = store();
    const cache = new SaleCache(s);
    const asks = Array.from({ length: 1000 }, () => cache.get('s1'));
    expect(s.reads).toHaveLength(1);
    s.reads[0]!.answer(sale('a'));
    expect((await Promise.all(asks)).every((x) => x?.name === 'a')).toBe(true);
    // Fresh now: no read at all.
    expect((await cache.get('s1'))?.name).toBe('a');
    expect(s.reads).toHaveLength(1);
    expect(cache.isKnown('s1')).toBe(true);
  });

  it('reads again once the entry is older than its time to live', async () => {
    const s = store();
    const cache = new SaleCache(s, 0);
    const first = cache.get('s1');
    s.reads[0]!.answer(sale('a'));
    await first;
    const second = cache.get('s1');
    expect(s.reads).toHaveLength(2);
    s.reads[1]!.answer(sale('b'));
    expect((await second)?.name).toBe('b');
  });

  it('a read in flight when the sale is forgotten answers its askers but is not kept', async () => {
    const s = store();
    const cache = new SaleCache(s);
    const before = cache.get('s1');
    cache.forget('s1');
    const after = cache.get('s1');
    expect(s.reads).toHaveLength(2);
    s.reads[1]!.answer(sale('new'));
    s.reads[0]!.answer(sale('old'));
    expect((await before)?.name).toBe('old');
    expect((await after)?.name).toBe('new');
    expect((await cache.get('s1'))?.name).toBe('new');
    expect(s.reads).toHaveLength(2);
  });

  it('a failed read fails its askers and the next ask reads again', async () => {
    const s = store();
    const cache = new SaleCache(s);
    const asks = [cache.get('s1'), cache.get('s1')];
    s.reads[0]!.fail(new Error('pool timeout'));
    for (const a of asks) await expect(a).rejects.toThrow('pool timeout');
    const again = cache.get('s1');
    expect(s.reads).toHaveLength(2);
    s.reads[1]!.answer(null);
    expect(await again).toBeNull();
    expect(cache.isKnown('s1')).toBe(false);
  });

  it('keeps nothing for ids that do not exist once their answer has expired (a bounded negative cache)', async () => {
    const s = store();
    const cache = new SaleCache(s, 1000);
    const asks: Promise<Sale | null>[] = [];
    // Within one second: the misses are kept (repeats are answered without a read), at most ~2x.
    for (let i = 0; i < 3000; i++) asks.push(cache.get(`nope-${i}`));
    for (const r of s.reads) r.answer(null);
    expect((await Promise.all(asks)).every((x) => x === null)).toBe(true);
    expect(cache.isKnown('nope-1')).toBe(false);
    const now = Date.now();
    expect(cache.size()).toBeLessThanOrEqual(3000);
    // Once expired they are gone, and a later stream of new ids never holds more than about twice the
    // ids of the last second.
    const later = (ms: number) => now + ms;
    const reads = (cache as unknown as { reads: { size(n: number): number; get(id: string, n: number): Promise<unknown> } }).reads;
    expect(reads.size(later(1001))).toBe(0);
    let most = 0;
    for (let i = 0; i < 10_000; i++) {
      void reads.get(`later-${i}`, later(2000 + i));
      most = Math.max(most, (reads as unknown as { entries: Map<string, unknown> }).entries.size);
    }
    for (const r of s.reads) r.answer(null);
    expect(most).toBeLessThanOrEqual(2 * 1000 + 64);
  });
});
