import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { checkDraw, drawScore, estimateQuality, type DrawBuyer } from './draw-check.js';

const key = 'k-secret';
const commitment = createHash('sha256').update(key).digest('hex');
const ids = ['a', 'b', 'c', 'd'];
const order = ids.map((id) => drawScore(key, id)).sort();
const buyers: DrawBuyer[] = ids.map((id) => ({ id, commitment, ticket: order.indexOf(drawScore(key, id)) + 1 }));

describe('checkDraw', () => {
  it('verifies every buyer whose ticket carries their score under the committed key', () => {
    expect(checkDraw({ commitment, key, order }, [...buyers, { id: 'late', commitment, ticket: 5 }, { id: 'none' }])).toEqual({
      published: true, keyMatches: true, sorted: true, commitmentMismatch: 0, inDraw: 4, verified: 4, mismatched: [], afterDraw: 1, outOfArrivalOrder: 0, noTicket: 1, drawn: 4,
    });
  });

  it('catches a swapped ticket, a key that is not the committed one, an unsorted order and another commitment', () => {
    const swapped = buyers.map((b) => (b.id === 'a' ? { ...b, ticket: b.ticket === 1 ? 2 : 1 } : b));
    expect(checkDraw({ commitment, key, order }, swapped).mismatched).toEqual(['a']);
    const other = checkDraw({ commitment, key: 'another', order }, buyers);
    expect(other.keyMatches).toBe(false);
    expect(other.verified).toBe(0);
    expect(checkDraw({ commitment, key, order: [...order].reverse() }, []).sorted).toBe(false);
    expect(checkDraw({ commitment, key, order }, [{ ...buyers[0]!, commitment: 'f'.repeat(64) }]).commitmentMismatch).toBe(1);
  });

  it('after the draw, tickets follow the order joins were answered in (within the in-flight slack)', () => {
    const late = (id: string, ticket: number, joinedAt: number): DrawBuyer => ({ id, commitment, ticket, joinedAt });
    expect(checkDraw({ commitment, key, order }, [late('e', 5, 1000), late('f', 6, 1100), late('g', 7, 1050), late('h', 8, 2000)]).outOfArrivalOrder).toBe(0);
    // h was placed at 2000 ms, yet i, answered 1.5 s earlier, holds a later ticket.
    expect(checkDraw({ commitment, key, order }, [late('e', 5, 1000), late('h', 6, 2000), late('i', 7, 500)]).outOfArrivalOrder).toBe(1);
  });

  it('before the seal nothing is verified', () => {
    const c = checkDraw({ commitment }, buyers);
    expect(c).toMatchObject({ published: false, keyMatches: false, verified: 0 });
    expect(c.afterDraw).toBe(buyers.length);
  });
});

describe('estimateQuality', () => {
  it('counts admitted waits inside the shown interval and scores chance with Brier', () => {
    const q = estimateQuality([
      { id: '1', estimate: { at: 0, chance: 1, etaRange: [1, 3] }, admittedAt: 2000 },
      { id: '2', estimate: { at: 0, chance: 0.5, etaRange: [1, 3] }, admittedAt: 5000 },
      { id: '3', estimate: { at: 0, chance: 0 } },
      { id: '4' },
    ]);
    expect(q).toEqual({ estimates: 3, admitted: 2, withRange: 2, inRange: 1, coverage: 0.5, brier: 0.083, meanChance: 0.5, admittedShare: 0.667 });
  });
});
