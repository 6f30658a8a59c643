import { prequeueCommitment } from '../admission/prequeue.js';
import { saleState, type Sale } from '../admission/sale-schema.js';
import { frameText } from './buyer-frames.js';
import type { Context } from './context.js';
import { OpenFrames, type ReadFrame } from './open-frames.js';

/** Where the clock stands in a sale's window: before its start, during it, after its end. */
export type SaleWindow = 'before' | 'during' | 'after';

export function windowOf(sale: Pick<Sale, 'startsAt' | 'endsAt'>, now: number): SaleWindow {
  return now < Date.parse(sale.startsAt) ? 'before' : now < Date.parse(sale.endsAt) ? 'during' : 'after';
}

/**
 * The contract's `sale` frame of each sale with sockets here, and the sale-window clock that changes
 * it. A sale opens at startsAt and ends at endsAt without any operator action, so no 'state' event
 * says so; the contract still wants a sale frame on every state change (and waiters must not wait for
 * nothing after the end). The admitter ticks every sale at least once a second: each tick compares
 * the sale's window with the last one seen and publishes the frame when it moved.
 */
export class SaleWindows {
  /** Where each sale's clock stood at the last tick, so a start or end by time is announced once. */
  private readonly windows = new Map<string, SaleWindow>();
  private readonly openFrames = new OpenFrames((saleId) => this.read(saleId));

  constructor(
    private readonly ctx: Pick<Context, 'saleCache' | 'sales'>,
    /** Whether this gateway holds sockets of the sale (a window is kept only while it does). */
    private readonly hasSockets: (saleId: string) => boolean,
    /** Sends a sale frame to every socket of the sale (one serialisation, uWS's topic). */
    private readonly publishText: (saleId: string, text: string) => void,
  ) {}

  /** The frame for a socket opening now (shared, at most a second old, never past a start or end). */
  openFrame(saleId: string): Promise<string | null> {
    return this.openFrames.get(saleId);
  }

  /** The sale frame as it stands now, serialised once; null for no such sale. */
  async frame(saleId: string): Promise<string | null> {
    return (await this.read(saleId)).frame;
  }

  /** The sale changed (a 'state' event, a heal): opening sockets must not be sent the old frame. */
  forget(saleId: string): void {
    this.openFrames.forget(saleId);
  }

  async publish(saleId: string): Promise<void> {
    const frame = await this.frame(saleId);
    // One serialisation for every socket of the sale (uWS topic), not one per socket.
    if (frame) this.publishText(saleId, frame);
  }

  /** A tick of the sale: publishes its frame when the clock moved it into another window. */
  async tick(saleId: string): Promise<void> {
    if (!this.hasSockets(saleId)) {
      this.windows.delete(saleId);
      return;
    }
    const sale = await this.ctx.saleCache.get(saleId);
    if (!sale) return;
    const w = windowOf(sale, Date.now());
    const seen = this.windows.get(saleId);
    this.windows.set(saleId, w);
    if (seen !== undefined && seen !== w) await this.publish(saleId);
  }

  /** Entries kept by sale id (for the sale-entries gauge). */
  size(): number {
    return this.openFrames.size() + this.windows.size;
  }

  private async read(saleId: string): Promise<ReadFrame> {
    const sale = await this.ctx.saleCache.get(saleId);
    if (!sale) return { frame: null, changesAt: Number.POSITIVE_INFINITY };
    const now = Date.now();
    // The window buyers were told of: a start or end after this is announced by the next tick. Kept
    // only while the sale has sockets here (tick drops it with the last one).
    if (!this.windows.has(saleId) && this.hasSockets(saleId)) this.windows.set(saleId, windowOf(sale, now));
    const soldOut = await this.ctx.sales.isSoldOut(saleId);
    const startsAt = Date.parse(sale.startsAt);
    const endsAt = Date.parse(sale.endsAt);
    return {
      frame: frameText({
        type: 'sale', state: saleState(sale, soldOut, now), startsAt: sale.startsAt, endsAt: sale.endsAt,
        name: sale.name, price: { amount: sale.price.amount, currency: sale.price.currency },
        prequeueCommitment: prequeueCommitment(sale.prequeueKey),
      }),
      changesAt: now < startsAt ? startsAt : now < endsAt ? endsAt : Number.POSITIVE_INFINITY,
    };
  }
}
