/**
 * Open buyer sockets per buyer (`sub`) on this gateway, at most `max` (MAX_SOCKETS_PER_BUYER): one
 * valid token must not be able to hold thousands of sockets (each costs native memory, a place in
 * every fan-out, and a frame budget of its own).
 *
 * A slot is taken in the upgrade handler, before any await, and given back by the socket's close (or
 * by the upgrade itself when it ends without a socket: unknown sale, aborted request, error). So an
 * upgrade that passed the check but has not opened yet counts: twelve upgrades racing through the
 * sale lookup cannot all pass a limit of four. A buyer with no socket left has no entry.
 */
export class BuyerSlots {
  private readonly held = new Map<string, number>();
  constructor(readonly max: number) {}

  /** Takes a slot for one more socket of `buyer`; false when the buyer holds `max` already. */
  take(buyer: string): boolean {
    const n = this.held.get(buyer) ?? 0;
    if (n >= this.max) return false;
    this.held.set(buyer, n + 1);
    return true;
  }

  release(buyer: string): void {
    const n = this.held.get(buyer);
    if (n === undefined) return;
    if (n <= 1) this.held.delete(buyer);
    else this.held.set(buyer, n - 1);
  }

  /** Slots `buyer` holds now (open sockets and upgrades in flight). */
  of(buyer: string): number {
    return this.held.get(buyer) ?? 0;
  }

  /** Buyers holding at least one slot. */
  buyers(): number {
    return this.held.size;
  }
}
