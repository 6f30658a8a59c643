import type { BuyerView } from '../admission/waiting-room.js';
import type { BuyerFrame, SaleEvent } from '../admission/sale-events.js';
import { placeEstimator, type PlaceEstimate } from '../admission/estimates.js';
import { frameText } from './buyer-frames.js';
import { ADMITTING, expectsNews, isWaiting, queuedText, settingsEstimator, stageAfter, type Estimator } from './buyer-state.js';
import { clockMs, sendText, setStage, type Ws } from './buyer-socket.js';
import type { BuyerSockets } from './buyer-sockets.js';
import type { Context } from './context.js';
import type { PayTimer } from './pay-timer.js';
import type { SaleWindows } from './sale-window.js';

const SOLD_OUT_TEXT = frameText({ type: 'sold_out' });
/** Estimate sampling per sale and gateway (recordPrediction): all of the first, then one in this many. */
export const RECORD_ALL = 500;
export const RECORD_EVERY = 8;

/** What the fan-out asks of the hub: a socket's frames run one at a time, and its answers from Redis. */
export interface SocketWork {
  /** Runs a task after the socket's frames in hand (one at a time per socket, in order). */
  enqueue(ws: Ws, task: () => Promise<void>): void;
  /** Reads a buyer's state and sends it, unless a pushed event makes the read stale. */
  answer(ws: Ws, read: () => Promise<BuyerView>): Promise<void>;
}

/**
 * Sale events to this gateway's sockets: each message of a sale's Redis channel (every gateway gets
 * every message once) becomes frames for the buyers connected here, from the hub's own index of
 * sockets; and after a lost subscription or a heal, the sockets that still expect news read their
 * state again.
 */
export class SaleFanout {
  /**
   * The last tick of each sale with sockets here: served ticket, the estimator of its chance/ETA model
   * that answers use, and how many first predictions this gateway has offered to the sale's estimate
   * record (sampling).
   */
  private readonly served = new Map<string, { served: number; est?: Estimator; offered: number }>();

  constructor(
    private readonly ctx: Pick<Context, 'saleCache' | 'room' | 'log' | 'sales'>,
    private readonly sockets: BuyerSockets<Ws>,
    private readonly windows: SaleWindows,
    private readonly payTimer: PayTimer,
    private readonly work: SocketWork,
  ) {}

  /** The estimator of the sale's last tick with a model; undefined before one was heard here. */
  estimatorOf(saleId: string): Estimator | undefined {
    return this.served.get(saleId)?.est;
  }

  /**
   * A socket's first prediction from a tick's model, kept for the operator's estimate quality: every
   * one of a sale's first RECORD_ALL buyers on this gateway, then one in RECORD_EVERY. Recording costs
   * the gateway ~20 µs a buyer (formatting, the batched script's arguments): a sample holds the scores
   * as well and keeps a 100,000-buyer stampede's joins as cheap as before the record existed.
   */
  recordPrediction(ws: Ws, e: PlaceEstimate): void {
    const d = ws.getUserData();
    if (d.predicted || d.closed) return;
    d.predicted = true;
    const sale = this.served.get(d.saleId);
    if (!sale) return;
    const n = sale.offered++;
    if (n >= RECORD_ALL && n % RECORD_EVERY !== 0) return;
    this.ctx.sales.estimates.record(d.saleId, d.buyer, { at: Date.now(), chance: e.chance, etaSeconds: e.etaSeconds, etaRange: e.etaRange });
  }

  /** Entries kept by sale id (for the sale-entries gauge). */
  size(): number {
    return this.served.size;
  }

  onSaleEvent(saleId: string, ev: SaleEvent): void {
    // Only an existing sale has events (its admitter ticks at least once a second): once this
    // gateway has heard of it, its buyers upgrade without a lookup.
    this.ctx.saleCache.markKnown(saleId);
    switch (ev.t) {
      case 'tick': {
        // An admitter of an older version sends no model: the last one heard stays in use.
        const prev = this.served.get(saleId);
        // One estimator per sale per tick, shared by the pushes below and the answers until the next tick.
        const est = ev.m ? placeEstimator(ev.m) : prev?.est;
        // Kept for sales with sockets here only (answers read it for their ETAs).
        if (this.sockets.hasSale(saleId)) this.served.set(saleId, { served: ev.served, est, offered: prev?.offered ?? 0 });
        else this.served.delete(saleId);
        for (const { b, f, t } of ev.buyers) this.toBuyer(saleId, b, f, t);
        if (est) this.pushPositions(saleId, ev.served, est, ev.m !== undefined);
        // No model heard yet (an admitter of an older version, mid-deploy): positions still move, with
        // estimates from the sale's settings. Sent a moment later, so only to sockets still waiting then.
        else if (this.sockets.hasSale(saleId)) {
          this.ctx.saleCache.get(saleId)
            .then((sale) => this.pushPositions(saleId, ev.served, settingsEstimator(sale), false))
            .catch((err: unknown) => this.ctx.log.warn({ err, sale: saleId }, 'could not push positions'));
        }
        this.windows.tick(saleId).catch((err) => this.ctx.log.error({ err, sale: saleId }, 'could not announce the sale window'));
        return;
      }
      case 'buyer':
        return this.toBuyer(saleId, ev.b, ev.f);
      case 'state':
        this.ctx.saleCache.forget(saleId);
        this.windows.forget(saleId);
        // To the sockets waiting now (holders and finished buyers are not told): the string is made
        // once, each send is uWS's own write.
        if (ev.state === 'sold_out') {
          this.sockets.forSale(saleId, (ws) => {
            if (isWaiting(ws.getUserData().stage)) sendText(ws, SOLD_OUT_TEXT);
          });
        }
        this.windows.publish(saleId).catch((err) => this.ctx.log.error({ err, sale: saleId }, 'could not publish the sale frame'));
        return;
      case 'healed':
        // The sale's Redis copy was rebuilt from the ledger: what a socket was told may be gone.
        this.resyncSale(saleId);
        return;
      case 'sealed':
        // The pre-queue became tickets: each pre-queued socket reads its ticket once.
        this.sockets.forSale(saleId, (ws) => {
          if (ws.getUserData().stage === 'pre') this.work.enqueue(ws, () => this.work.answer(ws, () => this.ctx.room.status(saleId, ws.getUserData().buyer)));
        });
        return;
      case 'probe':
        // A subscriber's own heartbeat: nothing for buyers.
        return;
    }
  }

  /**
   * Sends a frame about a hold to every socket of its buyer on this gateway and moves their stage along.
   * `ticket`: the admission's ticket. A socket still pre-queued here was admitted in the tick of the
   * seal, before it read its sealed ticket: it is told the ticket first (a `queued` frame at the front
   * of the line), so "verify my place" checks the ticket the draw gave it, not its rank before the seal.
   */
  toBuyer(saleId: string, buyer: string, frame: BuyerFrame, ticket?: number): void {
    const here = this.sockets.hasBuyer(saleId, buyer);
    const stage = stageAfter(frame);
    if (frame.type === 'order_confirmed' && here) this.payTimer.confirmed(frame.holdId);
    else if (stage === 'finished') this.payTimer.forget(frame.holdId);
    if (!here) return;
    const text = frameText(frame);
    this.sockets.forBuyer(saleId, buyer, (ws) => {
      const d = ws.getUserData();
      if (ticket !== undefined && d.stage === 'pre') sendText(ws, queuedText(1, ticket, ADMITTING));
      d.seq++;
      setStage(d, stage);
      d.holdId = frame.holdId;
      sendText(ws, text);
    });
  }

  /**
   * The sale events' subscription was lost and is back. Redis pub/sub keeps nothing for a subscriber
   * that is away, so whatever was published meanwhile (an `admitted`, an `order_confirmed`, a
   * `sold_out`) never reached this gateway, and its buyers would wait for it for ever. So, as on a
   * reconnect, every buyer still expecting news (pre-queued, waiting, holding) reads their state
   * again, and each sale's frame is sent afresh. Finished buyers and those who never joined are left
   * alone. Call it only once the subscription is active again, or events could fall in between.
   */
  resync(): void {
    for (const saleId of this.sockets.saleIds()) this.resyncSale(saleId);
  }

  /** Every socket of one sale still expecting news reads its state again (resyncSocket); the sale frame is sent afresh. */
  resyncSale(saleId: string): void {
    this.ctx.saleCache.forget(saleId);
    this.windows.forget(saleId);
    this.windows.publish(saleId).catch((err) => this.ctx.log.warn({ err, sale: saleId }, 'could not publish the sale frame'));
    this.sockets.forSale(saleId, (ws) => {
      if (expectsNews(ws.getUserData().stage)) this.work.enqueue(ws, () => this.resyncSocket(ws));
    });
  }

  /**
   * A socket's state read again (after a heal, or a lost subscription). A buyer whose hold vanished
   * with a lost copy is told it ended (the unit went back to the pool); a waiter whose place vanished
   * is given one again (join is idempotent: a place the copy kept is the same place); everyone else
   * gets their state as Redis now says.
   */
  private async resyncSocket(ws: Ws): Promise<void> {
    const d = ws.getUserData();
    const { stage, holdId } = d;
    const view = await this.ctx.room.status(d.saleId, d.buyer);
    if (view.kind === 'none' && stage === 'holding' && holdId !== '') return this.toBuyer(d.saleId, d.buyer, { type: 'hold_expired', holdId });
    if (view.kind === 'none' && isWaiting(stage)) return this.work.answer(ws, () => this.ctx.room.join(d.saleId, d.buyer));
    return this.work.answer(ws, () => Promise.resolve(view));
  }

  /**
   * Positions move locally: position = my ticket - served ticket; no Redis call per waiting buyer. The
   * sale's model came with the tick, so a place's chance and ETA interval are a few flops (estimates.ts).
   */
  private pushPositions(saleId: string, served: number, est: Estimator, fromTick: boolean): void {
    const now = clockMs();
    this.sockets.forSale(saleId, (ws) => {
      const d = ws.getUserData();
      if (d.stage !== 'waiting' || d.ticket <= 0) return;
      const position = Math.max(1, d.ticket - served);
      if (position === d.lastPosition || now - d.lastPositionAt < 1000) return;
      d.lastPosition = position;
      d.lastPositionAt = now;
      const e = est(position);
      if (fromTick && !d.predicted) this.recordPrediction(ws, e);
      sendText(ws, queuedText(position, d.ticket, e));
    });
  }
}
