import { describe, expect, it } from 'vitest';
import { bestSplit, describeSpread, isEvenSpread, masterOfSlot, poolsPerMaster, takeCeiling, type SlotRanges } from './cluster-spread.js';

const ranges: SlotRanges = [
  [0, 5460, ['127.0.0.1', 7001, 'a']],
  [5461, 10922, ['127.0.0.1', 7002, 'b'], ['127.0.0.1', 7005, 'e']],
  [10923, 16383, ['127.0.0.1', 7003, 'c']],
];

describe('cluster bench: where a sale\'s pools land', () => {
  it('finds the master of a slot at both ends of each range, and refuses an unserved slot', () => {
    expect([0, 5460, 5461, 10922, 10923, 16383].map((s) => masterOfSlot(ranges, s))).toEqual([7001, 7001, 7002, 7002, 7003, 7003]);
    expect(() => masterOfSlot(ranges.slice(0, 2), 16000)).toThrow(/slot 16000/);
  });

  it('groups pools by master, lists a master with none, and says whether the spread is even', () => {
    const even = poolsPerMaster([7001, 7002, 7003, 7001, 7002, 7003], [7001, 7002, 7003]);
    expect(even.get(7001)).toEqual([0, 3]);
    expect(isEvenSpread(even)).toBe(true);
    expect(describeSpread(even)).toBe('7001: pools 0,3 · 7002: pools 1,4 · 7003: pools 2,5');
    const lopsided = poolsPerMaster([7001, 7001, 7001, 7002], [7001, 7002, 7003]);
    expect(lopsided.get(7003)).toEqual([]);
    expect(isEvenSpread(lopsided)).toBe(false);
    expect(describeSpread(lopsided)).toContain('7003: no pool');
    expect(isEvenSpread(poolsPerMaster([7001, 7002, 7003, 7001], [7001, 7002, 7003]))).toBe(true);
    expect(() => poolsPerMaster([7009], [7001])).toThrow(/7009/);
  });
});

describe('cluster bench: what a measured cost per take allows on N cores', () => {
  // Redis 20 µs and the client 30 µs per take: one Redis core does 50,000/s, one client core 33,333/s.
  const cost = { clientUs: 30, redisUs: 20 };

  it('is the lesser of the shards\' ceiling and the clients\' on the cores left', () => {
    expect(takeCeiling(cost, 1, 2)).toBeCloseTo(33_333, 0); // the client's one core is the limit
    expect(takeCeiling(cost, 1, 8)).toBe(50_000); // a single Redis: its one core, however many cores
    expect(takeCeiling(cost, 3, 8)).toBeCloseTo(150_000, 0); // 3 shards; 5 client cores would do 166,667
    expect(takeCeiling(cost, 4, 8)).toBeCloseTo(133_333, 0); // now the 4 client cores are the limit
    expect(takeCeiling(cost, 2, 2)).toBe(0); // no core left for a client
  });

  it('picks the shard count with the highest ceiling', () => {
    expect(bestSplit(cost, 8)).toEqual({ shards: 3, perSecond: 150_000 });
    expect(bestSplit(cost, 2).shards).toBe(1);
    expect(bestSplit({ clientUs: 0, redisUs: 20 }, 8).perSecond).toBe(0);
  });
});
