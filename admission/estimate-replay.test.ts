import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { estimate, saleModel, type EstimateModel } from './estimates.js';
import { SaleTracker } from './estimate-tracker.js';
import { scoreEstimates, type Outcome, type ScoredPrediction } from './estimate-quality.js';
import type { RecordedSale } from './fixtures/generate-recorded-sale.js';

/**
 * Replays a recorded sale (admission/fixtures/recorded-sale.json: joins, admissions, payments,
 * declines, expiries, releases, leaves) through the estimator as the admitter and a gateway run it:
 * every 100 ms tick builds the sale's model from its counters and calibrates the ETA interval on the
 * admissions so far; each buyer is shown, at their join, the estimate of the last tick's model; the
 * outcomes are the recorded ones. Scored by the same function the operator's view uses.
 */
function replay(sale: RecordedSale) {
  const { stock, admitPerSecond, maxActiveHolds, holdSeconds, tickMs } = sale.settings;
  const c = { available: stock, held: 0, paying: 0, sold: 0, expired: 0, released: 0, admitted: 0 };
  const tickets = new Map<number, number>();
  const waiting = new Set<number>();
  const predictions = new Map<number, ScoredPrediction>();
  const tracker = new SaleTracker();
  let served = 0;
  let seq = 0;
  let model: EstimateModel = saleModel({ ...c, freeSlots: Math.min(stock, maxActiveHolds), admitPerSecond, pace: admitPerSecond, leaves: 0, waiterSeconds: 0 });
  let i = 0;
  const events = sale.events;
  const end = events[events.length - 1]![0] + tickMs;
  for (let now = 0; now <= end; now += tickMs) {
    for (; i < events.length && events[i]![0] <= now; i++) {
      const [at, e, b] = events[i]!;
      switch (e) {
        case 'join': {
          const ticket = ++seq;
          tickets.set(b, ticket);
          waiting.add(b);
          // What the gateway answers a join with: the last tick's model at this place.
          const est = estimate(model, Math.max(1, ticket - served));
          predictions.set(b, { at, chance: est.chance, etaSeconds: est.etaSeconds, etaRange: est.etaRange, outcome: { kind: 'pending' } });
          break;
        }
        case 'admit':
          served = Math.max(served, tickets.get(b)!);
          waiting.delete(b);
          c.available--; c.held++; c.admitted++;
          settle(predictions, b, { kind: 'admitted', at });
          break;
        case 'pay': c.held--; c.paying++; break;
        case 'decline': c.paying--; c.held++; break;
        case 'sold': c.paying--; c.sold++; break;
        case 'expire': c.held--; c.available++; c.expired++; break;
        case 'release': c.held--; c.available++; c.released++; break;
        case 'leave':
          waiting.delete(b);
          settle(predictions, b, { kind: 'left' });
          break;
      }
    }
    // The admitter's tick, with what admitter.ts reads of Redis.
    const soldOut = c.available + c.held + c.paying === 0;
    model = tracker.tick({ ...c, now, seq, served, waiting: waiting.size, admitPerSecond, maxActiveHolds, holdSeconds, moving: !soldOut, soldOut });
  }
  // The sale sold out: whoever still waits was not served.
  for (const b of waiting) settle(predictions, b, { kind: 'missed' });
  return { quality: scoreEstimates([...predictions.values()]), calibrationSamples: tracker.eta.samples, multipliers: tracker.eta.multipliers() };
}

function settle(predictions: Map<number, ScoredPrediction>, b: number, outcome: Outcome): void {
  const p = predictions.get(b);
  if (p && p.outcome.kind === 'pending') p.outcome = outcome;
}

describe('estimates replayed over a recorded sale', () => {
  const file = join(dirname(fileURLToPath(import.meta.url)), 'fixtures', 'recorded-sale.json');
  const sale = JSON.parse(readFileSync(file, 'utf8')) as RecordedSale;

  const { quality: q, calibrationSamples, multipliers } = replay(sale);

  it('the 80 % ETA intervals hold for at least 70 % of admitted buyers; chance is scored (Brier)', () => {
    // The figures of this run, for the report and the closing note.
    console.log(JSON.stringify({ coverage: q.coverage, brier: q.brier, predictions: q.predictions, admitted: q.admitted, missed: q.missed, left: q.left,
      meanPredictedWait: q.meanPredictedWait, meanActualWait: q.meanActualWait, calibrationSamples, multipliers, bands: q.bands }));
    expect(q.admitted).toBeGreaterThan(300);
    expect(q.missed).toBeGreaterThan(50);
    expect(q.coverage).not.toBeNull();
    expect(q.coverage!).toBeGreaterThanOrEqual(0.7);
    // An always-50 % forecast scores 0.25; a forecast worth showing must beat it clearly.
    expect(q.brier!).toBeLessThan(0.1);
  });

  it('chance is honest at the ends: buyers told under 20 % were rarely served, over 80 % nearly always', () => {
    const low = q.bands[0]!;
    const high = q.bands[q.bands.length - 1]!;
    expect(low.n).toBeGreaterThan(50);
    expect(low.admittedShare).toBeLessThanOrEqual(0.2);
    expect(high.n).toBeGreaterThan(50);
    expect(high.admittedShare).toBeGreaterThanOrEqual(0.8);
  });
});
