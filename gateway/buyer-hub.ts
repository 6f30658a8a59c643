import type { TemplatedApp, WebSocket } from 'uWebSockets.js';
import { countSaleEntriesWith, metrics } from '../shared/metrics.js';
import { isConnectionLoss, rateLimitedWarn } from '../shared/connection-errors.js';
import { InventoryError } from '../inventory/errors.js';
import { AdmissionError } from '../admission/errors.js';
import { prequeueCommitment } from '../admission/prequeue.js';
import { saleState, type Sale } from '../admission/sale-schema.js';
import type { BuyerView } from '../admission/waiting-room.js';
import type { SaleEvent } from '../admission/sale-events.js';
import { buyerFrame, renderView, eta, type BuyerFrameIn, type Phase } from './buyer-frames.js';
import { ApiError, wsErrorFrame } from './errors.js';
import { PayTimer } from './pay-timer.js';
import { BuyerSockets } from './buyer-sockets.js';
import { BuyerSlots } from './buyer-slots.js';
import { OpenFrames, type ReadFrame } from './open-frames.js';
import type { Context } from './context.js';
import { JoinChallenges } from './join-challenge.js';

/**
 * What a buyer socket keeps (uWS copies these fields onto the socket object itself). Kept for every
 * waiting buyer, so kept small: times are whole milliseconds on the process clock (small integers,
 * not a boxed number per field), the rate limit counts whole frames, and an idle socket holds no
 * promise.
 */
export interface SocketData {
  /** The hub's shared copy of the sale id once open (see BuyerSockets). */
  saleId: string;
  buyer: string;
  closed: boolean;
  phase: Phase;
  ticket: number;
  /** The hold this socket was last told of ('' if none): after a heal it may be gone from Redis. */
  holdId: string;
  lastPosition: number;
  /** clockMs() of the last position sent. */
  lastPositionAt: number;
  /** Bumped by every pushed event, so an answer read from Redis before it is known to be stale. */
  seq: number;
  /** The frames of this socket still being handled, in order; null when idle. */
  chain: Promise<void> | null;
  /** Frames this socket may still send now (token bucket, whole frames). */
  tokens: number;
  /** clockMs() up to which tokens have been credited. */
  tokensAt: number;
  /** Not reading: its send buffer went over BEHIND_BYTES; no frame is sent until it drains (onDrain). */
  behind: boolean;
  /** The socket's join challenge (JoinChallenges: the nonce is derived from it, not stored); 0 = none sent. */
  challengeId: number;
  /** The bits this socket was challenged at; 0 once it sent a good proof (or was never challenged). */
  challengeBits: number;
}

type Ws = WebSocket<SocketData>;
type SaleWindow = 'before' | 'during' | 'after';

const FRAMES_PER_SECOND = 20;
const MS_PER_FRAME = 1000 / FRAMES_PER_SECOND;
const SOLD_OUT_FRAME = '{"type":"sold_out"}';
const RESOLVED = Promise.resolve();
/**
 * A socket with more than this waiting in its send buffer is behind: it is sent nothing more until
 * the buffer is down to CAUGHT_UP_BYTES, then its state once (onDrain). So a slow reader costs at most
 * about this much (plus sale frames published to its topic, which uWS caps at maxBackpressure), and
 * no frame is silently lost past uWS's cap: the catch-up says where the buyer stands.
 */
export const BEHIND_BYTES = 64 * 1024;
const CAUGHT_UP_BYTES = 4 * 1024;
/** uWS's answers to send(): written out at once; dropped (the buffer is over maxBackpressure). */
const SEND_WRITTEN = 1;
const SEND_DROPPED = 2;

/** Milliseconds since this process started: a small integer for 24 days (Date.now() is a boxed double). */
export const clockMs = (): number => Math.floor(performance.now());
/** lastPositionAt of a socket that was never sent a position. */
const NEVER = -1e9;

export function newSocketData(saleId: string, buyer: string): SocketData {
  return {
    saleId, buyer, closed: false, phase: 'none', ticket: 0, holdId: '', lastPosition: 0, lastPositionAt: NEVER, seq: 0, chain: null, tokens: FRAMES_PER_SECOND, tokensAt: clockMs(), behind: false, challengeId: 0, challengeBits: 0,
  };
}

export const saleTopic = (saleId: string) => `sale:${saleId}`;

const isWaiting = (phase: Phase) => phase === 'queued' || phase === 'pre';

/** The buyer sockets of this gateway, by sale and buyer (several tabs of one buyer share a place). */
export class BuyerHub {
  private readonly sockets = new BuyerSockets<Ws>();
  /** Open and opening sockets per buyer (MAX_SOCKETS_PER_BUYER): taken by the upgrade, given back by the close. */
  readonly slots: BuyerSlots;
  private readonly served = new Map<string, { served: number; rate: number }>();
  /** Where each sale's clock stood at the last tick, so a start or end by time is announced once. */
  private readonly windows = new Map<string, SaleWindow>();
  private readonly openFrames = new OpenFrames((saleId) => this.readSaleFrame(saleId));
  private readonly challenges = new JoinChallenges();
  app!: TemplatedApp;
  readonly payTimer = new PayTimer();
  /** Frames refused because Redis or Postgres went away: thousands at once in an outage, so rate-limited. */
  private readonly lostConnection: (err: unknown) => void;

  constructor(readonly ctx: Context) {
    this.lostConnection = rateLimitedWarn(ctx.log, 'buyer frames refused (unavailable): connection lost');
    this.slots = new BuyerSlots(ctx.config.MAX_SOCKETS_PER_BUYER);
    countSaleEntriesWith(() => this.saleEntries());
  }

  /**
   * Entries kept by sale id: every one follows a sale that exists and has sockets here (or a read of
   * the last second), so ids asked for that do not exist leave nothing behind (docs/security.md).
   */
  saleEntries(): number {
    return this.ctx.saleCache.size() + this.openFrames.size() + this.sockets.saleCount() + this.served.size + this.windows.size;
  }

  count(): number {
    return this.sockets.count();
  }

  async onOpen(ws: Ws): Promise<void> {
    const d = ws.getUserData();
    d.saleId = this.sockets.add(d.saleId, d.buyer, ws);
    // The one topic of a socket: sale frames. Waiters are not a topic of their own (a subscription
    // costs native memory per socket); sold_out goes to them from this hub's own index.
    ws.subscribe(saleTopic(d.saleId));
    metrics.wsConnections.inc();
    this.enqueue(ws, async () => {
      // The gateway subscribed to every sale's events at its start (one pattern): an event after the
      // first read below is never missed.
      const frame = await this.openFrames.get(d.saleId);
      const sale = await this.ctx.saleCache.get(d.saleId);
      // The challenge goes before the sale frame: a client that joins once it has the sale frame
      // has always seen its challenge by then (frames arrive in order), and never joins without proof.
      if (sale && sale.joinChallengeBits > 0) this.sendChallenge(ws, sale.joinChallengeBits);
      if (frame) this.sendRaw(ws, frame);
      // A reconnecting buyer gets their state back at once: place, hold or order.
      await this.answer(ws, () => this.ctx.room.status(d.saleId, d.buyer));
    });
  }

  onClose(ws: Ws): void {
    const d = ws.getUserData();
    d.closed = true;
    this.sockets.remove(d.saleId, d.buyer, ws);
    this.slots.release(d.buyer);
    metrics.wsConnections.dec();
  }

  /**
   * uWS wrote some of a socket's buffer. A socket that was behind and has caught up gets its state
   * once, as a `status` frame would answer it (the sale frame, then place, hold or order): the frames
   * it was not sent meanwhile are replaced by where it stands now.
   */
  onDrain(ws: Ws): void {
    const d = ws.getUserData();
    if (!d.behind || d.closed || ws.getBufferedAmount() > CAUGHT_UP_BYTES) return;
    d.behind = false;
    this.enqueue(ws, () => this.sendState(ws));
  }

  /** The sale frame, then the buyer's place, hold or order: what a `status` frame answers. */
  private async sendState(ws: Ws): Promise<void> {
    const { saleId, buyer } = ws.getUserData();
    await this.sendSaleFrame(ws);
    await this.answer(ws, () => this.ctx.room.status(saleId, buyer));
  }

  onMessage(ws: Ws, message: ArrayBuffer, isBinary: boolean): void {
    const d = ws.getUserData();
    const refuse = (e: ApiError) => {
      metrics.wsErrors.inc({ code: e.code });
      this.sendRaw(ws, wsErrorFrame(e));
    };
    // Whole frames are credited, each 50 ms after the last; a full bucket does not bank time.
    const now = clockMs();
    const earned = Math.floor((now - d.tokensAt) / MS_PER_FRAME);
    if (earned > 0) {
      d.tokens = Math.min(FRAMES_PER_SECOND, d.tokens + earned);
      d.tokensAt = d.tokens === FRAMES_PER_SECOND ? now : d.tokensAt + earned * MS_PER_FRAME;
    }
    if (d.tokens < 1) return refuse(new ApiError('rate_limited'));
    d.tokens -= 1;
    if (isBinary) return refuse(new ApiError('binary_not_supported'));
    if (message.byteLength > this.ctx.config.MAX_FRAME_BYTES) return refuse(new ApiError('payload_too_large', `frames are at most ${this.ctx.config.MAX_FRAME_BYTES} bytes`));
    let raw: unknown;
    try {
      raw = JSON.parse(Buffer.from(message).toString('utf8'));
    } catch {
      return refuse(new ApiError('invalid_json'));
    }
    const parsed = buyerFrame.safeParse(raw);
    if (!parsed.success) return refuse(new ApiError('invalid_frame', parsed.error.issues.map((i) => `${i.path.join('.') || 'frame'}: ${i.message}`).join('; ')));
    metrics.wsFrames.inc({ type: parsed.data.type });
    const received = process.hrtime.bigint();
    this.enqueue(ws, () => this.handle(ws, parsed.data, received));
  }

  /** One frame at a time per socket, in order: a join and a leave never race on one socket. */
  private enqueue(ws: Ws, task: () => Promise<void>): void {
    const d = ws.getUserData();
    const chain: Promise<void> = (d.chain ?? RESOLVED).then(task).catch((err) => {
      const e = toApiError(err);
      if (isConnectionLoss(err)) this.lostConnection(err);
      else if (e.code === 'internal' || e.code === 'unavailable') this.ctx.log.error({ err, sale: d.saleId }, 'buyer frame failed');
      metrics.wsErrors.inc({ code: e.code });
      this.sendRaw(ws, wsErrorFrame(e));
    }).then(() => {
      // The last frame done: an idle socket keeps no promise.
      if (d.chain === chain) d.chain = null;
    });
    d.chain = chain;
  }

  private async handle(ws: Ws, f: BuyerFrameIn, received: bigint): Promise<void> {
    const { saleId, buyer } = ws.getUserData();
    switch (f.type) {
      case 'join':
        if (!(await this.checkProof(ws, f.proof))) return;
        await this.answer(ws, () => this.ctx.room.join(saleId, buyer));
        metrics.joins.inc();
        metrics.joinToQueued.observe(Number(process.hrtime.bigint() - received) / 1e9);
        return;
      case 'status':
        return this.sendState(ws);
      case 'leave':
        return this.answer(ws, () => this.ctx.room.leave(saleId, buyer));
      case 'pay':
        return this.pay(ws, f.holdId, f.paymentMethod, received);
    }
  }

  private sendChallenge(ws: Ws, bits: number): void {
    const d = ws.getUserData();
    if (d.closed) return;
    d.challengeId = this.challenges.nextId();
    d.challengeBits = bits;
    this.sendRaw(ws, `{"type":"challenge","nonce":"${this.challenges.nonce(d.challengeId)}","bits":${bits}}`);
  }

  /**
   * The proof-of-work of a join, checked before any Redis call; throws challenge_failed. The bits are
   * the sale's as the cache has them now, so a PATCH applies within the cache's second:
   * - set to 0: every join passes without proof (lifting a challenge helps everyone at once);
   * - lowered: a socket challenged at more bits needs only the new bits (its proof may be sent now);
   * - raised: a socket challenged before keeps the bits it was told (an honest client already working
   *   on its proof is not sent back to the start), new sockets get the new bits; a socket that was
   *   never challenged (it opened while the challenge was off) fails its join and is challenged now.
   * A socket that passed once joins again without a proof (the same place); its proof is not asked again.
   * Returns whether the join may go on; when not, the buyer was sent `challenge_failed`.
   */
  private async checkProof(ws: Ws, proof: string | undefined): Promise<boolean> {
    const d = ws.getUserData();
    const sale = await this.ctx.saleCache.get(d.saleId);
    if (!sale) throw new ApiError('sale_not_found');
    const current = sale.joinChallengeBits;
    if (!(current > 0) || (d.challengeId !== 0 && d.challengeBits === 0)) return true;
    if (d.challengeId !== 0 && proof !== undefined && this.challenges.check(d.challengeId, proof, Math.min(d.challengeBits, current))) {
      d.challengeBits = 0;
      return true;
    }
    const e = d.challengeId === 0 ? new ApiError('challenge_failed', 'this sale asks a proof-of-work of each join: answer the challenge sent now') : new ApiError('challenge_failed');
    metrics.wsErrors.inc({ code: e.code });
    this.sendRaw(ws, wsErrorFrame(e));
    if (d.challengeId === 0) this.sendChallenge(ws, current);
    return false;
  }

  private async pay(ws: Ws, holdId: string, paymentMethod: string, received: bigint): Promise<void> {
    const { saleId, buyer } = ws.getUserData();
    const sale = await this.ctx.saleCache.get(saleId);
    if (!sale) throw new ApiError('sale_not_found');
    let attemptNo: number;
    try {
      attemptNo = await this.ctx.inventory.beginPay(saleId, holdId, buyer);
    } catch (err) {
      // Overdue when paid for: begin-pay expired it just now, so no sweeper tick will announce it.
      // The buyer hears why the pay was refused and that the hold is gone (a terminal state).
      if (err instanceof InventoryError && err.code === 'hold_ended') {
        const hold = await this.ctx.inventory.getHold(saleId, holdId);
        if (hold?.buyer === buyer && hold.state === 'expired') {
          this.sendRaw(ws, wsErrorFrame(toApiError(err)));
          return this.toBuyer(saleId, buyer, { type: 'hold_expired', holdId });
        }
      }
      throw err;
    }
    // Started before the job exists: its order_confirmed can never arrive before the clock runs.
    this.payTimer.start(holdId, received);
    const started = await this.ctx.payer.start({
      saleId, holdId, buyer, attemptNo, paymentMethod, amount: sale.price.amount, currency: sale.price.currency, perBuyerLimit: sale.perBuyerLimit,
    });
    if (started !== 'queued') this.payTimer.forget(holdId);
    // Absent: settlement gave the hold back, nothing can be charged.
    if (started === 'absent') throw new ApiError('unavailable', 'the payment could not be queued; pay again');
    // Unknown: the hold stays paying (money may move) until settlement or reconciliation decides.
    if (started === 'unknown') throw new ApiError('unavailable', 'the payment could not be confirmed as queued; it will be checked, do not pay again');
    this.toBuyer(saleId, buyer, { type: 'payment_pending', holdId });
  }

  /**
   * Reads a buyer's state and sends it, unless an event for this socket arrived meanwhile: then the
   * read may predate it, so read again (a stale "queued" must never follow an "admitted").
   */
  private async answer(ws: Ws, read: () => Promise<BuyerView>): Promise<void> {
    const d = ws.getUserData();
    for (let i = 0; ; i++) {
      const seq = d.seq;
      const view = await read();
      // Every await comes before the check: from the check to the send nothing may interleave, or an
      // event pushed meanwhile (an "admitted") would be followed by this older answer.
      const sale = await this.ctx.saleCache.get(d.saleId);
      if (d.seq !== seq && i < 3) {
        read = () => this.ctx.room.status(d.saleId, d.buyer);
        continue;
      }
      const info = this.served.get(d.saleId);
      const rate = info && info.rate > 0 ? info.rate : (sale?.admitPerSecond ?? 1);
      const startsIn = sale ? (Date.parse(sale.startsAt) - Date.now()) / 1000 : 0;
      const r = renderView(view, rate, startsIn);
      this.setPhase(ws, r.phase, r.ticket);
      if ('holdId' in view && !d.closed) d.holdId = view.holdId;
      if (r.frame) {
        if (r.frame.type === 'queued') {
          d.lastPosition = r.frame.position as number;
          d.lastPositionAt = clockMs();
        }
        this.sendRaw(ws, JSON.stringify(r.frame));
      } else if (view.kind === 'ended') {
        await this.sendSaleFrame(ws);
      }
      return;
    }
  }

  private setPhase(ws: Ws, phase: Phase, ticket?: number): void {
    const d = ws.getUserData();
    if (d.closed) return;
    d.phase = phase;
    if (ticket !== undefined) d.ticket = ticket;
  }

  /** The contract's `sale` frame for a sale as it stands now, serialised once; null for no such sale. */
  private async saleFrame(saleId: string): Promise<string | null> {
    return (await this.readSaleFrame(saleId)).frame;
  }

  private async readSaleFrame(saleId: string): Promise<ReadFrame> {
    const sale = await this.ctx.saleCache.get(saleId);
    if (!sale) return { frame: null, changesAt: Number.POSITIVE_INFINITY };
    const now = Date.now();
    // The window buyers were told of: a start or end after this is announced by the next tick. Kept
    // only while the sale has sockets here (announceWindow drops it with the last one).
    if (!this.windows.has(saleId) && this.sockets.hasSale(saleId)) this.windows.set(saleId, windowOf(sale, now));
    const soldOut = await this.ctx.sales.isSoldOut(saleId);
    const startsAt = Date.parse(sale.startsAt);
    const endsAt = Date.parse(sale.endsAt);
    return {
      frame: JSON.stringify({
        type: 'sale', state: saleState(sale, soldOut, now), startsAt: sale.startsAt, endsAt: sale.endsAt,
        prequeueCommitment: prequeueCommitment(sale.prequeueKey),
      }),
      changesAt: now < startsAt ? startsAt : now < endsAt ? endsAt : Number.POSITIVE_INFINITY,
    };
  }

  private async sendSaleFrame(ws: Ws): Promise<void> {
    const frame = await this.saleFrame(ws.getUserData().saleId);
    if (frame) this.sendRaw(ws, frame);
  }

  /**
   * Sends one frame, unless the socket is behind (see BEHIND_BYTES): a buyer who does not read is not
   * sent per-frame updates to pile up in memory, and is sent its state once it reads again (onDrain).
   */
  private sendRaw(ws: Ws, frame: string): void {
    const d = ws.getUserData();
    if (d.closed || d.behind) return;
    const sent = ws.send(frame, false);
    if (sent === SEND_WRITTEN) return;
    if (sent === SEND_DROPPED || ws.getBufferedAmount() > BEHIND_BYTES) {
      d.behind = true;
      metrics.wsSlowReaders.inc();
    }
  }

  /** Sends a frame to every socket of one buyer on this gateway and moves their phase along. */
  private toBuyer(saleId: string, buyer: string, frame: { type: string; [k: string]: unknown }): void {
    const here = this.sockets.hasBuyer(saleId, buyer);
    if (frame.type === 'order_confirmed' && here) this.payTimer.confirmed(frame.holdId as string);
    else if (frame.type === 'order_confirmed' || frame.type === 'hold_expired' || (frame.type === 'payment_failed' && !frame.retryable)) this.payTimer.forget(frame.holdId as string);
    if (!here) return;
    const text = JSON.stringify(frame);
    const phase: Phase = frame.type === 'admitted' || frame.type === 'payment_pending' || (frame.type === 'payment_failed' && frame.retryable) ? 'holding' : 'done';
    this.sockets.forBuyer(saleId, buyer, (ws) => {
      const d = ws.getUserData();
      d.seq++;
      this.setPhase(ws, phase);
      if (typeof frame.holdId === 'string') d.holdId = frame.holdId;
      this.sendRaw(ws, text);
    });
  }

  /**
   * The sale events' subscription was lost and is back. Redis pub/sub keeps nothing for a subscriber
   * that is away, so whatever was published meanwhile (an `admitted`, an `order_confirmed`, a
   * `sold_out`) never reached this gateway, and its buyers would wait for it for ever. So, as on a
   * reconnect, every buyer still waiting for news (queued, pre-queued, holding or paying) reads their
   * state again, and each sale's frame is sent afresh. Buyers who are done or never joined are left
   * alone. Call it only once the subscription is active again, or events could fall in between.
   */
  resync(): void {
    for (const saleId of this.sockets.saleIds()) this.resyncSale(saleId);
  }

  /** Every socket of one sale still waiting for news reads its state again (resyncSocket); the sale frame is sent afresh. */
  resyncSale(saleId: string): void {
    this.ctx.saleCache.forget(saleId);
    this.openFrames.forget(saleId);
    this.publishSaleFrame(saleId).catch((err) => this.ctx.log.warn({ err, sale: saleId }, 'could not publish the sale frame'));
    this.sockets.forSale(saleId, (ws) => {
      const { phase } = ws.getUserData();
      if (phase === 'pre' || phase === 'queued' || phase === 'holding') this.enqueue(ws, () => this.resyncSocket(ws));
    });
  }

  /** A message from the sale's Redis channel (every gateway gets every message once). */
  onSaleEvent(saleId: string, ev: SaleEvent): void {
    // Only an existing sale has events (its admitter ticks at least once a second): once this
    // gateway has heard of it, its buyers upgrade without a lookup.
    this.ctx.saleCache.markKnown(saleId);
    switch (ev.t) {
      case 'tick':
        // Kept for sales with sockets here only (answer() reads it for their ETAs).
        if (this.sockets.hasSale(saleId)) this.served.set(saleId, { served: ev.served, rate: ev.rate });
        else this.served.delete(saleId);
        for (const { b, f } of ev.buyers) this.toBuyer(saleId, b, f);
        this.pushPositions(saleId, ev.served, ev.rate);
        this.announceWindow(saleId).catch((err) => this.ctx.log.error({ err, sale: saleId }, 'could not announce the sale window'));
        return;
      case 'buyer':
        return this.toBuyer(saleId, ev.b, ev.f);
      case 'state':
        this.ctx.saleCache.forget(saleId);
        this.openFrames.forget(saleId);
        // To the sockets waiting now (holders and buyers who are done are not told): the string is
        // made once, each send is uWS's own write.
        if (ev.state === 'sold_out') {
          this.sockets.forSale(saleId, (ws) => {
            if (isWaiting(ws.getUserData().phase)) this.sendRaw(ws, SOLD_OUT_FRAME);
          });
        }
        this.publishSaleFrame(saleId).catch((err) => this.ctx.log.error({ err, sale: saleId }, 'could not publish the sale frame'));
        return;
      case 'healed':
        // The sale's Redis copy was rebuilt from the ledger: what a socket was told may be gone.
        this.resyncSale(saleId);
        return;
      case 'sealed':
        // The pre-queue became tickets: each pre-queued socket reads its ticket once.
        this.sockets.forSale(saleId, (ws) => {
          if (ws.getUserData().phase === 'pre') this.enqueue(ws, () => this.answer(ws, () => this.ctx.room.status(saleId, ws.getUserData().buyer)));
        });
        return;
    }
  }

  /**
   * A socket's state read again (after a heal, or a lost subscription). A buyer whose hold vanished
   * with a lost copy is told it ended (the unit went back to the pool); a waiter whose place vanished
   * is given one again (join is idempotent: a place the copy kept is the same place); everyone else
   * gets their state as Redis now says.
   */
  private async resyncSocket(ws: Ws): Promise<void> {
    const d = ws.getUserData();
    const { phase, holdId } = d;
    const view = await this.ctx.room.status(d.saleId, d.buyer);
    if (view.kind === 'none' && phase === 'holding' && holdId !== '') return this.toBuyer(d.saleId, d.buyer, { type: 'hold_expired', holdId });
    if (view.kind === 'none' && (phase === 'queued' || phase === 'pre')) return this.answer(ws, () => this.ctx.room.join(d.saleId, d.buyer));
    return this.answer(ws, () => Promise.resolve(view));
  }

  /**
   * A sale opens at startsAt and ends at endsAt without any operator action, so no 'state' event says
   * so; the contract still wants a sale frame on every state change (and waiters must not wait for
   * nothing after the end). The admitter ticks every sale at least once a second: each tick compares
   * the sale's window with the last one seen and publishes the frame when it moved.
   */
  private async announceWindow(saleId: string): Promise<void> {
    if (!this.sockets.hasSale(saleId)) {
      this.windows.delete(saleId);
      return;
    }
    const sale = await this.ctx.saleCache.get(saleId);
    if (!sale) return;
    const w = windowOf(sale, Date.now());
    const seen = this.windows.get(saleId);
    this.windows.set(saleId, w);
    if (seen !== undefined && seen !== w) await this.publishSaleFrame(saleId);
  }

  private async publishSaleFrame(saleId: string): Promise<void> {
    const frame = await this.saleFrame(saleId);
    // One serialisation for every socket of the sale (uWS topic), not one per socket.
    if (frame) this.app.publish(saleTopic(saleId), frame, false);
  }

  /** Positions move locally: position = my ticket - served ticket; no Redis call per waiting buyer. */
  private pushPositions(saleId: string, served: number, rate: number): void {
    const now = clockMs();
    const effRate = rate > 0 ? rate : 1;
    this.sockets.forSale(saleId, (ws) => {
      const d = ws.getUserData();
      if (d.phase !== 'queued' || d.ticket <= 0) return;
      const position = Math.max(1, d.ticket - served);
      if (position === d.lastPosition || now - d.lastPositionAt < 1000) return;
      d.lastPosition = position;
      d.lastPositionAt = now;
      this.sendRaw(ws, JSON.stringify({ type: 'queued', position, etaSeconds: eta(position, effRate), ticket: d.ticket }));
    });
  }
}

function windowOf(sale: Pick<Sale, 'startsAt' | 'endsAt'>, now: number): SaleWindow {
  return now < Date.parse(sale.startsAt) ? 'before' : now < Date.parse(sale.endsAt) ? 'during' : 'after';
}

export function toApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  if (err instanceof InventoryError) {
    // Someone else's hold is reported as missing: hold ids tell nothing about other buyers.
    if (err.code === 'not_your_hold' || err.code === 'hold_not_found') return new ApiError('hold_not_found');
    // Codes only settlement and restocking meet: never a buyer's doing.
    if (err.code === 'hold_not_paying' || err.code === 'invalid_quantity') return new ApiError('internal');
    return new ApiError(err.code, err.message);
  }
  if (err instanceof AdmissionError) return new ApiError(err.code === 'sold_out' ? 'sale_ended' : err.code, err.message);
  // Redis or Postgres went away under the frame: the contract's "try again", not a fault of ours.
  if (isConnectionLoss(err)) return new ApiError('unavailable');
  return new ApiError('internal');
}
