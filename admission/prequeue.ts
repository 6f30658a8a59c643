import { createHash, createHmac } from 'node:crypto';

/**
 * The verifiable pre-queue (contract: `GET /v1/sales/{id}/prequeue`). Each sale has a secret key,
 * fixed at creation; its SHA-256 (the commitment) is public from the start, the key itself once the
 * shuffle is sealed. A pre-queue buyer's place is decided by their score, which anyone holding the key
 * can recompute: no one (us included) can reorder the shuffle without the published order failing the check.
 */

/** Hex SHA-256 of the key string: published from creation, before anyone can know the key. */
export function prequeueCommitment(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

/** The first 13 hex digits (52 bits: exact in a Lua number) of HMAC-SHA256(key, buyer id). */
export function prequeueScore(key: string, buyer: string): string {
  return createHmac('sha256', Buffer.from(key, 'utf8')).update(buyer, 'utf8').digest('hex').slice(0, 13);
}
