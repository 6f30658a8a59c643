import type { DrawBuyer, DrawCheck, EstimateQuality } from './draw-check.js';

/**
 * The arithmetic of a load run, kept pure so it is tested on its own: percentiles, the per-buyer
 * results folded into one summary, and the summary table people read at the end of a run.
 */

/** How a buyer's run ended. */
export type Outcome = 'confirmed' | 'sold_out' | 'expired' | 'left' | 'ended' | 'stuck';

/**
 * What one buyer went through, as a worker thread reports it (plain data: it crosses threads); what
 * the draw and estimate checks read of it (commitment, ticket, estimate, joinedAt) is DrawBuyer's.
 */
export interface BuyerResult extends DrawBuyer {
  id: string;
  outcome: Outcome;
  /** Answered the join with a state (queued, admitted, sold_out). */
  joined: boolean;
  admitted: boolean;
  declines: number;
  reconnects: number;
  orderIds: string[];
  connectMs?: number;
  joinToQueuedMs?: number;
  admittedToConfirmedMs?: number;
  /** Epoch ms of the first admitted frame (sell-out timing). */
  admittedAt?: number;
  /** Epoch ms of the order_confirmed frame (sell-out timing). */
  confirmedAt?: number;
  /** reconnect-storm: the state after the reconnect matched the one before the drop (undefined: not dropped). */
  restored?: boolean;
  localAddress?: string;
  /** With several gateways: the one (index into the run's URLs) the buyer's first session opened on. */
  gateway?: number;
  /** Times a reconnect went to the next gateway because the buyer's own refused the upgrade. */
  gatewaySwitches?: number;
  /** Error frames received (each "try again" one is answered by sending the last join, pay or leave again). */
  errors?: number;
  /** From a challenge to its proof (proof-of-work), ms, waiting for this thread's earlier solves included; absent when none was asked. */
  solveMs?: number;
  /** With keepFrames: every frame received, with `at` = epoch ms of its arrival. */
  frames?: TimedFrame[];
}

export type TimedFrame = { at: number; type: string; [k: string]: unknown };

export interface Percentiles {
  n: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

/**
 * Nearest-rank percentile: the smallest value with at least p % of the values at or below it. Chosen
 * over interpolation so every figure reported is one a buyer really saw.
 */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

export function percentiles(values: readonly number[]): Percentiles {
  const s = [...values].sort((a, b) => a - b);
  const r = (x: number) => Math.round(x * 10) / 10;
  return { n: s.length, p50: r(percentile(s, 50)), p95: r(percentile(s, 95)), p99: r(percentile(s, 99)), max: r(s[s.length - 1] ?? 0) };
}

/** What the audit and the payment provider say, read once the run is over. */
export interface LedgerView {
  stock: number;
  sold: number;
  orders: number;
  charges: number;
  auditOk: boolean;
  problems: string[];
}

export interface Summary {
  scenario: string;
  sale: string;
  buyers: number;
  stock: number;
  seconds: number;
  threads: number;
  sourceAddresses: string[];
  counts: { joined: number; admitted: number; paid: number; declined: number; expired: number; soldOut: number; left: number; ended: number; stuck: number };
  declinedAttempts: number;
  reconnects: number;
  restoredAfterDrop?: { dropped: number; restored: number };
  /** With several gateways: buyers that started on each (in --url order), and reconnects that moved to another. */
  gateways?: { urls: string[]; buyers: number[]; switches: number };
  latencyMs: { connect: Percentiles; joinToQueued: Percentiles; admittedToConfirmed: Percentiles; solve: Percentiles };
  oversell: { ok: boolean; oversoldBy: number; buyersWithTwoOrders: number; confirmationsSeen: number } & LedgerView;
  /** --prequeue-seconds: every buyer's place checked against the published draw. */
  draw?: DrawCheck;
  /** How the sale's chance and etaRange held for these buyers (when queued frames carried them). */
  estimates?: EstimateQuality;
  ok: boolean;
}

export function summarise(scenario: string, sale: string, results: readonly BuyerResult[], ledger: LedgerView, extra: { seconds: number; threads: number; sourceAddresses: string[]; gateways?: string[] }): Summary {
  const count = (f: (b: BuyerResult) => boolean) => results.filter(f).length;
  const values = (f: (b: BuyerResult) => number | undefined) => results.map(f).filter((x): x is number => x !== undefined);
  const confirmationsSeen = results.reduce((n, b) => n + new Set(b.orderIds).size, 0);
  const buyersWithTwoOrders = count((b) => new Set(b.orderIds).size > 1);
  const oversoldBy = Math.max(0, ledger.sold - ledger.stock, ledger.orders - ledger.stock, confirmationsSeen - ledger.stock);
  // No oversell means: the audit is clean, every order buyers were told of is in Postgres and was
  // charged exactly once, and no buyer got two.
  const oversellOk = ledger.auditOk && oversoldBy === 0 && buyersWithTwoOrders === 0
    && confirmationsSeen === ledger.orders && ledger.charges === ledger.orders;
  const dropped = results.filter((b) => b.restored !== undefined);
  const counts = {
    joined: count((b) => b.joined), admitted: count((b) => b.admitted), paid: count((b) => b.outcome === 'confirmed'),
    declined: count((b) => b.declines > 0), expired: count((b) => b.outcome === 'expired'), soldOut: count((b) => b.outcome === 'sold_out'),
    left: count((b) => b.outcome === 'left'), ended: count((b) => b.outcome === 'ended'), stuck: count((b) => b.outcome === 'stuck'),
  };
  const restoredAfterDrop = dropped.length > 0 ? { dropped: dropped.length, restored: dropped.filter((b) => b.restored).length } : undefined;
  const urls = extra.gateways ?? [];
  const gateways = urls.length > 1
    ? { urls, buyers: urls.map((_, g) => count((b) => b.gateway === g)), switches: results.reduce((n, b) => n + (b.gatewaySwitches ?? 0), 0) }
    : undefined;
  return {
    scenario, sale, buyers: results.length, stock: ledger.stock, seconds: Math.round(extra.seconds * 10) / 10, threads: extra.threads, sourceAddresses: extra.sourceAddresses,
    counts,
    declinedAttempts: results.reduce((n, b) => n + b.declines, 0),
    reconnects: results.reduce((n, b) => n + b.reconnects, 0),
    ...(restoredAfterDrop ? { restoredAfterDrop } : {}),
    ...(gateways ? { gateways } : {}),
    latencyMs: {
      connect: percentiles(values((b) => b.connectMs)),
      joinToQueued: percentiles(values((b) => b.joinToQueuedMs)),
      admittedToConfirmed: percentiles(values((b) => b.admittedToConfirmedMs)),
      // Proof-of-work per buyer (--challenge-bits): n is 0 when the sale asked none.
      solve: percentiles(values((b) => b.solveMs)),
    },
    oversell: { ok: oversellOk, oversoldBy, buyersWithTwoOrders, confirmationsSeen, ...ledger },
    ok: oversellOk && counts.stuck === 0 && (!restoredAfterDrop || restoredAfterDrop.restored === restoredAfterDrop.dropped),
  };
}

function drawRows(s: Summary): [string, string][] {
  const rows: [string, string][] = [];
  const d = s.draw;
  if (d) {
    rows.push(['pre-queue draw', `${d.drawn} drawn; key ${d.keyMatches ? 'matches' : 'does NOT match'} the commitment; order ${d.sorted ? 'sorted' : 'NOT sorted'}; ${d.commitmentMismatch} saw another commitment`]);
    rows.push(['places verified', `${d.verified} of ${d.inDraw} in the draw (${d.mismatched.length} mismatched${d.mismatched.length ? `: ${d.mismatched.slice(0, 3).join(', ')}` : ''}), ${d.afterDraw} queued after it by arrival (${d.outOfArrivalOrder} out of arrival order), ${d.noTicket} without a ticket`]);
  }
  const e = s.estimates;
  if (e) {
    rows.push(['etaRange coverage', e.coverage === null ? 'no admitted buyer had a range' : `${e.inRange} of ${e.withRange} admitted waits inside the 80 % interval (${(e.coverage * 100).toFixed(1)} %)`]);
    rows.push(['chance (Brier)', `${e.brier} over ${e.estimates} buyers; mean chance ${e.meanChance} vs ${e.admittedShare} admitted`]);
  }
  return rows;
}

/** The table printed at the end of a run (plain text, fixed columns, no colours: it lands in logs). */
export function renderTable(s: Summary): string {
  const rows: [string, string][] = [
    ['scenario', `${s.scenario} (sale ${s.sale})`],
    ['buyers / stock', `${s.buyers} / ${s.stock}`],
    ['wall time', `${s.seconds} s on ${s.threads} threads from ${s.sourceAddresses.join(', ')}`],
    ['joined', String(s.counts.joined)],
    ['admitted', String(s.counts.admitted)],
    ['paid', String(s.counts.paid)],
    ['declined (at least once)', `${s.counts.declined} (${s.declinedAttempts} declined attempts)`],
    ['expired', String(s.counts.expired)],
    ['sold out', String(s.counts.soldOut)],
    ['left', String(s.counts.left)],
    ['ended', String(s.counts.ended)],
    ['stuck', String(s.counts.stuck)],
    ['reconnects', String(s.reconnects)],
  ];
  if (s.restoredAfterDrop) rows.push(['state back after drop', `${s.restoredAfterDrop.restored} of ${s.restoredAfterDrop.dropped}`]);
  if (s.gateways) rows.push(['buyers per gateway', `${s.gateways.buyers.join(' / ')} (${s.gateways.switches} reconnects moved to another gateway)`]);
  const lat = (p: Percentiles) => `${p.p50} / ${p.p95} / ${p.p99} ms (n=${p.n})`;
  rows.push(
    ['connect p50/p95/p99', lat(s.latencyMs.connect)],
    ['join→queued p50/p95/p99', lat(s.latencyMs.joinToQueued)],
    ['admitted→confirmed p50/p95/p99', lat(s.latencyMs.admittedToConfirmed)],
    ...(s.latencyMs.solve.n > 0 ? [['proof-of-work solve p50/p95/p99', lat(s.latencyMs.solve)] as [string, string]] : []),
    ['orders / sold / charges', `${s.oversell.orders} / ${s.oversell.sold} / ${s.oversell.charges}`],
    ['confirmations seen by buyers', String(s.oversell.confirmationsSeen)],
    ...drawRows(s),
    ['oversell check', s.oversell.ok ? 'ok: nothing oversold, audit clean' : `FAILED: oversold by ${s.oversell.oversoldBy}, two orders ${s.oversell.buyersWithTwoOrders}, audit ${s.oversell.auditOk ? 'ok' : 'NOT ok'} ${s.oversell.problems.join('; ')}`],
    ['result', s.ok ? 'PASS' : 'FAIL'],
  );
  const w = Math.max(...rows.map(([k]) => k.length));
  const line = `+${'-'.repeat(w + 2)}+${'-'.repeat(Math.max(...rows.map(([, v]) => v.length)) + 2)}+`;
  return [line, ...rows.map(([k, v]) => `| ${k.padEnd(w)} | ${v.padEnd(line.length - w - 7)} |`), line].join('\n');
}
