import type { TemplatedApp } from 'uWebSockets.js';
import { countSaleEntriesWith, metrics } from '../shared/metrics.js';
import { isConnectionLoss, rateLimitedWarn } from '../shared/connection-errors.js';
import { InventoryError } from '../inventory/errors.js';
import type { BuyerView } from '../admission/waiting-room.js';
import type { SaleEvent } from '../admission/sale-events.js';
import { buyerFrame, frameText, type BuyerFrameIn } from './buyer-frames.js';
import { renderView, settingsEstimator } from './buyer-state.js';
import { CAUGHT_UP_BYTES, clockMs, saleTopic, sendText, setStage, type Ws } from './buyer-socket.js';
import { takeFrame } from './frame-budget.js';
import { ApiError, wsErrorFrame } from './errors.js';
import { refuse, toApiError } from './buyer-errors.js';
import { PayTimer } from './pay-timer.js';
import { BuyerSockets } from './buyer-sockets.js';
import { BuyerSlots } from './buyer-slots.js';
import { SaleWindows } from './sale-window.js';
import { SaleFanout, type SocketWork } from './sale-fanout.js';
import type { Context } from './context.js';
import { JoinChallenges } from './join-challenge.js';

// The socket record's constructor and type, for the server's upgrade (which makes it) and the hub's tests.
export { newSocketData, type SocketData } from './buyer-socket.js';

const RESOLVED = Promise.resolve();

/**
 * The buyer sockets of this gateway, by sale and buyer (several tabs of one buyer share a place): their
 * lifecycle, the frames they send (one at a time per socket, in order) and the answers they get. Sale
 * events reach them through the fan-out (sale-fanout.ts); the sale frame through sale-window.ts.
 */
export class BuyerHub implements SocketWork {
  private readonly sockets = new BuyerSockets<Ws>();
  /** Open and opening sockets per buyer (MAX_SOCKETS_PER_BUYER): taken by the upgrade, given back by the close. */
  readonly slots: BuyerSlots;
  private readonly windows: SaleWindows;
  private readonly fanout: SaleFanout;
  private readonly challenges = new JoinChallenges();
  app!: TemplatedApp;
  readonly payTimer = new PayTimer();
  /** Frames refused because Redis or Postgres went away: thousands at once in an outage, so rate-limited. */
  private readonly lostConnection: (err: unknown) => void;

  constructor(readonly ctx: Context) {
    this.lostConnection = rateLimitedWarn(ctx.log, 'buyer frames refused (unavailable): connection lost');
    this.slots = new BuyerSlots(ctx.config.MAX_SOCKETS_PER_BUYER);
    this.windows = new SaleWindows(ctx, (saleId) => this.sockets.hasSale(saleId), (saleId, text) => this.app.publish(saleTopic(saleId), text, false));
    this.fanout = new SaleFanout(ctx, this.sockets, this.windows, this.payTimer, this);
    countSaleEntriesWith(() => this.saleEntries());
  }

  /**
   * Entries kept by sale id: every one follows a sale that exists and has sockets here (or a read of
   * the last second), so ids asked for that do not exist leave nothing behind (docs/security.md).
   */
  saleEntries(): number {
    return this.ctx.saleCache.size() + this.windows.size() + this.sockets.saleCount() + this.fanout.size();
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
      const frame = await this.windows.openFrame(d.saleId);
      const sale = await this.ctx.saleCache.get(d.saleId);
      // The challenge goes before the sale frame: a client that joins once it has the sale frame
      // has always seen its challenge by then (frames arrive in order), and never joins without proof.
      if (sale && sale.joinChallengeBits > 0) this.sendChallenge(ws, sale.joinChallengeBits);
      if (frame) sendText(ws, frame);
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
    if (!takeFrame(d, clockMs())) return refuse(ws, new ApiError('rate_limited'));
    if (isBinary) return refuse(ws, new ApiError('binary_not_supported'));
    if (message.byteLength > this.ctx.config.MAX_FRAME_BYTES) return refuse(ws, new ApiError('payload_too_large', `frames are at most ${this.ctx.config.MAX_FRAME_BYTES} bytes`));
    let raw: unknown;
    try {
      raw = JSON.parse(Buffer.from(message).toString('utf8'));
    } catch {
      return refuse(ws, new ApiError('invalid_json'));
    }
    const parsed = buyerFrame.safeParse(raw);
    if (!parsed.success) return refuse(ws, new ApiError('invalid_frame', parsed.error.issues.map((i) => `${i.path.join('.') || 'frame'}: ${i.message}`).join('; ')));
    metrics.wsFrames.inc({ type: parsed.data.type });
    const received = process.hrtime.bigint();
    this.enqueue(ws, () => this.handle(ws, parsed.data, received));
  }

  /** One frame at a time per socket, in order: a join and a leave never race on one socket. */
  enqueue(ws: Ws, task: () => Promise<void>): void {
    const d = ws.getUserData();
    const chain: Promise<void> = (d.chain ?? RESOLVED).then(task).catch((err) => {
      const e = toApiError(err);
      if (isConnectionLoss(err)) this.lostConnection(err);
      else if (e.code === 'internal' || e.code === 'unavailable') this.ctx.log.error({ err, sale: d.saleId }, 'buyer frame failed');
      refuse(ws, e);
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
    sendText(ws, frameText({ type: 'challenge', nonce: this.challenges.nonce(d.challengeId), bits }));
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
    refuse(ws, d.challengeId === 0 ? new ApiError('challenge_failed', 'this sale asks a proof-of-work of each join: answer the challenge sent now') : new ApiError('challenge_failed'));
    if (d.challengeId === 0) this.sendChallenge(ws, current);
    return false;
  }

  /** begin-pay (inventory), then settlement's `payments.start`; the buyer hears what came of it. */
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
          sendText(ws, wsErrorFrame(toApiError(err)));
          return this.fanout.toBuyer(saleId, buyer, { type: 'hold_expired', holdId });
        }
      }
      throw err;
    }
    // Started before the job exists: its order_confirmed can never arrive before the clock runs.
    this.payTimer.start(holdId, received);
    const started = await this.ctx.payments.start({
      saleId, holdId, buyer, attemptNo, paymentMethod, amount: sale.price.amount, currency: sale.price.currency, perBuyerLimit: sale.perBuyerLimit,
    });
    if (started !== 'queued') this.payTimer.forget(holdId);
    // Absent: settlement gave the hold back, nothing can be charged.
    if (started === 'absent') throw new ApiError('unavailable', 'the payment could not be queued; pay again');
    // Unknown: the hold stays paying (money may move) until settlement or reconciliation decides.
    if (started === 'unknown') throw new ApiError('unavailable', 'the payment could not be confirmed as queued; it will be checked, do not pay again');
    this.fanout.toBuyer(saleId, buyer, { type: 'payment_pending', holdId });
  }

  /**
   * Reads a buyer's state and sends it, unless an event for this socket arrived meanwhile: then the
   * read may predate it, so read again (a stale "queued" must never follow an "admitted").
   */
  async answer(ws: Ws, read: () => Promise<BuyerView>): Promise<void> {
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
      const est = this.fanout.estimatorOf(d.saleId);
      const startsIn = sale ? (Date.parse(sale.startsAt) - Date.now()) / 1000 : 0;
      const r = renderView(view, est ?? settingsEstimator(sale), startsIn);
      setStage(d, r.stage, r.ticket);
      if ('holdId' in view && !d.closed) d.holdId = view.holdId;
      if (r.frame) {
        if (r.frame.type === 'queued') {
          d.lastPosition = r.frame.position;
          d.lastPositionAt = clockMs();
          if (view.kind === 'waiting' && est) this.fanout.recordPrediction(ws, r.frame);
        }
        sendText(ws, frameText(r.frame));
      } else if (view.kind === 'ended') {
        await this.sendSaleFrame(ws);
      }
      return;
    }
  }

  private async sendSaleFrame(ws: Ws): Promise<void> {
    const frame = await this.windows.frame(ws.getUserData().saleId);
    if (frame) sendText(ws, frame);
  }

  /** See SaleFanout.resync: after the sale events' subscription was lost and is back. */
  resync(): void {
    this.fanout.resync();
  }

  resyncSale(saleId: string): void {
    this.fanout.resyncSale(saleId);
  }

  /** A message from the sale's Redis channel (every gateway gets every message once). */
  onSaleEvent(saleId: string, ev: SaleEvent): void {
    this.fanout.onSaleEvent(saleId, ev);
  }
}
