import { describe, expect, it } from 'vitest';
import { OpenFrames, type ReadFrame } from './open-frames.js';

function reader() {
  const reads: { answer: (r: ReadFrame) => void; fail: (e: Error) => void }[] = [];
  return { reads, read: () => new Promise<ReadFrame>((answer, fail) => reads.push({ answer, fail })) };
}
const T0 = 1_000_000;

describe('OpenFrames: the sale frame of opening sockets', () => {
  it('is read once for every socket that opens within a second, including those that opened during the read', async () => {
    const r = reader();
    const f = new OpenFrames(r.read, 1000);
    const during = [f.get('s1', T0), f.get('s1', T0 + 5)];
    expect(r.reads).toHaveLength(1);
    r.reads[0]!.answer({ frame: 'A', changesAt: Number.POSITIVE_INFINITY });
    expect(await Promise.all(during)).toEqual(['A', 'A']);
    expect(await f.get('s1', T0 + 999)).toBe('A');
    expect(r.reads).toHaveLength(1);
    const later = f.get('s1', T0 + 1000);
    expect(r.reads).toHaveLength(2);
    r.reads[1]!.answer({ frame: 'B', changesAt: Number.POSITIVE_INFINITY });
    expect(await later).toBe('B');
  });

  it('is not used once the clock reaches the sale\'s start or end (the state moves by time)', async () => {
    const r = reader();
    const f = new OpenFrames(r.read, 1000);
    const first = f.get('s1', T0);
    r.reads[0]!.answer({ frame: 'scheduled', changesAt: T0 + 300 });
    expect(await first).toBe('scheduled');
    expect(await f.get('s1', T0 + 299)).toBe('scheduled');
    const atStart = f.get('s1', T0 + 300);
    expect(r.reads).toHaveLength(2);
    r.reads[1]!.answer({ frame: 'open', changesAt: T0 + 60_000 });
    expect(await atStart).toBe('open');
  });

  it('is read again after forget (a state event), and a read started before it is not kept for later sockets', async () => {
    const r = reader();
    const f = new OpenFrames(r.read, 1000);
    const before = f.get('s1', T0);
    f.forget('s1');
    const after = f.get('s1', T0 + 1);
    expect(r.reads).toHaveLength(2);
    r.reads[1]!.answer({ frame: 'sold_out', changesAt: Number.POSITIVE_INFINITY });
    r.reads[0]!.answer({ frame: 'open', changesAt: Number.POSITIVE_INFINITY });
    expect(await before).toBe('open');
    expect(await after).toBe('sold_out');
    expect(await f.get('s1', T0 + 2)).toBe('sold_out');
    expect(r.reads).toHaveLength(2);
  });

  it('keeps no failed read: the sockets that shared it fail, the next one reads again', async () => {
    const r = reader();
    const f = new OpenFrames(r.read, 1000);
    const shared = [f.get('s1', T0), f.get('s1', T0)];
    r.reads[0]!.fail(new Error('redis down'));
    for (const p of shared) await expect(p).rejects.toThrow('redis down');
    const next = f.get('s1', T0 + 1);
    expect(r.reads).toHaveLength(2);
    r.reads[1]!.answer({ frame: null, changesAt: Number.POSITIVE_INFINITY });
    expect(await next).toBeNull();
  });
});
