/**
 * The buyer sockets of one gateway, by sale and buyer. It is held for every waiting buyer, so its
 * shape is about memory per socket (the `memory` bench): a buyer with one tab — nearly all of them —
 * is one map entry pointing at the socket itself, not a Set of one; a second tab turns the entry
 * into an array. Each sale's id is stored once and handed back to its sockets, so N sockets share one
 * string instead of keeping N copies of the URL parameter. A sale's entry goes with its last socket:
 * nothing here outlives the sockets (sale ids come from buyers' URLs).
 */
export class BuyerSockets<S> {
  private readonly sales = new Map<string, { readonly id: string; readonly buyers: Map<string, S | S[]> }>();
  private size = 0;

  /** Adds a socket; returns the sale id to keep on it (the one shared copy). */
  add(saleId: string, buyer: string, socket: S): string {
    let sale = this.sales.get(saleId);
    if (!sale) this.sales.set(saleId, (sale = { id: saleId, buyers: new Map() }));
    const had = sale.buyers.get(buyer);
    if (had === undefined) sale.buyers.set(buyer, socket);
    else if (Array.isArray(had)) had.push(socket);
    else sale.buyers.set(buyer, [had, socket]);
    this.size++;
    return sale.id;
  }

  remove(saleId: string, buyer: string, socket: S): void {
    const buyers = this.sales.get(saleId)?.buyers;
    const had = buyers?.get(buyer);
    if (had === undefined) return;
    if (!Array.isArray(had)) {
      if (had !== socket) return;
      buyers!.delete(buyer);
      if (buyers!.size === 0) this.sales.delete(saleId);
    } else {
      const i = had.indexOf(socket);
      if (i < 0) return;
      had.splice(i, 1);
      if (had.length === 1) buyers!.set(buyer, had[0]!);
    }
    this.size--;
  }

  /** Whether this gateway holds a socket of the sale now. */
  hasSale(saleId: string): boolean {
    return this.sales.has(saleId);
  }

  hasBuyer(saleId: string, buyer: string): boolean {
    return this.sales.get(saleId)?.buyers.has(buyer) ?? false;
  }

  /** Every socket of one buyer in one sale (several tabs share a place), in the order they opened. */
  forBuyer(saleId: string, buyer: string, fn: (socket: S) => void): void {
    const had = this.sales.get(saleId)?.buyers.get(buyer);
    if (had === undefined) return;
    if (!Array.isArray(had)) return fn(had);
    // A copy: fn may close a socket, which removes it from this very array.
    for (const s of [...had]) fn(s);
  }

  /** The sales this gateway holds sockets of. */
  saleIds(): string[] {
    return [...this.sales.keys()];
  }

  forSale(saleId: string, fn: (socket: S) => void): void {
    const buyers = this.sales.get(saleId)?.buyers;
    if (!buyers) return;
    for (const had of buyers.values()) {
      if (!Array.isArray(had)) fn(had);
      else for (const s of [...had]) fn(s);
    }
  }

  count(): number {
    return this.size;
  }

  /** Sales with at least one socket here. */
  saleCount(): number {
    return this.sales.size;
  }
}
