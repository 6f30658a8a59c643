import type { CrowdOptions } from './options.js';
import { sourceAddresses } from './options.js';
import type { Plan } from './buyer.js';
import { runCrowd, type CrowdBuyerPlan } from './threads.js';
import { summarise, type BuyerResult, type LedgerView, type Summary } from './stats.js';
import { checkDraw, estimateQuality, type DrawView } from './draw-check.js';

/**
 * A whole run against a running stack, through the contract only: create a sale on the operator
 * API, send the crowd, wait for settlement to finish, then read the audit and the provider's charges.
 */
export interface RunResult {
  summary: Summary;
  results: BuyerResult[];
  threadIds: number[];
  /** Epoch ms when the crowd began arriving. */
  startedAt: number;
}

export interface RunHooks {
  onProgress?: (p: { connected: number; joined: number; finished: number }, total: number) => void;
  /** Extra sale fields (e.g. a startsAt in the future, to gather a pre-queue first). */
  sale?: Record<string, unknown>;
  keepFrames?: boolean;
  /** Called once the sale exists, before any buyer arrives (e.g. to pause it). */
  afterCreate?: (saleId: string) => Promise<void>;
}

/** Spreads plans evenly over the crowd (a golden-ratio sequence), so shares hold at any size. */
export function planOf(i: number, o: Pick<CrowdOptions, 'abandon' | 'leave' | 'decline'>): Plan {
  const u = (i * 0.6180339887498949) % 1;
  if (u < o.abandon) return 'abandon';
  if (u < o.abandon + o.leave) return 'leave';
  if (u < o.abandon + o.leave + o.decline) return 'decline';
  return 'pay';
}

/**
 * An operator call to the first gateway of `urls` that answers: any gateway serves the operator API,
 * and a run against several must not fail because one of them is down.
 */
export async function operatorFetch(urls: readonly string[], path: string, init: RequestInit): Promise<Response> {
  let last: Error | undefined;
  for (const url of urls) {
    try {
      return await fetch(`${url}${path}`, init);
    } catch (err) {
      last = err as Error;
    }
  }
  throw new Error(`no gateway of ${urls.join(', ')} answers (is \`npm start\` running?): ${last?.message}`);
}

export async function runStampede(o: CrowdOptions, hooks: RunHooks = {}): Promise<RunResult> {
  const admin = { authorization: `Bearer ${o.adminToken}`, 'content-type': 'application/json' };
  const saleId = `${o.scenario}-${Date.now().toString(36)}-${Math.floor(Math.random() * 1e6).toString(36)}`;
  const createSale = async (startsAt?: number) => {
    // With a pre-queue the sale starts that long after the first arrival (buyers before it are drawn).
    const timing = startsAt !== undefined ? { startsAt: new Date(startsAt).toISOString(), lotteryWindowSeconds: o.lotterySeconds } : {};
    const created = await operatorFetch(o.url, '/v1/admin/sales', {
      method: 'POST', headers: admin,
      body: JSON.stringify({
        id: saleId, name: `Load run (${o.scenario})`, sku: 'LOAD', price: { amount: 5000, currency: 'eur' }, stock: o.stock, pools: Math.min(o.pools, o.stock),
        admitPerSecond: o.rate, maxActiveHolds: o.maxHolds, holdSeconds: o.holdSeconds, perBuyerLimit: 1, joinChallengeBits: o.challengeBits, ...timing, ...hooks.sale,
      }),
    });
    if (created.status !== 201) throw new Error(`could not create the sale: ${created.status} ${await created.text()}`);
    await hooks.afterCreate?.(saleId);
  };
  const prequeue = o.prequeueSeconds > 0;
  if (!prequeue) await createSale();

  // The plan is timed from t0; the crowd starts once every thread has minted its tokens (onReady),
  // and a late start moves the whole plan rather than bunching the arrivals.
  let t0 = Date.now() + 500 + Math.ceil(o.buyers / 20);
  const spread = o.scenario === 'soak' ? o.duration * 1000 : o.rampMs;
  const buyers: CrowdBuyerPlan[] = Array.from({ length: o.buyers }, (_, i) => ({
    id: `lb-${i}-${saleId}`,
    plan: planOf(i, o),
    // soak: evenly spaced arrivals; a stampede: everyone within the ramp, at random.
    startAt: t0 + (o.scenario === 'soak' ? (spread * i) / o.buyers : Math.random() * spread),
  }));
  const sources = sourceAddresses(o.sources);
  const planned = t0;
  const run = await runCrowd({
    wsUrl: o.url.map((u) => `${u.replace(/^http/, 'ws')}/v1/sales/${saleId}/ws`), secret: o.secret, buyers, threads: o.threads, sources,
    deadline: t0 + spread + o.timeout * 1000,
    stormAt: o.scenario === 'reconnect-storm' ? t0 + spread + o.stormAfter * 1000 : undefined,
    stormAfterMs: o.stormAfter * 1000,
    keepFrames: hooks.keepFrames,
    onProgress: (p) => hooks.onProgress?.(p, o.buyers),
    onReady: async () => {
      t0 = Math.max(planned, Date.now() + 300);
      if (prequeue) {
        await createSale(t0 + o.prequeueSeconds * 1000);
        t0 = Math.max(t0, Date.now() + 100);
      }
      return t0 - planned;
    },
  });
  const seconds = (Date.now() - t0) / 1000;
  const ledger = await readLedger(o, saleId, admin);
  const summary = summarise(o.scenario, saleId, run.results, ledger, { seconds, threads: run.threadIds.length, sourceAddresses: sources, gateways: o.url });
  const estimates = estimateQuality(run.results);
  if (estimates.estimates > 0) summary.estimates = estimates;
  if (prequeue) {
    // Every buyer checks their place as the buyer page's "verify my place" does: a run passes only
    // if every ticket in the draw carries its buyer's score under the key committed to at creation.
    summary.draw = checkDraw(await readDraw(o, saleId), run.results);
    const d = summary.draw;
    summary.ok &&= d.keyMatches && d.sorted && d.commitmentMismatch === 0 && d.mismatched.length === 0 && d.outOfArrivalOrder === 0;
  }
  return { summary, results: run.results, threadIds: run.threadIds, startedAt: t0 };
}

/** The published draw, once the seal has happened (the admitter's next tick after start + lottery window). */
async function readDraw(o: CrowdOptions, saleId: string): Promise<DrawView> {
  let view: DrawView = { commitment: '' };
  for (let i = 0; i < 50 && view.key === undefined; i++) {
    if (i > 0) await new Promise((r) => setTimeout(r, 200));
    const res = await operatorFetch(o.url, `/v1/sales/${saleId}/prequeue`, {});
    if (res.status !== 200) throw new Error(`prequeue of ${saleId}: ${res.status} ${await res.text()}`);
    view = await res.json() as DrawView;
  }
  return view;
}

async function readLedger(o: CrowdOptions, saleId: string, headers: Record<string, string>): Promise<LedgerView> {
  // Settlement may still be writing the last orders: wait until nothing is paying (bounded).
  let audit: { ok: boolean; stock: number; sold: number; paying: number; orders: number; problems: string[] } | undefined;
  for (let i = 0; i < 120; i++) {
    const res = await operatorFetch(o.url, `/v1/admin/sales/${saleId}/audit`, { headers });
    if (res.status !== 200) throw new Error(`audit of ${saleId}: ${res.status} ${await res.text()}`);
    audit = await res.json() as typeof audit;
    if (audit!.paying === 0) break;
    await new Promise((r) => setTimeout(r, 500));
  }
  const charges = await fetch(`${o.standIn}/_stand-in/charges`)
    .then((r) => r.json() as Promise<{ charges: { metadata: { saleId?: string } }[] }>)
    .then((b) => b.charges.filter((c) => c.metadata.saleId === saleId).length)
    .catch((err: Error) => {
      throw new Error(`the Stripe stand-in at ${o.standIn} does not answer (--stand-in): ${err.message}`);
    });
  return { stock: audit!.stock, sold: audit!.sold, orders: audit!.orders, charges, auditOk: audit!.ok, problems: audit!.problems };
}
