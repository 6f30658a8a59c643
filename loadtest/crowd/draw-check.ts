import { createHash, createHmac } from 'node:crypto';

/**
 * What a crowd can check on its own once a pre-queue sale is sealed, as each buyer's page does with
 * "verify my place" (contract: `GET /v1/sales/{id}/prequeue`), and how good the sale's estimates were
 * for these buyers. Pure, so it is tested without a stack.
 */

/** The published draw: before the seal only the commitment. */
export interface DrawView {
  commitment: string;
  key?: string;
  order?: string[];
}

/** What one buyer kept of the frames it was sent. */
export interface DrawBuyer {
  id: string;
  /** prequeueCommitment of the first sale frame this buyer saw. */
  commitment?: string;
  /** `ticket` of the last queued frame. */
  ticket?: number;
  /** The first estimate this buyer was shown once the sale was live (the first queued frame with a `chance`). */
  estimate?: { at: number; chance: number; etaRange?: [number, number] };
  /** Epoch ms of the first admitted frame. */
  admittedAt?: number;
  /** Epoch ms the join was answered with a place. */
  joinedAt?: number;
}

/**
 * What a buyer keeps of a `queued` frame for the checks below: its last ticket, and the first
 * estimate shown once the sale was live (`startsAt`, epoch ms, from the sale frame).
 */
export function noteQueued(b: DrawBuyer, f: Record<string, unknown>, startsAt: number): void {
  const now = Date.now();
  if (typeof f.ticket === 'number') b.ticket = f.ticket;
  if (now >= startsAt && b.estimate === undefined && typeof f.chance === 'number') {
    const r = f.etaRange;
    const range = Array.isArray(r) && r.length === 2 ? [Number(r[0]), Number(r[1])] as [number, number] : undefined;
    b.estimate = { at: now, chance: f.chance, ...(range ? { etaRange: range } : {}) };
  }
}

export interface DrawCheck {
  /** The key and order are out (the seal happened). */
  published: boolean;
  /** SHA-256(key) == the commitment every buyer saw before the start, and the order is sorted. */
  keyMatches: boolean;
  sorted: boolean;
  /** Buyers who saw a different commitment than the published one (must be 0). */
  commitmentMismatch: number;
  /** Buyers whose last ticket falls in the draw (ticket <= order length), and of them those whose score is at it. */
  inDraw: number;
  verified: number;
  /** Buyers in the draw whose score is not at their ticket: ids (must be empty). */
  mismatched: string[];
  /** Tickets past the draw: those buyers queued by arrival (after the lottery window). */
  afterDraw: number;
  /**
   * Of them, placed out of arrival order: a buyer whose join was answered more than ARRIVAL_SLACK_MS
   * before another's yet holds the later ticket (joins in flight together may land either way).
   */
  outOfArrivalOrder: number;
  /** Buyers never told a ticket (e.g. refused before joining). */
  noTicket: number;
  /** The order's length (pre-queue buyers drawn at the seal). */
  drawn: number;
}

/** The contract's score: the first 13 hex digits of HMAC-SHA256(key, buyer id). */
export const drawScore = (key: string, buyer: string): string => createHmac('sha256', key).update(buyer).digest('hex').slice(0, 13);

export function checkDraw(view: DrawView, buyers: readonly DrawBuyer[]): DrawCheck {
  const order = view.order ?? [];
  const published = view.key !== undefined && view.order !== undefined;
  const keyMatches = published && createHash('sha256').update(view.key!).digest('hex') === view.commitment;
  let sorted = true;
  for (let i = 1; i < order.length; i++) if (order[i - 1]! > order[i]!) sorted = false;
  const out: DrawCheck = { published, keyMatches, sorted, commitmentMismatch: 0, inDraw: 0, verified: 0, mismatched: [], afterDraw: 0, outOfArrivalOrder: 0, noTicket: 0, drawn: order.length };
  const late: DrawBuyer[] = [];
  for (const b of buyers) {
    if (b.commitment !== undefined && b.commitment !== view.commitment) out.commitmentMismatch++;
    if (b.ticket === undefined) {
      out.noTicket++;
      continue;
    }
    if (b.ticket > order.length) {
      out.afterDraw++;
      late.push(b);
      continue;
    }
    out.inDraw++;
    if (published && order[b.ticket - 1] === drawScore(view.key!, b.id)) out.verified++;
    else out.mismatched.push(b.id);
  }
  // Arrival order: walking the late tickets upwards, no answer may come well before one already passed.
  late.sort((a, b) => a.ticket! - b.ticket!);
  let latest = Number.NEGATIVE_INFINITY;
  for (const b of late) {
    if (b.joinedAt === undefined) continue;
    if (b.joinedAt < latest - ARRIVAL_SLACK_MS) out.outOfArrivalOrder++;
    latest = Math.max(latest, b.joinedAt);
  }
  return out;
}

/** Joins answered within this of each other were in flight together: either order is arrival order. */
export const ARRIVAL_SLACK_MS = 250;

export interface EstimateQuality {
  /** Buyers shown an estimate once the sale was live. */
  estimates: number;
  /** Of them, admitted: their real wait (first estimate → admitted) against the etaRange they were shown. */
  admitted: number;
  withRange: number;
  inRange: number;
  /** inRange / withRange (the contract's interval holds 8 times in 10). */
  coverage: number | null;
  /** Mean (chance − got a unit)² over every estimate: 0 is perfect, 0.25 is a coin toss's at 50 %. */
  brier: number | null;
  /** Mean chance shown vs the share admitted, for the same buyers. */
  meanChance: number | null;
  admittedShare: number | null;
}

export function estimateQuality(buyers: readonly DrawBuyer[]): EstimateQuality {
  const shown = buyers.filter((b) => b.estimate !== undefined);
  let withRange = 0;
  let inRange = 0;
  let brier = 0;
  let chance = 0;
  let admitted = 0;
  for (const b of shown) {
    const e = b.estimate!;
    const got = b.admittedAt !== undefined ? 1 : 0;
    brier += (e.chance - got) ** 2;
    chance += e.chance;
    admitted += got;
    if (got === 1 && e.etaRange) {
      withRange++;
      const wait = (b.admittedAt! - e.at) / 1000;
      if (wait >= e.etaRange[0] && wait <= e.etaRange[1]) inRange++;
    }
  }
  const n = shown.length;
  const r = (x: number) => Math.round(x * 1000) / 1000;
  return {
    estimates: n, admitted, withRange, inRange,
    coverage: withRange > 0 ? r(inRange / withRange) : null,
    brier: n > 0 ? r(brier / n) : null,
    meanChance: n > 0 ? r(chance / n) : null,
    admittedShare: n > 0 ? r(admitted / n) : null,
  };
}
