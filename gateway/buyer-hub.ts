import type { TemplatedApp, WebSocket } from 'uWebSockets.js';
import { metrics } from '../shared/metrics.js';
import { InventoryError } from '../inventory/errors.js';
import { AdmissionError } from '../admission/errors.js';
import { saleState, type Sale } from '../admission/sale-schema.js';
import type { BuyerView } from '../admission/waiting-room.js';
import type { SaleEvent } from '../admission/sale-events.js';
import { enqueuePayment, paymentJobId } from '../settlement/payment-job.js';
import { buyerFrame, renderView, eta, type BuyerFrameIn, type Phase } from './buyer-frames.js';
import { ApiError, wsErrorFrame } from './errors.js';
import { PayTimer } from './pay-timer.js';
import type { Context } from './context.js';

export interface SocketData {
  saleId: string;
  buyer: string;
  closed: boolean;
  phase: Phase;
  ticket: number;
  lastPosition: number;
  lastPositionAt: number;
  /** Bumped by every pushed event, so an answer read from Redis before it is known to be stale. */
  seq: number;
  chain: Promise<void>;
  tokens: number;
  tokensAt: number;
}

type Ws = WebSocket<SocketData>;
type SaleWindow = 'before' | 'during' | 'after';

const FRAMES_PER_SECOND = 20;

export const saleTopic = (saleId: string) => `sale:${saleId}`;
export const waitTopic = (saleId: string) => `wait:${saleId}`;

/** The buyer sockets of this gateway, by sale and buyer (several tabs of one buyer share a place). */
export class BuyerHub {
  private readonly sockets = new Map<string, Map<string, Set<Ws>>>();
  private readonly served = new Map<string, { served: number; rate: number }>();
  /** Where each sale's clock stood at the last tick, so a start or end by time is announced once. */
  private readonly windows = new Map<string, SaleWindow>();
  app!: TemplatedApp;
  readonly payTimer = new PayTimer();

  constructor(readonly ctx: Context) {}

  count(): number {
    let n = 0;
    for (const m of this.sockets.values()) for (const s of m.values()) n += s.size;
    return n;
  }

  async onOpen(ws: Ws): Promise<void> {
    const d = ws.getUserData();
    let byBuyer = this.sockets.get(d.saleId);
    if (!byBuyer) this.sockets.set(d.saleId, (byBuyer = new Map()));
    let set = byBuyer.get(d.buyer);
    if (!set) byBuyer.set(d.buyer, (set = new Set()));
    set.add(ws);
    ws.subscribe(saleTopic(d.saleId));
    metrics.wsConnections.inc();
    this.enqueue(ws, async () => {
      await this.sendSaleFrame(ws);
      // A reconnecting buyer gets their state back at once: place, hold or order.
      await this.answer(ws, () => this.ctx.room.status(d.saleId, d.buyer));
    });
  }

  onClose(ws: Ws): void {
    const d = ws.getUserData();
    d.closed = true;
    const byBuyer = this.sockets.get(d.saleId);
    const set = byBuyer?.get(d.buyer);
    set?.delete(ws);
    if (set && set.size === 0) byBuyer!.delete(d.buyer);
    metrics.wsConnections.dec();
  }

  onMessage(ws: Ws, message: ArrayBuffer, isBinary: boolean): void {
    const d = ws.getUserData();
    const refuse = (e: ApiError) => {
      metrics.wsErrors.inc({ code: e.code });
      this.sendRaw(ws, wsErrorFrame(e));
    };
    const now = Date.now();
    d.tokens = Math.min(FRAMES_PER_SECOND, d.tokens + ((now - d.tokensAt) * FRAMES_PER_SECOND) / 1000);
    d.tokensAt = now;
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
    d.chain = d.chain.then(task).catch((err) => {
      const e = toApiError(err);
      if (e.code === 'internal' || e.code === 'unavailable') this.ctx.log.error({ err, sale: d.saleId }, 'buyer frame failed');
      metrics.wsErrors.inc({ code: e.code });
      this.sendRaw(ws, wsErrorFrame(e));
    });
  }

  private async handle(ws: Ws, f: BuyerFrameIn, received: bigint): Promise<void> {
    const { saleId, buyer } = ws.getUserData();
    switch (f.type) {
      case 'join':
        await this.answer(ws, () => this.ctx.room.join(saleId, buyer));
        metrics.joins.inc();
        metrics.joinToQueued.observe(Number(process.hrtime.bigint() - received) / 1e9);
        return;
      case 'status':
        await this.sendSaleFrame(ws);
        return this.answer(ws, () => this.ctx.room.status(saleId, buyer));
      case 'leave':
        return this.answer(ws, () => this.ctx.room.leave(saleId, buyer));
      case 'pay':
        return this.pay(ws, f.holdId, f.paymentMethod, received);
    }
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
    try {
      await enqueuePayment(this.ctx.payments, {
        saleId, holdId, buyer, attemptNo, paymentMethod, amount: sale.price.amount, currency: sale.price.currency, perBuyerLimit: sale.perBuyerLimit,
      });
    } catch (err) {
      this.payTimer.forget(holdId);
      this.ctx.log.error({ err, sale: saleId, holdId }, 'could not enqueue payment');
      // The add may have landed before the error: only when the job is certainly absent (read back
      // on a working connection) can nothing be charged, and the hold go back to the buyer.
      const job = await this.ctx.payments.getJob(paymentJobId(holdId, attemptNo)).then((j) => j ?? 'absent', () => 'unknown' as const);
      if (job === 'absent') {
        await this.ctx.inventory.payFailed(saleId, holdId, attemptNo).catch(() => {});
        throw new ApiError('unavailable', 'the payment could not be queued; pay again');
      }
      // Unknown: the hold stays paying (money may move) until settlement or reconciliation decides.
      if (job === 'unknown') throw new ApiError('unavailable', 'the payment could not be confirmed as queued; it will be checked, do not pay again');
    }
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
      if (r.frame) {
        if (r.frame.type === 'queued') {
          d.lastPosition = r.frame.position as number;
          d.lastPositionAt = Date.now();
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
    const waiting = phase === 'queued' || phase === 'pre';
    if (waiting && !ws.isSubscribed(waitTopic(d.saleId))) ws.subscribe(waitTopic(d.saleId));
    if (!waiting && ws.isSubscribed(waitTopic(d.saleId))) ws.unsubscribe(waitTopic(d.saleId));
    d.phase = phase;
    if (ticket !== undefined) d.ticket = ticket;
  }

  /** The contract's `sale` frame for a sale as it stands now, serialised once; null for no such sale. */
  private async saleFrame(saleId: string): Promise<string | null> {
    const sale = await this.ctx.saleCache.get(saleId);
    if (!sale) return null;
    // The window buyers were told of: a start or end after this is announced by the next tick.
    if (!this.windows.has(saleId)) this.windows.set(saleId, windowOf(sale, Date.now()));
    const soldOut = await this.ctx.sales.isSoldOut(saleId);
    return JSON.stringify({ type: 'sale', state: saleState(sale, soldOut), startsAt: sale.startsAt, endsAt: sale.endsAt });
  }

  private async sendSaleFrame(ws: Ws): Promise<void> {
    const frame = await this.saleFrame(ws.getUserData().saleId);
    if (frame) this.sendRaw(ws, frame);
  }

  private sendRaw(ws: Ws, frame: string): void {
    if (ws.getUserData().closed) return;
    ws.send(frame, false);
  }

  /** Sends a frame to every socket of one buyer on this gateway and moves their phase along. */
  private toBuyer(saleId: string, buyer: string, frame: { type: string; [k: string]: unknown }): void {
    const set = this.sockets.get(saleId)?.get(buyer);
    if (frame.type === 'order_confirmed' && set) this.payTimer.confirmed(frame.holdId as string);
    else if (frame.type === 'order_confirmed' || frame.type === 'hold_expired' || (frame.type === 'payment_failed' && !frame.retryable)) this.payTimer.forget(frame.holdId as string);
    if (!set) return;
    const text = JSON.stringify(frame);
    const phase: Phase = frame.type === 'admitted' || frame.type === 'payment_pending' || (frame.type === 'payment_failed' && frame.retryable) ? 'holding' : 'done';
    for (const ws of set) {
      const d = ws.getUserData();
      d.seq++;
      this.setPhase(ws, phase);
      this.sendRaw(ws, text);
    }
  }

  /** A message from the sale's Redis channel (every gateway gets every message once). */
  onSaleEvent(saleId: string, ev: SaleEvent): void {
    // Only an existing sale has events (its admitter ticks at least once a second): once this
    // gateway has heard of it, its buyers upgrade without a lookup.
    this.ctx.saleCache.markKnown(saleId);
    switch (ev.t) {
      case 'tick':
        this.served.set(saleId, { served: ev.served, rate: ev.rate });
        for (const { b, f } of ev.buyers) this.toBuyer(saleId, b, f);
        this.pushPositions(saleId, ev.served, ev.rate);
        this.announceWindow(saleId).catch((err) => this.ctx.log.error({ err, sale: saleId }, 'could not announce the sale window'));
        return;
      case 'buyer':
        return this.toBuyer(saleId, ev.b, ev.f);
      case 'state':
        this.ctx.saleCache.forget(saleId);
        if (ev.state === 'sold_out') this.app.publish(waitTopic(saleId), '{"type":"sold_out"}', false);
        this.publishSaleFrame(saleId).catch((err) => this.ctx.log.error({ err, sale: saleId }, 'could not publish the sale frame'));
        return;
      case 'sealed':
        // The pre-queue became tickets: each pre-queued socket reads its ticket once.
        for (const set of this.sockets.get(saleId)?.values() ?? []) {
          for (const ws of set) if (ws.getUserData().phase === 'pre') this.enqueue(ws, () => this.answer(ws, () => this.ctx.room.status(saleId, ws.getUserData().buyer)));
        }
        return;
    }
  }

  /**
   * A sale opens at startsAt and ends at endsAt without any operator action, so no 'state' event says
   * so; the contract still wants a sale frame on every state change (and waiters must not wait for
   * nothing after the end). The admitter ticks every sale at least once a second: each tick compares
   * the sale's window with the last one seen and publishes the frame when it moved.
   */
  private async announceWindow(saleId: string): Promise<void> {
    if (!this.sockets.has(saleId)) {
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
    const byBuyer = this.sockets.get(saleId);
    if (!byBuyer) return;
    const now = Date.now();
    const effRate = rate > 0 ? rate : 1;
    for (const set of byBuyer.values()) {
      for (const ws of set) {
        const d = ws.getUserData();
        if (d.phase !== 'queued' || d.ticket <= 0) continue;
        const position = Math.max(1, d.ticket - served);
        if (position === d.lastPosition || now - d.lastPositionAt < 1000) continue;
        d.lastPosition = position;
        d.lastPositionAt = now;
        this.sendRaw(ws, JSON.stringify({ type: 'queued', position, etaSeconds: eta(position, effRate) }));
      }
    }
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
  return new ApiError('internal');
}
