import type { RedisClient } from '../shared/redis.js';
import { RedisCopyLostError } from '../shared/connection-errors.js';
import { TurnBatcher } from '../shared/turn-batcher.js';
import { poolOfHold } from '../inventory/keys.js';
import type { Inventory, Hold } from '../inventory/inventory-service.js';
import { AdmissionCode, AdmissionError, checkAdmission } from './errors.js';
import { saleKeys } from './keys.js';
import { AdmissionScripts, type JoinItem } from './scripts.js';

/** What a buyer has in a sale, read from Redis: the waiting-room record plus its hold's own state. */
export type BuyerView =
  | { kind: 'none' }
  | { kind: 'left' }
  | { kind: 'pre'; position: number }
  | { kind: 'waiting'; ticket: number; served: number }
  | { kind: 'admitting'; holdId: string; ticket: number }
  | { kind: 'sold_out' }
  | { kind: 'ended' }
  | { kind: 'held'; holdId: string; expiresAt: number }
  | { kind: 'paying'; holdId: string }
  | { kind: 'sold'; holdId: string; orderId: string }
  | { kind: 'expired'; holdId: string }
  | { kind: 'released'; holdId: string }
  /** The buyer's orders reached the sale's perBuyerLimit: no new place (join-4's reply `done`). */
  | { kind: 'limit_reached'; orders: number };

function holdView(h: Hold): BuyerView {
  switch (h.state) {
    case 'held': return { kind: 'held', holdId: h.holdId, expiresAt: h.deadline };
    case 'paying': return { kind: 'paying', holdId: h.holdId };
    case 'sold': return { kind: 'sold', holdId: h.holdId, orderId: h.orderId ?? '' };
    case 'expired': return { kind: 'expired', holdId: h.holdId };
    case 'released': return { kind: 'released', holdId: h.holdId };
  }
}

/**
 * Join, status and leave for one buyer. A buyer's place lives in the sale's slot and the hold in its
 * pool's slot, so a view is read in two steps; changes across the two are made in an order that
 * never gives a buyer two places or two holds (a new place only once the old hold has ended).
 */
export interface WaitingRoomOptions {
  /** Most joins and statuses of one sale sent in one script call (a burst is split into calls of this size). */
  maxBatch: number;
}

export const WAITING_ROOM_DEFAULTS: WaitingRoomOptions = { maxBatch: 128 };

type JoinReply = (string | number)[] | number;

export class WaitingRoom {
  readonly scripts: AdmissionScripts;
  readonly opts: WaitingRoomOptions;
  /**
   * One buyer's join-4 reply. Calls for one sale made in the same event-loop turn go to Redis as one
   * batched script call (the per-call cost, not the work inside, dominates a join), sent at the end of
   * the turn (or at once when a sale has maxBatch of them). Each caller gets its own reply or the
   * call's error; a batch keeps the callers' order, so it answers exactly as the same calls one by one
   * would. A code for the whole call (the sale is missing, sold out) answers every caller.
   */
  private readonly joins: TurnBatcher<JoinItem, JoinReply>;

  constructor(readonly redis: RedisClient, readonly prefix: string, readonly inventory: Inventory, opts: Partial<WaitingRoomOptions> = {}) {
    this.scripts = new AdmissionScripts(redis);
    this.opts = { ...WAITING_ROOM_DEFAULTS, ...opts };
    this.joins = new TurnBatcher<JoinItem, JoinReply>({
      run: async (items, saleId) => {
        const replies = await this.scripts.joinMany(saleKeys(this.prefix, saleId), items);
        return typeof replies === 'number' ? items.map(() => replies) : replies;
      },
      maxBatch: this.opts.maxBatch,
    });
  }

  private joinReply(saleId: string, item: JoinItem): Promise<JoinReply> {
    return this.joins.add(item, saleId);
  }

  private async view(saleId: string, buyer: string, mode: 'join' | 'status'): Promise<BuyerView> {
    const first = await this.joinReply(saleId, { buyer, mode, endedHoldId: '' });
    if (first === AdmissionCode.SoldOut) return { kind: 'sold_out' };
    let reply = checkAdmission(first);
    if (reply[0] !== 'holding') return this.simple(reply);
    const holdId = String(reply[1]);
    const hold = await this.inventory.getHold(saleId, holdId);
    const hv = hold ? holdView(hold) : await this.lostHold(saleId, holdId);
    if (mode === 'status' || hv.kind === 'held' || hv.kind === 'paying') return hv;
    // The hold ended (expired, released or sold): a join may take a new place if the limit allows.
    const again = await this.joinReply(saleId, { buyer, mode: 'join', endedHoldId: holdId });
    if (again === AdmissionCode.SoldOut) return hv;
    reply = checkAdmission(again);
    if (reply[0] === 'done' && hv.kind === 'sold') return hv;
    return this.simple(reply);
  }

  /**
   * The buyer's place names a hold its pool does not have: the pool's shard lost it (flushed, or back
   * from an older copy). Until the Redis guard has healed the pool from the ledger (it brings back every
   * hold being paid or sold) nothing can be said: "try again". Once healed, a hold still missing was
   * only held, and the heal gave its unit back: for the buyer, an expired hold.
   */
  private async lostHold(saleId: string, holdId: string): Promise<BuyerView> {
    const pool = poolOfHold(holdId);
    const healed = pool !== null && (await this.inventory.redis.hget(this.inventory.keys(saleId, pool).pool, 'gen')) !== null;
    if (!healed) throw new RedisCopyLostError(`the pool of hold ${holdId} of sale ${saleId} is not in Redis; the Redis guard heals it`);
    return { kind: 'expired', holdId };
  }

  private simple(reply: (string | number)[]): BuyerView {
    switch (reply[0]) {
      case 'pre': return { kind: 'pre', position: Number(reply[1]) };
      case 'waiting': return { kind: 'waiting', ticket: Number(reply[1]), served: Number(reply[2]) };
      case 'admitting': return { kind: 'admitting', holdId: String(reply[1]), ticket: Number(reply[2]) };
      case 'sold_out': return { kind: 'sold_out' };
      case 'ended': return { kind: 'ended' };
      case 'done': return { kind: 'limit_reached', orders: Number(reply[1]) };
      case 'left': return { kind: 'left' };
      case 'none': return { kind: 'none' };
      default: throw new Error(`unexpected join reply ${String(reply[0])}`);
    }
  }

  /** Takes a place, or returns the one the buyer already has (idempotent). */
  join(saleId: string, buyer: string): Promise<BuyerView> {
    return this.view(saleId, buyer, 'join');
  }

  status(saleId: string, buyer: string): Promise<BuyerView> {
    return this.view(saleId, buyer, 'status');
  }

  /**
   * Gives up a place or a hold. A held unit goes back to its pool first, then the record is marked
   * left. A paying hold cannot be given up (money may be moving): that throws payment_in_progress.
   */
  async leave(saleId: string, buyer: string): Promise<BuyerView> {
    const k = saleKeys(this.prefix, saleId);
    // A join asked for before this leave must reach Redis before it, as it would unbatched.
    this.joins.flush(saleId);
    const reply = checkAdmission(await this.scripts.leave(k, buyer));
    if (reply[0] !== 'holding') return this.simple(reply);
    const holdId = String(reply[1]);
    const hold = await this.inventory.getHold(saleId, holdId);
    if (hold?.state === 'sold') return holdView(hold);
    if (hold) await this.inventory.release(saleId, holdId, buyer);
    const again = checkAdmission(await this.scripts.leave(k, buyer, holdId));
    return this.simple(again);
  }
}

/** Settlement records a buyer's order before the hold is marked sold, so the per-buyer limit is counted from it. */
export function recordOrder(redis: RedisClient, prefix: string, saleId: string, buyer: string, holdId: string): Promise<number> {
  return redis.sadd(saleKeys(prefix, saleId).orders(buyer), holdId);
}

export { AdmissionError };
