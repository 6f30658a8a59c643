import { JoinChallenges, solveChallenge } from '../../gateway/join-challenge.js';
import { buyerFrame } from '../../gateway/buyer-frames.js';
import { makeLine, type BenchLine } from './json-line.js';
import type { BenchContext } from './infra.js';

/**
 * pow: the proof-of-work join's asymmetry. What a client spends to solve a challenge at 16 and 20
 * bits (median over several nonces, node:crypto in this thread: a phone's WebCrypto is slower), each
 * against what the gateway spends to check one proof (nonce derived by HMAC, one SHA-256, bits
 * counted). And the check against what the gateway already spends on every join frame (JSON.parse and
 * the zod schema), so its cost per join is seen in proportion.
 */
function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

/** µs per call of `fn`, best of 5 rounds (the least disturbed by the rest of the machine). */
function usPerCall(n: number, fn: (i: number) => void): number {
  let best = Number.POSITIVE_INFINITY;
  for (let round = 0; round < 5; round++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < n; i++) fn(i);
    best = Math.min(best, Number(process.hrtime.bigint() - t0) / 1000 / n);
  }
  return best;
}

export async function powBench(ctx: BenchContext): Promise<BenchLine[]> {
  const challenges = new JoinChallenges();
  // The check: proofs solved beforehand (at 12 bits, cheap), checked at their bits; all must pass.
  const ids = Array.from({ length: 64 }, () => challenges.nextId());
  const proofs = ids.map((id) => solveChallenge(challenges.nonce(id), 12).proof);
  let passed = 0;
  const checkUs = usPerCall(ctx.quick ? 20_000 : 100_000, (i) => {
    if (challenges.check(ids[i & 63]!, proofs[i & 63]!, 12)) passed++;
  });
  if (passed === 0) throw new Error('no proof passed the check: the bench measures nothing');
  const frame = Buffer.from(JSON.stringify({ type: 'join', proof: '123456' }));
  const parseUs = usPerCall(ctx.quick ? 20_000 : 100_000, () => {
    buyerFrame.parse(JSON.parse(frame.toString('utf8')));
  });

  const lines: BenchLine[] = [];
  for (const bits of [16, 20]) {
    const nonces = ctx.quick ? (bits === 16 ? 7 : 3) : (bits === 16 ? 21 : 9);
    const ms: number[] = [];
    const hashes: number[] = [];
    for (let k = 0; k < nonces; k++) {
      const nonce = challenges.nonce(challenges.nextId());
      const t0 = performance.now();
      hashes.push(solveChallenge(nonce, bits).hashes);
      ms.push(performance.now() - t0);
    }
    const solveMs = median(ms);
    ctx.note(`pow: ${bits} bits: solve median ${solveMs.toFixed(1)} ms over ${nonces} nonces (median ${median(hashes)} hashes, ~${Math.round(median(hashes) / solveMs)} hashes/ms; expected 2^${bits} = ${2 ** bits}); check ${checkUs.toFixed(2)} µs`);
    // Both in µs so the ratio reads as "client work per unit of gateway work".
    lines.push(makeLine(`pow-solve-${bits}`, solveMs * 1000, 'µs client solve (median)', 'gateway check of one proof, µs', checkUs));
  }
  ctx.note(`pow: check ${checkUs.toFixed(2)} µs per proof vs ${parseUs.toFixed(2)} µs to parse and validate the join frame`);
  lines.push(makeLine('pow-check', checkUs, 'µs per proof checked', 'JSON.parse + zod of the join frame, µs', parseUs));
  return lines;
}
