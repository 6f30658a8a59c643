import { describe, expect, it } from 'vitest';
import type { Stack } from '../helpers/stack.js';
import type { BuyerSocket } from '../helpers/buyer.js';
import { Buyers, createSale, expectCleanAudit, stats, useStack } from '../e2e/kit.js';
import { seededRandom } from '../helpers/seeded-random.js';

/**
 * 10,000 malformed frames from 42 sockets: random text, random binary, truncated JSON, wrong types,
 * strings up to and over MAX_FRAME_BYTES, `__proto__` / `constructor` / `prototype` keys, unknown
 * types, deep nesting, pay frames for holds that do not exist. 40 sockets send at ~19 frames/s (under
 * the 20/s budget, so their frames reach the parser), 2 send theirs at once (so most are refused
 * `rate_limited`); every frame must be answered by exactly one `error` frame, and both kinds are
 * counted. Meanwhile a well-behaved buyer connects, joins and is admitted, and a buyer who held a unit
 * before is never disconnected. After: the process is up, stock and stats moved only by that one
 * admission, no charge, the audit is clean.
 */
let stack: Stack;
let buyers: Buyers;
useStack((s, b) => ((stack = s), (buyers = b)));

const PACED_SOCKETS = 40;
const PACED_FRAMES = 225;
const BURST = 15;
const BURST_EVERY_MS = 800;
const FLOOD_SOCKETS = 2;
const FLOOD_FRAMES = 500;
const TOTAL = PACED_SOCKETS * PACED_FRAMES + FLOOD_SOCKETS * FLOOD_FRAMES;
const MAX_FRAME_BYTES = 4096;

const prng = seededRandom;

type Bad = string | Buffer;

/** The kinds of bad frame, each a function of a random source. */
const KINDS: ((r: () => number) => Bad)[] = [
  // Random text (valid UTF-8, mostly not JSON; some of it happens to be a JSON number).
  (r) => Array.from({ length: 1 + Math.floor(r() * 200) }, () => String.fromCodePoint(32 + Math.floor(r() * 0x2000))).join(''),
  // Random bytes in a binary frame.
  (r) => Buffer.from(Array.from({ length: 1 + Math.floor(r() * 300) }, () => Math.floor(r() * 256))),
  // Truncated JSON of a real frame.
  (r) => {
    const whole = JSON.stringify({ type: 'pay', holdId: 'hold_1_2_abc', paymentMethod: 'pm_card_visa' });
    return whole.slice(0, 1 + Math.floor(r() * (whole.length - 2)));
  },
  // Wrong types.
  (r) => JSON.stringify([{ type: 1 }, { type: null }, { type: ['join'] }, { type: { type: 'join' } }, { type: 'pay', holdId: 5, paymentMethod: {} },
    { type: 'join', proof: 123 }, { type: true }, { type: 'status', n: 1e308 }][Math.floor(r() * 8)]),
  // Strings up to the limit (one JSON value just under MAX_FRAME_BYTES) and over it (up to 60 KiB).
  (r) => JSON.stringify({ type: 'x'.repeat(MAX_FRAME_BYTES - 20 - Math.floor(r() * 100)) }),
  (r) => JSON.stringify({ type: 'join', pad: 'y'.repeat(MAX_FRAME_BYTES + Math.floor(r() * 56 * 1024)) }),
  // Prototype keys.
  (r) => ['{"__proto__":{"type":"join"}}', '{"type":"status","__proto__":{"admin":true}}', '{"constructor":{"prototype":{"type":"join"}}}',
    '{"type":"join","constructor":1}', '{"prototype":{"type":"leave"}}', '{"type":"join","__proto__":null}',
    '{"__proto__":{"__proto__":{"type":"pay"}},"type":"pay"}'][Math.floor(r() * 7)]!,
  // Unknown types.
  (r) => JSON.stringify({ type: ['admin', 'JOIN', 'join ', 'restock', 'sold_out', 'admitted', '', 'leave\u0000'][Math.floor(r() * 8)] }),
  // Deep nesting inside the size limit.
  (r) => {
    const depth = 100 + Math.floor(r() * 1800);
    return r() < 0.5 ? '['.repeat(depth) + ']'.repeat(depth) : '{"a":'.repeat(Math.floor(depth / 3)) + '1' + '}'.repeat(Math.floor(depth / 3));
  },
  // A well-formed pay for a hold that does not exist (a Redis read, refused hold_not_found).
  (r) => JSON.stringify({ type: 'pay', holdId: `hold_${Math.floor(r() * 1e9)}_nothere`, paymentMethod: 'pm_card_visa' }),
];

/** The codes a bad frame may earn. */
const CODES = new Set(['invalid_json', 'invalid_frame', 'binary_not_supported', 'payload_too_large', 'hold_not_found', 'rate_limited']);

const isError = (f: { type: string }) => f.type === 'error';
const errorsOf = (b: BuyerSocket, from: number) => b.frames.slice(from).filter(isError);

async function sendAll(b: BuyerSocket, frames: Bad[], burst: number, everyMs: number): Promise<void> {
  for (let i = 0; i < frames.length; i += burst) {
    for (const f of frames.slice(i, i + burst)) b.ws.send(f, { binary: Buffer.isBuffer(f) });
    // Pacing to stay under the frame budget (not a wait for something to happen).
    if (i + burst < frames.length) await new Promise((res) => setTimeout(res, everyMs));
  }
}

describe('malformed frames', () => {
  it(`${TOTAL} malformed frames: each answered by one error frame, nobody else disconnected, nothing changed`, async () => {
    const sale = await createSale(stack, { stock: 3 });
    const holder = await buyers.holding(sale.id);
    const before = await stats(stack, sale.id);
    const charges = stack.standIn.charges().length;

    const paced = await Promise.all(Array.from({ length: PACED_SOCKETS }, () => buyers.connect(sale.id)));
    const flood = await Promise.all(Array.from({ length: FLOOD_SOCKETS }, () => buyers.connect(sale.id)));
    const r = prng(42);
    const framesOf = (n: number) => Array.from({ length: n }, () => KINDS[Math.floor(r() * KINDS.length)]!(r));
    const plan = [
      ...paced.map((b) => ({ b, frames: framesOf(PACED_FRAMES), burst: BURST })),
      ...flood.map((b) => ({ b, frames: framesOf(FLOOD_FRAMES), burst: FLOOD_FRAMES })),
    ];
    expect(plan.reduce((n, p) => n + p.frames.length, 0)).toBe(TOTAL);
    const from = new Map(plan.map((p) => [p.b, p.b.frames.length]));

    const sending = Promise.all(plan.map((p) => sendAll(p.b, p.frames, p.burst, BURST_EVERY_MS)));
    // A well-behaved buyer, meanwhile: connects, joins, is admitted.
    const good = await buyers.holding(sale.id);
    await sending;
    // Every frame answered: as many error frames as frames sent, on each socket.
    await Promise.all(plan.map((p) => p.b.next(() => errorsOf(p.b, from.get(p.b)!).length >= p.frames.length, 30_000, from.get(p.b))));

    const counts: Record<string, number> = {};
    for (const p of plan) {
      const got = p.b.frames.slice(from.get(p.b));
      // Only error frames came in answer, one per frame.
      expect(got.filter((f) => !isError(f))).toEqual([]);
      expect(got).toHaveLength(p.frames.length);
      for (const f of got) {
        expect(Object.keys(f).sort()).toEqual(['code', 'message', 'type']);
        expect(CODES.has(f.code), f.code).toBe(true);
        counts[f.code] = (counts[f.code] ?? 0) + 1;
      }
      expect(p.b.ws.readyState).toBe(p.b.ws.OPEN);
    }
    console.log(`malformed frames: ${TOTAL} sent from ${plan.length} sockets, answered ${JSON.stringify(counts)}`);
    expect(Object.values(counts).reduce((a, b) => a + b, 0)).toBe(TOTAL);
    // The paced sockets' frames reached the parser: every kind of refusal is seen, and most frames
    // are parsed, not rate limited (the flood sockets' are, past their first 20).
    for (const code of ['invalid_json', 'invalid_frame', 'binary_not_supported', 'payload_too_large', 'hold_not_found', 'rate_limited']) expect(counts[code], code).toBeGreaterThan(0);
    expect(counts.rate_limited!).toBeLessThan(TOTAL / 4);

    // No prototype was polluted: an empty object is still not a join, and status is answered.
    const probe = paced[0]!;
    expect(await probe.request('{}', 'error')).toMatchObject({ code: 'invalid_frame' });
    expect(await probe.request({ type: 'status' }, 'sale')).toMatchObject({ state: 'open' });

    // Nobody else was disconnected; the process is up; only the good buyer's admission moved stock.
    expect(stack.gateways[0]!.alive()).toBe(true);
    expect((await fetch(stack.url('/healthz'))).status).toBe(200);
    for (const b of [holder.b, good.b]) {
      expect(b.ws.readyState).toBe(b.ws.OPEN);
      expect(b.frames.filter(isError)).toEqual([]);
    }
    expect(await holder.b.request({ type: 'status' }, 'admitted')).toMatchObject({ holdId: holder.holdId });
    expect(await good.b.request({ type: 'status' }, 'admitted')).toMatchObject({ holdId: good.holdId });
    expect(await stats(stack, sale.id)).toEqual({ ...before, available: before.available - 1, held: before.held + 1, admitted: before.admitted + 1 });
    expect(stack.standIn.charges().length).toBe(charges);
    await expectCleanAudit(stack, sale.id, { held: 2, sold: 0, orders: 0 });
  });

  it('absurd frames close that socket only (uWS drops the connection: 1006 at the client): over 64 KiB, invalid UTF-8 in a text frame', async () => {
    const sale = await createSale(stack, { stock: 1 });
    const bystander = await buyers.holding(sale.id);
    const big = await buyers.connect(sale.id);
    big.ws.send('z'.repeat(65 * 1024));
    const bad = await buyers.connect(sale.id);
    bad.ws.send(Buffer.from([0x7b, 0xc3, 0x28, 0x7d]), { binary: false });
    const codes = [await big.closed, await bad.closed];
    console.log(`absurd frames: close codes seen by the client ${JSON.stringify(codes)}`);
    for (const code of codes) expect(code).toBeGreaterThan(1000);
    expect(big.frames.filter(isError)).toEqual([]);
    expect(bystander.b.ws.readyState).toBe(bystander.b.ws.OPEN);
    expect(await bystander.b.request({ type: 'status' }, 'admitted')).toMatchObject({ holdId: bystander.holdId });
  });
});
