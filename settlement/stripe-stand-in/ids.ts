import { randomFillSync } from 'node:crypto';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
// Bytes at or above this are skipped, so that every character is equally likely (248 = 4 × 62).
const UNBIASED_BELOW = 256 - (256 % ALPHABET.length);
// CSPRNG bytes drawn a few KB at a time: one call serves many ids (a request makes three or four).
const pool = Buffer.alloc(4096);
let next = pool.length;

function randomByte(): number {
  if (next === pool.length) {
    randomFillSync(pool);
    next = 0;
  }
  return pool[next++]!;
}

/** Random alphanumerics from a CSPRNG, so ids never collide across restarts in practice. */
export function randomAlnum(length: number): string {
  let out = '';
  while (out.length < length) {
    const b = randomByte();
    if (b < UNBIASED_BELOW) out += ALPHABET[b % ALPHABET.length];
  }
  return out;
}

/** Stripe-shaped object id, e.g. `pi_` + 24 alphanumerics. */
export const stripeId = (prefix: string, length = 24): string => `${prefix}_${randomAlnum(length)}`;
