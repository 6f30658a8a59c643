import type { RedisClient } from '../shared/redis.js';
import { saleKeys } from './keys.js';
import { AdmissionScripts } from './scripts.js';
import { formatPrediction, parsePrediction, scoreEstimates, type EstimateQuality, type Outcome, type Prediction, type ScoredPrediction } from './estimate-quality.js';

/** Buyers whose first prediction is kept per sale: enough for the scores, bounded for a 100k stampede. */
export const MAX_RECORDED_PER_SALE = 10_000;

/**
 * The operator's record of past estimates, in the sale's slot (`estimates` hash): each buyer's first
 * prediction from a tick model (gateways, batched per event-loop turn, one script call per sale) and
 * its outcome (the admitter, once per tick for the buyers it admitted). Missed and left are read at
 * report time from the sale's state and the buyer's record, so they cost nothing while the sale runs.
 */
export class EstimateLog {
  private readonly scripts: AdmissionScripts;
  private readonly pending = new Map<string, Map<string, string>>();
  private scheduled = false;

  constructor(readonly redis: RedisClient, readonly prefix: string, private readonly cap = MAX_RECORDED_PER_SALE, private readonly onError: (err: unknown) => void = () => {}) {
    this.scripts = new AdmissionScripts(redis);
  }

  /** Fire and forget: a lost record only thins the sample, never a buyer's frame. */
  record(saleId: string, buyer: string, p: Prediction): void {
    let m = this.pending.get(saleId);
    if (!m) this.pending.set(saleId, (m = new Map<string, string>()));
    if (!m.has(buyer)) m.set(buyer, formatPrediction(p));
    if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => void this.flush());
    }
  }

  async flush(): Promise<void> {
    this.scheduled = false;
    const all = [...this.pending];
    this.pending.clear();
    await Promise.all(all.map(([saleId, m]) =>
      this.scripts.recordEstimates(saleKeys(this.prefix, saleId), this.cap, [...m]).catch(this.onError)));
  }

  /** The admitter's tick: these buyers were just given a hold. */
  async settle(saleId: string, buyers: string[], at = Date.now()): Promise<void> {
    if (buyers.length === 0) return;
    await this.scripts.settleEstimates(saleKeys(this.prefix, saleId), at, buyers);
  }

  /**
   * The records with their outcomes. `closed`: the sale is sold out or ended, so a waiter without an
   * outcome was not served (missed); while it runs they are pending. A buyer whose record says they
   * left is 'left' and not scored (the chance was about a unit for the place, not about staying).
   */
  async records(saleId: string, closed: boolean): Promise<ScoredPrediction[]> {
    const k = saleKeys(this.prefix, saleId);
    const raw = await this.redis.hgetall(k.estimates);
    const entries = Object.entries(raw);
    const open = entries.filter(([, rec]) => !rec.includes(',a,')).map(([buyer]) => buyer);
    const states = new Map<string, string | null>();
    for (let i = 0; i < open.length; i += 1000) {
      const part = open.slice(i, i + 1000);
      const recs = await this.redis.hmget(k.buyers, ...part);
      part.forEach((b, j) => states.set(b, recs[j] ?? null));
    }
    const out: ScoredPrediction[] = [];
    for (const [buyer, rec] of entries) {
      const parsed = parsePrediction(rec);
      if (!parsed) continue;
      let outcome: Outcome;
      if (parsed.admittedAt !== null) outcome = { kind: 'admitted', at: parsed.admittedAt };
      else if (states.get(buyer)?.startsWith('l')) outcome = { kind: 'left' };
      else outcome = closed ? { kind: 'missed' } : { kind: 'pending' };
      out.push({ ...parsed.p, outcome });
    }
    return out;
  }

  async quality(saleId: string, closed: boolean): Promise<EstimateQuality> {
    return scoreEstimates(await this.records(saleId, closed));
  }
}
