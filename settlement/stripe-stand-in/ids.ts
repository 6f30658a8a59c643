import { randomInt } from 'node:crypto';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** Random alphanumerics from a CSPRNG, so ids never collide across restarts in practice. */
export function randomAlnum(length: number): string {
  let out = '';
  for (let i = 0; i < length; i++) out += ALPHABET[randomInt(ALPHABET.length)];
  return out;
}

/** Stripe-shaped object id, e.g. `pi_` + 24 alphanumerics. */
export const stripeId = (prefix: string, length = 24): string => `${prefix}_${randomAlnum(length)}`;
