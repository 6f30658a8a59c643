import { describe, expect, it } from 'vitest';
import { BuyerSockets } from './buyer-sockets.js';

const all = (r: BuyerSockets<string>, sale: string) => {
  const out: string[] = [];
  r.forSale(sale, (s) => out.push(s));
  return out;
};
const ofBuyer = (r: BuyerSockets<string>, sale: string, buyer: string) => {
  const out: string[] = [];
  r.forBuyer(sale, buyer, (s) => out.push(s));
  return out;
};

describe('BuyerSockets', () => {
  it('keeps one buyer\'s tabs together, in the order they opened, and counts every socket', () => {
    const r = new BuyerSockets<string>();
    r.add('s1', 'b1', 'tab1');
    r.add('s1', 'b2', 'other');
    r.add('s1', 'b1', 'tab2');
    r.add('s1', 'b1', 'tab3');
    r.add('s2', 'b1', 'elsewhere');
    expect(r.count()).toBe(5);
    expect(ofBuyer(r, 's1', 'b1')).toEqual(['tab1', 'tab2', 'tab3']);
    expect(all(r, 's1').sort()).toEqual(['other', 'tab1', 'tab2', 'tab3']);
    expect(all(r, 's2')).toEqual(['elsewhere']);

    r.remove('s1', 'b1', 'tab2');
    expect(ofBuyer(r, 's1', 'b1')).toEqual(['tab1', 'tab3']);
    r.remove('s1', 'b1', 'tab1');
    expect(ofBuyer(r, 's1', 'b1')).toEqual(['tab3']);
    expect(r.hasBuyer('s1', 'b1')).toBe(true);
    r.remove('s1', 'b1', 'tab3');
    expect(r.hasBuyer('s1', 'b1')).toBe(false);
    expect(ofBuyer(r, 's1', 'b1')).toEqual([]);
    expect(r.count()).toBe(2);
  });

  it('ignores removing a socket it does not hold (a close after a failed open)', () => {
    const r = new BuyerSockets<string>();
    r.add('s1', 'b1', 'tab1');
    r.remove('s1', 'b1', 'nope');
    r.remove('s1', 'b9', 'tab1');
    r.remove('s9', 'b1', 'tab1');
    r.add('s1', 'b1', 'tab2');
    r.remove('s1', 'b1', 'nope');
    expect(ofBuyer(r, 's1', 'b1')).toEqual(['tab1', 'tab2']);
    expect(r.count()).toBe(2);
  });

  it('hands every socket of a sale the same sale id string, and drops the sale with its last socket', () => {
    const r = new BuyerSockets<string>();
    const first = 'sale-' + 'x'.repeat(3);
    const second = ['sale', 'xxx'].join('-');
    expect(r.add(first, 'b1', 'a')).toBe(first);
    expect(r.add(second, 'b2', 'b')).toBe(first);
    r.remove(first, 'b1', 'a');
    expect(r.hasSale('sale-xxx')).toBe(true);
    r.remove(first, 'b2', 'b');
    expect(r.count()).toBe(0);
    expect(r.hasSale('sale-xxx')).toBe(false);
    expect(r.hasSale('other')).toBe(false);
    expect(r.saleIds()).toEqual([]);
    expect(r.saleCount()).toBe(0);
    // A second tab's array is emptied down to one socket, then to none: the sale goes too.
    r.add('s2', 'b1', 'x');
    r.add('s2', 'b1', 'y');
    r.remove('s2', 'b1', 'x');
    r.remove('s2', 'b1', 'y');
    expect(r.saleCount()).toBe(0);
  });

  it('a socket removed while a sale is walked is not lost for the others', () => {
    const r = new BuyerSockets<string>();
    for (const t of ['t1', 't2', 't3']) r.add('s1', 'b1', t);
    const seen: string[] = [];
    r.forBuyer('s1', 'b1', (s) => {
      seen.push(s);
      r.remove('s1', 'b1', s);
    });
    expect(seen).toEqual(['t1', 't2', 't3']);
    expect(r.count()).toBe(0);
  });
});
