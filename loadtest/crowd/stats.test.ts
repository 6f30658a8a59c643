import { describe, expect, it } from 'vitest';
import { percentile, percentiles, renderTable, summarise, type BuyerResult, type LedgerView } from './stats.js';
import { crowdOptions, crowdUsage, parseCrowdArgs, sourceAddresses } from './options.js';
import { planOf } from './run.js';
import { sameState } from './reconnect-state.js';

const buyer = (over: Partial<BuyerResult>): BuyerResult => ({ id: 'b', outcome: 'sold_out', joined: true, admitted: false, declines: 0, reconnects: 0, orderIds: [], ...over });
const ledger = (over: Partial<LedgerView> = {}): LedgerView => ({ stock: 2, sold: 2, orders: 2, charges: 2, auditOk: true, problems: [], ...over });
const extra = { seconds: 1.23, threads: 2, sourceAddresses: ['127.0.0.1', '127.0.0.2'] };

describe('percentiles', () => {
  it('are nearest-rank: a value some buyer really saw', () => {
    const xs = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(xs, 50)).toBe(50);
    expect(percentile(xs, 95)).toBe(95);
    expect(percentile(xs, 99)).toBe(99);
    expect(percentile(xs, 100)).toBe(100);
    expect(percentile([7], 99)).toBe(7);
    expect(percentile([], 50)).toBe(0);
    expect(percentile([1, 2, 3, 4], 50)).toBe(2);
  });

  it('sort their input and report count and max', () => {
    expect(percentiles([5, 1, 4, 2, 3])).toEqual({ n: 5, p50: 3, p95: 5, p99: 5, max: 5 });
    expect(percentiles([])).toEqual({ n: 0, p50: 0, p95: 0, p99: 0, max: 0 });
  });
});

describe('summary', () => {
  const results = [
    buyer({ id: 'a', outcome: 'confirmed', admitted: true, orderIds: ['ord_1'], connectMs: 10, joinToQueuedMs: 5, admittedToConfirmedMs: 100 }),
    buyer({ id: 'b', outcome: 'confirmed', admitted: true, declines: 1, orderIds: ['ord_2'], connectMs: 20, joinToQueuedMs: 7, admittedToConfirmedMs: 300 }),
    buyer({ id: 'c', outcome: 'expired', admitted: true, connectMs: 30 }),
    buyer({ id: 'd', outcome: 'sold_out', reconnects: 2 }),
    buyer({ id: 'e', outcome: 'stuck', joined: false }),
  ];

  it('counts every outcome and passes only with nothing stuck', () => {
    const s = summarise('stampede', 's1', results, ledger(), extra);
    expect(s.counts).toEqual({ joined: 4, admitted: 3, paid: 2, declined: 1, expired: 1, soldOut: 1, left: 0, ended: 0, stuck: 1 });
    expect(s.reconnects).toBe(2);
    expect(s.latencyMs.admittedToConfirmed).toMatchObject({ n: 2, p50: 100, p99: 300 });
    expect(s.oversell.ok).toBe(true);
    expect(s.ok).toBe(false);
    expect(summarise('stampede', 's1', results.slice(0, 4), ledger(), extra).ok).toBe(true);
  });

  it('fails the oversell check on more sold than stock, a dirty audit, a missing charge or two orders for one buyer', () => {
    const ok = results.slice(0, 4);
    expect(summarise('x', 's', ok, ledger({ sold: 3, orders: 3, charges: 3, stock: 2 }), extra).oversell).toMatchObject({ ok: false, oversoldBy: 1 });
    expect(summarise('x', 's', ok, ledger({ auditOk: false, problems: ['p'] }), extra).oversell.ok).toBe(false);
    expect(summarise('x', 's', ok, ledger({ charges: 3 }), extra).oversell.ok).toBe(false);
    const twice = [buyer({ outcome: 'confirmed', orderIds: ['ord_1', 'ord_2'] })];
    expect(summarise('x', 's', twice, ledger(), extra).oversell).toMatchObject({ ok: false, buyersWithTwoOrders: 1 });
  });

  it('requires every dropped buyer to get their state back', () => {
    const storm = [buyer({ restored: true }), buyer({ restored: false }), buyer({})];
    const s = summarise('reconnect-storm', 's', storm, ledger({ sold: 0, orders: 0, charges: 0 }), extra);
    expect(s.restoredAfterDrop).toEqual({ dropped: 2, restored: 1 });
    expect(s.ok).toBe(false);
  });

  it('counts buyers per gateway and reconnects that moved to another, only with several gateways', () => {
    const spread = [buyer({ gateway: 0 }), buyer({ gateway: 1, gatewaySwitches: 1 }), buyer({ gateway: 1, gatewaySwitches: 2 }), buyer({ gateway: 2 })];
    const urls = ['http://a:1', 'http://b:2', 'http://c:3'];
    const s = summarise('stampede', 's', spread, ledger({ sold: 0, orders: 0, charges: 0 }), { ...extra, gateways: urls });
    expect(s.gateways).toEqual({ urls, buyers: [1, 2, 1], switches: 3 });
    expect(renderTable(s)).toContain('| buyers per gateway');
    expect(renderTable(s)).toContain('1 / 2 / 1 (3 reconnects moved to another gateway)');
    expect(summarise('stampede', 's', spread, ledger(), { ...extra, gateways: ['http://a:1'] }).gateways).toBeUndefined();
  });

  it('renders a table with every figure the issue asks for', () => {
    const t = renderTable(summarise('stampede', 's1', results, ledger(), extra));
    for (const row of ['joined', 'admitted', 'paid', 'declined', 'expired', 'sold out', 'stuck', 'connect p50/p95/p99', 'join→queued p50/p95/p99', 'admitted→confirmed p50/p95/p99', 'oversell check', 'FAIL']) {
      expect(t).toContain(row);
    }
    const widths = new Set(t.split('\n').map((l) => l.length));
    expect(widths.size, t).toBe(1);
  });
});

describe('runner flags and plans', () => {
  it('--help lists every flag with its default and never prints a secret', () => {
    const text = crowdUsage();
    for (const flag of ['--scenario', '--buyers', '--stock', '--rate', '--hold-seconds', '--threads', '--sources', '--json']) expect(text).toContain(flag);
    expect(text).toMatch(/--buyers\s+1000/);
    expect(text).not.toContain(crowdOptions.parse({}).secret);
    expect(text).not.toContain(crowdOptions.parse({}).adminToken);
  });

  it('parses flags with zod and names a wrong one', () => {
    const o = parseCrowdArgs(['--buyers', '10000', '--stock', '1000', '--scenario', 'soak', '--json']);
    expect(o).toMatchObject({ buyers: 10000, stock: 1000, scenario: 'soak', json: true, progress: true });
    expect(() => parseCrowdArgs(['--buyers', 'many'])).toThrow(/--buyers/);
    expect(() => parseCrowdArgs(['--scenario', 'panic'])).toThrow(/--scenario/);
    expect(() => parseCrowdArgs(['--abandon', '0.6', '--leave', '0.6'])).toThrow(/at most 1/);
    expect(() => parseCrowdArgs(['--nope', '1'])).toThrow();
  });

  it('--url takes one gateway or a comma list of them, each a URL', () => {
    expect(parseCrowdArgs([]).url).toEqual(['http://127.0.0.1:9001']);
    expect(parseCrowdArgs(['--url', 'http://127.0.0.1:9301/']).url).toEqual(['http://127.0.0.1:9301']);
    expect(parseCrowdArgs(['--url', 'http://127.0.0.1:9301, http://127.0.0.2:9302,http://10.0.0.3:9001']).url)
      .toEqual(['http://127.0.0.1:9301', 'http://127.0.0.2:9302', 'http://10.0.0.3:9001']);
    // The benches pass options in code, as one string or a list.
    expect(crowdOptions.parse({ url: ['http://a:1', 'http://b:2'] }).url).toEqual(['http://a:1', 'http://b:2']);
    expect(() => parseCrowdArgs(['--url', 'http://127.0.0.1:9301,not-a-url'])).toThrow(/--url/);
    expect(() => parseCrowdArgs(['--url', ' , '])).toThrow(/--url: at least one gateway URL/);
    expect(crowdUsage()).toMatch(/--url\s+http:\/\/127\.0\.0\.1:9001 \(a comma list/);
  });

  it('spreads plans in the asked shares and source addresses over 127.0.0.x', () => {
    const n = 10_000;
    const o = { abandon: 0.1, leave: 0.05, decline: 0.15 };
    const c = { pay: 0, decline: 0, abandon: 0, leave: 0 };
    for (let i = 0; i < n; i++) c[planOf(i, o)]++;
    expect(c.abandon / n).toBeCloseTo(0.1, 2);
    expect(c.leave / n).toBeCloseTo(0.05, 2);
    expect(c.decline / n).toBeCloseTo(0.15, 2);
    expect(sourceAddresses(3)).toEqual(['127.0.0.1', '127.0.0.2', '127.0.0.3']);
  });

  it('judges a restored state after a drop', () => {
    expect(sameState('queued', { type: 'queued' })).toBe(true);
    expect(sameState('queued', { type: 'admitted', holdId: 'hold_1' })).toBe(true);
    expect(sameState('hold:hold_1', { type: 'admitted', holdId: 'hold_1' })).toBe(true);
    expect(sameState('hold:hold_1', { type: 'admitted', holdId: 'hold_2' })).toBe(false);
    expect(sameState('hold:hold_1', { type: 'queued' })).toBe(false);
  });
});
