import { metrics } from '../shared/metrics.js';

/** A pay that never hears back (worker gone, dead letter) is forgotten after this; no unbounded map. */
const FORGET_AFTER_NS = 15n * 60n * 1_000_000_000n;
const SWEEP_EVERY = 1024;

/**
 * `fs_pay_to_confirmed_seconds`: from a `pay` frame received by this gateway to the `order_confirmed`
 * it sends for that hold. Only the gateway that took the pay frame knows the start, so only it
 * observes; a retried pay (after a decline) restarts the clock, as the buyer sees it.
 */
export class PayTimer {
  private readonly started = new Map<string, bigint>();
  private sinceSweep = 0;

  start(holdId: string, receivedAt: bigint): void {
    this.started.set(holdId, receivedAt);
    if (++this.sinceSweep >= SWEEP_EVERY) this.sweep(process.hrtime.bigint());
  }

  /** The buyer was told the order is confirmed: observe once and forget the hold. */
  confirmed(holdId: string, now = process.hrtime.bigint()): void {
    const at = this.started.get(holdId);
    if (at === undefined) return;
    this.started.delete(holdId);
    metrics.payToConfirmed.observe(Number(now - at) / 1e9);
  }

  /** The hold ended without an order (expired, refused for good): nothing to observe. */
  forget(holdId: string): void {
    this.started.delete(holdId);
  }

  get size(): number {
    return this.started.size;
  }

  sweep(now: bigint): void {
    this.sinceSweep = 0;
    for (const [holdId, at] of this.started) if (now - at > FORGET_AFTER_NS) this.started.delete(holdId);
  }
}
