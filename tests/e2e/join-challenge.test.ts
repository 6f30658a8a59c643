import { describe, expect, it } from 'vitest';
import type { Stack } from '../helpers/stack.js';
import { uniqueId } from '../helpers/env.js';
import { proofMeets, solveChallenge } from '../../gateway/join-challenge.js';
import { Buyers, useStack, createSale, stats, type Frame } from './kit.js';

let stack: Stack;
let buyers: Buyers;
useStack((s, b) => ((stack = s), (buyers = b)));

const isAnswer = (f: Frame) => f.type === 'queued' || f.type === 'admitted' || f.type === 'error';

describe('proof-of-work join (joinChallengeBits)', () => {
  it('challenges each socket, refuses a join without a good proof, queues one with it, and a PATCH to 0 lifts it live', async () => {
    // Starts in an hour: every join is a pre-queue place, so stats.waiting counts exactly the places taken.
    const sale = await createSale(stack, { stock: 5, joinChallengeBits: 12, startsAt: new Date(Date.now() + 3600_000).toISOString() });
    expect(sale.joinChallengeBits).toBe(12);

    const a = await buyers.connect(sale.id);
    const ch = await a.next('challenge');
    expect(ch).toEqual({ type: 'challenge', nonce: expect.stringMatching(/^[A-Za-z0-9_-]{22}$/), bits: 12 });
    // The challenge comes first, before the sale frame (a client joining on the sale frame has it).
    expect(a.frames.map((f) => f.type).slice(0, 2)).toEqual(['challenge', 'sale']);

    // No proof, a wrong proof, a proof for another nonce: refused, and no place taken.
    const noProof = await a.request({ type: 'join' }, isAnswer);
    expect(noProof).toMatchObject({ type: 'error', code: 'challenge_failed' });
    let wrong = '0';
    while (proofMeets(ch.nonce, wrong, 12)) wrong = String(Number(wrong) + 1);
    expect(await a.request({ type: 'join', proof: wrong }, isAnswer)).toMatchObject({ type: 'error', code: 'challenge_failed' });
    const other = solveChallenge(`${ch.nonce}x`, 12).proof;
    if (!proofMeets(ch.nonce, other, 12)) {
      expect(await a.request({ type: 'join', proof: other }, isAnswer)).toMatchObject({ type: 'error', code: 'challenge_failed' });
    }
    expect((await stats(stack, sale.id)).waiting).toBe(0);

    // The solved proof: a place. A join again needs no proof (the same place, not a second one).
    const { proof } = solveChallenge(ch.nonce, 12);
    const queued = await a.request({ type: 'join', proof }, isAnswer);
    expect(queued).toMatchObject({ type: 'queued', position: 1 });
    expect(await a.request({ type: 'join' }, isAnswer)).toMatchObject({ type: 'queued', position: 1 });
    expect((await stats(stack, sale.id)).waiting).toBe(1);

    // A reconnect is a new socket with a new nonce: the old proof is worth nothing there.
    const again = await buyers.connect(sale.id, a.buyer);
    const ch2 = await again.next('challenge');
    // Its state comes back by itself first (the contract's reconnect), then the refused join.
    await again.next('queued');
    expect(ch2.nonce).not.toBe(ch.nonce);
    if (!proofMeets(ch2.nonce, proof, 12)) {
      expect(await again.request({ type: 'join', proof }, isAnswer)).toMatchObject({ type: 'error', code: 'challenge_failed' });
    }

    // A second buyer challenged at 12 bits who has not answered yet.
    const pending = await buyers.connect(sale.id, uniqueId('buyer'));
    await pending.next('challenge');
    expect((await stats(stack, sale.id)).waiting).toBe(1);

    // PATCH to 0. The gateway hears it on the sale's events (a fresh sale frame to its sockets): from
    // then on new sockets get no challenge and join plainly, and a pending challenge is lifted too.
    const from = pending.frames.length;
    const patched = await stack.admin('PATCH', `/v1/admin/sales/${sale.id}`, { joinChallengeBits: 0 });
    expect(patched.status).toBe(200);
    expect(patched.body.joinChallengeBits).toBe(0);
    await pending.next('sale', 10_000, from);

    const plain = await buyers.connect(sale.id, uniqueId('buyer'));
    expect(await plain.request({ type: 'join' }, isAnswer)).toMatchObject({ type: 'queued' });
    expect(plain.frames.some((f) => f.type === 'challenge')).toBe(false);
    expect(await pending.request({ type: 'join' }, isAnswer)).toMatchObject({ type: 'queued' });
    expect((await stats(stack, sale.id)).waiting).toBe(3);
  });

  it('a sale without joinChallengeBits sends no challenge; a socket opened then is challenged when bits are raised', async () => {
    const sale = await createSale(stack, { stock: 5, startsAt: new Date(Date.now() + 3600_000).toISOString() });
    expect(sale.joinChallengeBits).toBe(0);
    const early = await buyers.connect(sale.id);
    await early.request({ type: 'status' }, 'sale');
    expect(early.frames.some((f) => f.type === 'challenge')).toBe(false);

    const from = early.frames.length;
    const r = await stack.admin('PATCH', `/v1/admin/sales/${sale.id}`, { joinChallengeBits: 8 });
    expect(r.status).toBe(200);
    await early.next('sale', 10_000, from);
    // Never challenged: the join is refused and the challenge sent now, at the new bits.
    expect(await early.request({ type: 'join' }, isAnswer)).toMatchObject({ type: 'error', code: 'challenge_failed' });
    const ch = await early.next('challenge', 10_000, from);
    expect(ch.bits).toBe(8);
    expect(await early.request({ type: 'join', proof: solveChallenge(ch.nonce, 8).proof }, isAnswer)).toMatchObject({ type: 'queued' });
    expect((await stats(stack, sale.id)).waiting).toBe(1);

    const bad = await stack.admin('PATCH', `/v1/admin/sales/${sale.id}`, { joinChallengeBits: 25 });
    expect(bad.status).toBe(400);
  });
});
