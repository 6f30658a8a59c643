import { createHash, createHmac, randomBytes } from 'node:crypto';

/**
 * The proof-of-work of a join (contract: `challenge` frame, `join` with `proof`). A socket's nonce is
 * not stored: it is derived from the socket's challenge id (a small integer kept in SocketData) with an
 * HMAC under a secret drawn at the process's start, so a waiting socket keeps two small integers, not
 * a string. Ids are never reused within a process and the secret is never reused across processes, so
 * every socket's nonce is fresh and unpredictable; a proof found for one socket is worthless on another
 * (a reconnect is a new socket, with a new id).
 *
 * The check hashes once (SHA-256 of nonce + proof, both UTF-8) and counts the digest's leading zero
 * bits. It stops counting at the first non-zero byte: that timing says only how many leading zeros the
 * sender's own hash has, which the sender can compute anyway (nothing secret goes into it; the HMAC
 * secret only makes the nonce, which the socket is sent).
 */
export class JoinChallenges {
  private readonly secret: Buffer;
  private lastId = 0;

  constructor(secret: Buffer = randomBytes(32)) {
    this.secret = secret;
  }

  /** A new challenge id (>= 1); ids stay small integers for 2^30 sockets per process. */
  nextId(): number {
    this.lastId += 1;
    return this.lastId;
  }

  /** The nonce of challenge `id`: 16 bytes of HMAC-SHA256(secret, id), base64url (22 characters). */
  nonce(id: number): string {
    return createHmac('sha256', this.secret).update(String(id)).digest().subarray(0, 16).toString('base64url');
  }

  /** Whether `proof` answers challenge `id` at `bits`. */
  check(id: number, proof: string, bits: number): boolean {
    return proofMeets(this.nonce(id), proof, bits);
  }
}

/** Leading zero bits of a byte string (0..8 * length). */
export function leadingZeroBits(digest: Uint8Array): number {
  let n = 0;
  for (const byte of digest) {
    if (byte === 0) {
      n += 8;
      continue;
    }
    return n + Math.clz32(byte) - 24;
  }
  return n;
}

/** SHA-256(nonce + proof) starts with at least `bits` zero bits; 0 bits is always met. */
export function proofMeets(nonce: string, proof: string, bits: number): boolean {
  if (bits <= 0) return true;
  return leadingZeroBits(createHash('sha256').update(nonce + proof).digest()) >= bits;
}

/**
 * Finds a proof for `nonce` at `bits` by counting up from `start` (decimal strings): about 2^bits
 * hashes on average. For clients and tools (the Node load generators, tests, the bench); the buyer
 * page does the same with WebCrypto in a Web Worker.
 */
/**
 * solveChallenge in slices of `slice` hashes with a turn of the event loop between them: a client
 * holding many sockets on one thread (the load runners) keeps reading and answering its other
 * sockets while one of them solves, as each real buyer's own device would.
 */
export async function solveChallengeInSlices(nonce: string, bits: number, slice = 2048): Promise<{ proof: string; hashes: number }> {
  for (let i = 0; ; i += slice) {
    for (let j = i; j < i + slice; j++) {
      const proof = String(j);
      if (proofMeets(nonce, proof, bits)) return { proof, hashes: j + 1 };
    }
    await new Promise<void>((r) => setImmediate(r));
  }
}

export function solveChallenge(nonce: string, bits: number, start = 0): { proof: string; hashes: number } {
  for (let i = start; ; i++) {
    const proof = String(i);
    if (proofMeets(nonce, proof, bits)) return { proof, hashes: i - start + 1 };
  }
}
