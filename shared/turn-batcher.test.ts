import { describe, expect, it } from 'vitest';
import { TurnBatcher } from './turn-batcher.js';

// The one batching helper of the waiting room's joins and settlement's group commit, alone: which
// items share a call, when a call leaves, and who hears of its errors.

/** A batcher whose calls are recorded; each call answers when the test says so. */
function recorded<I>(opts: { maxBatch: number; maxInFlight?: number; keyOf?: (i: I) => string; rowError?: (e: unknown) => boolean }) {
  const calls: { group: string; items: I[]; answer: (out: I[] | Error) => void }[] = [];
  const waiters: { n: number; wake: () => void }[] = [];
  const b = new TurnBatcher<I, I>({
    ...opts,
    run: (items, group) => new Promise<I[]>((resolve, reject) => {
      calls.push({ group, items: [...items], answer: (out) => (out instanceof Error ? reject(out) : resolve(out)) });
      for (const w of waiters.filter((x) => calls.length >= x.n)) w.wake();
    }),
  });
  /** Resolves once `n` calls have been made. */
  const made = (n: number) => new Promise<void>((wake) => (calls.length >= n ? wake() : waiters.push({ n, wake })));
  return { b, calls, made };
}

const turn = () => new Promise((r) => setImmediate(r));

describe('TurnBatcher', () => {
  it('the calls of one turn leave together at its end, one call per group, in the callers\' order', async () => {
    const { b, calls } = recorded<string>({ maxBatch: 10 });
    const out = [b.add('a1', 'A'), b.add('b1', 'B'), b.add('a2', 'A'), b.add('b2', 'B')];
    expect(calls).toHaveLength(0);
    await turn();
    expect(calls.map((c) => [c.group, c.items])).toEqual([['A', ['a1', 'a2']], ['B', ['b1', 'b2']]]);
    calls.forEach((c) => c.answer(c.items.map((i) => i.toUpperCase())));
    expect(await Promise.all(out)).toEqual(['A1', 'B1', 'A2', 'B2']);
  });

  it('a group reaching maxBatch leaves at once; flush sends what is queued now', async () => {
    const { b, calls } = recorded<number>({ maxBatch: 3 });
    const out = [1, 2, 3, 4].map((i) => b.add(i));
    expect(calls.map((c) => c.items)).toEqual([[1, 2, 3]]);
    b.flush();
    expect(calls.map((c) => c.items)).toEqual([[1, 2, 3], [4]]);
    calls.forEach((c) => c.answer(c.items));
    expect(await Promise.all(out)).toEqual([1, 2, 3, 4]);
    await turn();
    expect(calls).toHaveLength(2);
  });

  it('holds later callers while maxInFlight calls run, then sends them as one batch', async () => {
    const { b, calls, made } = recorded<number>({ maxBatch: 10, maxInFlight: 1 });
    const first = b.add(1);
    await turn();
    const later = [b.add(2), b.add(3)];
    await turn();
    expect(calls.map((c) => c.items)).toEqual([[1]]);
    calls[0]!.answer([1]);
    await first;
    await made(2);
    expect(calls.map((c) => c.items)).toEqual([[1], [2, 3]]);
    calls[1]!.answer([2, 3]);
    expect(await Promise.all(later)).toEqual([2, 3]);
  });

  it('items of one key never share a batch', async () => {
    const { b, calls, made } = recorded<{ k: string; v: number }>({ maxBatch: 10, maxInFlight: 1, keyOf: (i) => i.k });
    const out = [{ k: 'a', v: 1 }, { k: 'b', v: 2 }, { k: 'a', v: 3 }].map((i) => b.add(i));
    await turn();
    expect(calls.map((c) => c.items.map((i) => i.v))).toEqual([[1, 2]]);
    calls[0]!.answer(calls[0]!.items);
    await made(2);
    expect(calls.map((c) => c.items.map((i) => i.v))).toEqual([[1, 2], [3]]);
    calls[1]!.answer(calls[1]!.items);
    expect((await Promise.all(out)).map((i) => i.v)).toEqual([1, 2, 3]);
  });

  it('an error reaches every caller of its batch; a row error runs each item alone', async () => {
    const down = new Error('connection lost');
    const { b, calls, made } = recorded<number>({ maxBatch: 10, rowError: (e) => e === bad });
    const bad = new Error('row 13 is bad');
    const lost = Promise.allSettled([b.add(1), b.add(2)]);
    await turn();
    calls[0]!.answer(down);
    expect(await lost).toEqual([{ status: 'rejected', reason: down }, { status: 'rejected', reason: down }]);

    const mixed = Promise.allSettled([b.add(1), b.add(13)]);
    await turn();
    calls[1]!.answer(bad);
    await made(4);
    expect(calls.slice(2).map((c) => c.items)).toEqual([[1], [13]]);
    calls[2]!.answer([1]);
    calls[3]!.answer(bad);
    expect(await mixed).toEqual([{ status: 'fulfilled', value: 1 }, { status: 'rejected', reason: bad }]);
  });

  it('a call answering the wrong number of results fails its whole batch; a run that throws fails its batch, not add', async () => {
    const { b, calls } = recorded<number>({ maxBatch: 10 });
    const short = Promise.allSettled([b.add(1), b.add(2)]);
    await turn();
    calls[0]!.answer([1]);
    expect((await short).map((r) => r.status)).toEqual(['rejected', 'rejected']);

    const thrown = new Error('thrown before any promise');
    const t = new TurnBatcher<number, number>({ maxBatch: 10, run: () => { throw thrown; } });
    expect(await Promise.allSettled([t.add(1)])).toEqual([{ status: 'rejected', reason: thrown }]);
  });
});
