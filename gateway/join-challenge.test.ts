import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { JoinChallenges, leadingZeroBits, proofMeets, solveChallenge } from './join-challenge.js';
import { buyerFrame } from './buyer-frames.js';

describe('leadingZeroBits', () => {
  it('counts whole zero bytes and the zeros of the first non-zero byte', () => {
    expect(leadingZeroBits(Uint8Array.from([0x80, 0]))).toBe(0);
    expect(leadingZeroBits(Uint8Array.from([0x7f, 0]))).toBe(1);
    expect(leadingZeroBits(Uint8Array.from([0x01, 0xff]))).toBe(7);
    expect(leadingZeroBits(Uint8Array.from([0x00, 0x80]))).toBe(8);
    expect(leadingZeroBits(Uint8Array.from([0x00, 0x00, 0x01]))).toBe(23);
    expect(leadingZeroBits(Uint8Array.from([0x00, 0x00, 0x00, 0xff]))).toBe(24);
    expect(leadingZeroBits(new Uint8Array(32))).toBe(256);
    expect(leadingZeroBits(new Uint8Array(0))).toBe(0);
  });
});

describe('proofMeets', () => {
  it('0 bits is off: anything passes, even an empty proof', () => {
    expect(proofMeets('n', '', 0)).toBe(true);
    expect(proofMeets('n', 'whatever', 0)).toBe(true);
  });

  it('a solved proof meets its bits exactly at the hash it was found for, and a wrong one does not', () => {
    const nonce = 'AAAAAAAAAAAAAAAAAAAAAA';
    for (const bits of [1, 4, 8, 12]) {
      const { proof } = solveChallenge(nonce, bits);
      const have = leadingZeroBits(createHash('sha256').update(nonce + proof).digest());
      expect(have).toBeGreaterThanOrEqual(bits);
      expect(proofMeets(nonce, proof, bits)).toBe(true);
      expect(proofMeets(nonce, proof, have)).toBe(true);
      // One bit more than the hash has fails: the count is exact, not rounded to bytes.
      expect(proofMeets(nonce, proof, have + 1)).toBe(false);
    }
    // The first counter value below the solution did not meet it (the solver returns the first).
    const { proof } = solveChallenge(nonce, 12);
    for (let i = 0; i < Number(proof); i++) expect(proofMeets(nonce, String(i), 12)).toBe(false);
  });

  it('a proof found for one nonce is no proof for another', () => {
    // Fixed nonces, so the outcome is the same every run; a bug that ignores the nonce would pass all 20.
    let passedElsewhere = 0;
    for (let k = 0; k < 20; k++) {
      const { proof } = solveChallenge(`nonce-a-${k}`, 12);
      if (proofMeets(`nonce-b-${k}`, proof, 12)) passedElsewhere++;
    }
    expect(passedElsewhere).toBe(0);
  });
});

describe('JoinChallenges', () => {
  it('derives a fresh 22-character base64url nonce per id, and per process secret', () => {
    const a = new JoinChallenges();
    const b = new JoinChallenges();
    const ids = [a.nextId(), a.nextId(), a.nextId()];
    expect(ids).toEqual([1, 2, 3]);
    const nonces = ids.map((id) => a.nonce(id));
    for (const n of nonces) expect(n).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(new Set(nonces).size).toBe(3);
    // The same id in another process (another secret) is another nonce: ids are not guessable nonces.
    expect(b.nonce(1)).not.toBe(a.nonce(1));
    // Stable for one id: nothing per socket is stored, so it must be the same at the check.
    expect(a.nonce(2)).toBe(nonces[1]);
  });

  it('checks a proof against the socket\'s own nonce: solved for id 1 passes for id 1 only', () => {
    // A fixed secret, so the case is the same every run (a random one could pass id 2 by chance, 1 in 4096).
    const c = new JoinChallenges(Buffer.alloc(32, 7));
    const id1 = c.nextId();
    const id2 = c.nextId();
    const { proof } = solveChallenge(c.nonce(id1), 12);
    expect(c.check(id1, proof, 12)).toBe(true);
    expect(c.check(id1, 'not-a-proof', 12)).toBe(false);
    expect(c.check(id2, proof, 12)).toBe(false);
    expect(c.check(id2, proof, 0)).toBe(true);
  });
});

describe('the join frame', () => {
  it('takes an optional printable proof of at most 128 characters', () => {
    expect(buyerFrame.safeParse({ type: 'join' }).success).toBe(true);
    expect(buyerFrame.safeParse({ type: 'join', proof: '12345' }).success).toBe(true);
    expect(buyerFrame.safeParse({ type: 'join', proof: '' }).success).toBe(false);
    expect(buyerFrame.safeParse({ type: 'join', proof: 'a'.repeat(129) }).success).toBe(false);
    expect(buyerFrame.safeParse({ type: 'join', proof: 'a b' }).success).toBe(false);
    expect(buyerFrame.safeParse({ type: 'join', proof: 5 }).success).toBe(false);
  });
});
