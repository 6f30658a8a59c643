import { z } from 'zod';
import { prequeueCommitment as prequeueCommitmentOf } from './prequeue.js';

/** Proof-of-work asked of a join, in leading zero bits: 24 is ~16.7M hashes, seconds on a phone. */
export const MAX_CHALLENGE_BITS = 24;

/** A sale id (contract: `[a-z0-9-]{1,64}`); a URL's id that does not match is no sale. */
export const SALE_ID = /^[a-z0-9-]{1,64}$/;

/** The contract's sale, as operators send it. Unknown fields are refused so a typo is not ignored. */
export const saleInput = z
  .object({
    id: z.string().regex(SALE_ID, 'id must match [a-z0-9-]{1,64}').optional(),
    name: z.string().trim().min(1).max(200),
    sku: z.string().trim().min(1).max(64),
    price: z.object({
      amount: z.number().int().positive().max(100_000_000),
      currency: z.string().regex(/^[a-z]{3}$/, 'currency is an ISO-4217 code in lower case, e.g. "eur"'),
    }).strict(),
    stock: z.number().int().positive().max(10_000_000),
    pools: z.number().int().min(1).max(64).default(1),
    startsAt: z.iso.datetime({ offset: true }).optional(),
    endsAt: z.iso.datetime({ offset: true }).optional(),
    admitPerSecond: z.number().int().min(1).max(100_000).default(100),
    maxActiveHolds: z.number().int().min(1).max(1_000_000).default(1000),
    holdSeconds: z.number().int().min(1).max(86_400).default(300),
    perBuyerLimit: z.number().int().min(1).max(100).default(1),
    /** Joins within this many seconds after the start are shuffled with the pre-queue. */
    lotteryWindowSeconds: z.number().int().min(0).max(3600).default(0),
    joinChallengeBits: z.number().int().min(0).max(MAX_CHALLENGE_BITS).default(0),
  })
  .strict()
  .refine((s) => s.pools <= s.stock, { message: 'pools must not exceed stock', path: ['pools'] });

export const salePatch = z
  .object({
    admitPerSecond: z.number().int().min(1).max(100_000),
    maxActiveHolds: z.number().int().min(1).max(1_000_000),
    holdSeconds: z.number().int().min(1).max(86_400),
    endsAt: z.iso.datetime({ offset: true }),
    lotteryWindowSeconds: z.number().int().min(0).max(3600),
    joinChallengeBits: z.number().int().min(0).max(MAX_CHALLENGE_BITS),
  })
  .partial()
  .strict()
  .refine((p) => Object.keys(p).length > 0, { message: 'give at least one of admitPerSecond, maxActiveHolds, holdSeconds, endsAt, lotteryWindowSeconds, joinChallengeBits' });

export const restockInput = z.object({ quantity: z.number().int().positive().max(10_000_000) }).strict();

/** Settings added after the first ones: callers that build a sale in code (tools, tests) may leave them out (their default). */
type AddedLater = 'joinChallengeBits' | 'lotteryWindowSeconds';
type ParsedSaleInput = z.infer<typeof saleInput>;
export type SaleInput = Omit<ParsedSaleInput, AddedLater> & Partial<Pick<ParsedSaleInput, AddedLater>>;
export type SalePatch = z.infer<typeof salePatch>;

export type SaleStatus = 'active' | 'paused' | 'ended';
export type SaleState = 'scheduled' | 'open' | 'paused' | 'sold_out' | 'ended';

/** A sale as stored (Postgres is the durable copy). */
export interface Sale {
  id: string;
  name: string;
  sku: string;
  price: { amount: number; currency: string };
  stock: number;
  pools: number;
  startsAt: string;
  endsAt: string;
  admitPerSecond: number;
  maxActiveHolds: number;
  holdSeconds: number;
  perBuyerLimit: number;
  /** Proof-of-work asked of each join (leading zero bits of SHA-256(nonce + proof)); 0 = off. */
  joinChallengeBits: number;
  status: SaleStatus;
  lotteryWindowSeconds: number;
  prequeueKey: string;
  /** Set while the sale cannot be reconciled with Redis: paused, and `resume` is refused. */
  quarantine?: { reason: string; since: string };
}

export interface SaleStats {
  state: SaleState;
  stock: number;
  available: number;
  held: number;
  paying: number;
  sold: number;
  waiting: number;
  admitted: number;
  expired: number;
}

/** When the pre-queue is sealed (shuffled into tickets) and its key published: the start plus the lottery window. */
export function sealAt(s: Pick<Sale, 'startsAt' | 'lotteryWindowSeconds'>): number {
  return Date.parse(s.startsAt) + s.lotteryWindowSeconds * 1000;
}

/**
 * The public view: the key's commitment from creation on, the pre-queue key itself only from the
 * seal on (verifiable shuffle: nobody can pick a buyer id knowing its score before the seal).
 */
export function publicSale(s: Sale, now = Date.now()) {
  const { prequeueKey, status: _status, ...rest } = s;
  const prequeueCommitment = prequeueCommitmentOf(prequeueKey);
  return sealAt(s) <= now ? { ...rest, prequeueCommitment, prequeueKey } : { ...rest, prequeueCommitment };
}

export function saleState(s: Pick<Sale, 'status' | 'startsAt' | 'endsAt'>, soldOut: boolean, now = Date.now()): SaleState {
  if (s.status === 'ended' || now >= Date.parse(s.endsAt)) return 'ended';
  if (soldOut) return 'sold_out';
  if (s.status === 'paused') return 'paused';
  if (now < Date.parse(s.startsAt)) return 'scheduled';
  return 'open';
}
