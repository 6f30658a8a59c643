import { describe, expect, it } from 'vitest';
import { chanceAt, estimate, etaAt, normalCdf, placeEstimator, saleModel, type SaleFigures } from './estimates.js';
import { SaleTracker, EtaCalibration } from './estimate-tracker.js';
import { parsePrediction, formatPrediction, scoreEstimates } from './estimate-quality.js';

const base: SaleFigures = { available: 100, held: 0, paying: 0, sold: 0, expired: 0, released: 0, freeSlots: 100, admitPerSecond: 10, pace: 5, leaves: 0, waiterSeconds: 0 };

describe('estimates: the model of one sale, applied per place', () => {
  it('normalCdf is the standard normal CDF', () => {
    expect(normalCdf(0)).toBeCloseTo(0.5, 6);
    expect(normalCdf(1.96)).toBeCloseTo(0.975, 3);
    expect(normalCdf(-1.96)).toBeCloseTo(0.025, 3);
  });

  it('chance falls with the place, and is ~1 well inside the units left and ~0 far beyond', () => {
    const m = saleModel({ ...base, sold: 200, expired: 10, released: 0, leaves: 0, waiterSeconds: 1e6 });
    expect(chanceAt(m, 1)).toBeGreaterThan(0.99);
    expect(chanceAt(m, 50)).toBeGreaterThan(0.95);
    expect(chanceAt(m, 1000)).toBeLessThan(0.01);
    let prev = 1;
    for (const p of [1, 50, 90, 100, 110, 150, 300]) {
      const c = chanceAt(m, p);
      expect(c).toBeLessThanOrEqual(prev + 1e-12);
      prev = c;
    }
  });

  it('holds that may come back and buyers who leave raise the chance of a place beyond the free units', () => {
    const noHolds = saleModel({ ...base, available: 10, freeSlots: 10, sold: 50, expired: 50 });
    const withHolds = saleModel({ ...base, available: 10, held: 40, freeSlots: 10, sold: 50, expired: 50 });
    expect(chanceAt(withHolds, 30)).toBeGreaterThan(chanceAt(noHolds, 30));
    const stayers = saleModel({ ...base, available: 10, freeSlots: 10, sold: 100, leaves: 0, waiterSeconds: 1e5 });
    const leavers = saleModel({ ...base, available: 10, freeSlots: 10, sold: 100, leaves: 5000, waiterSeconds: 1e5 });
    expect(chanceAt(leavers, 20)).toBeGreaterThan(chanceAt(stayers, 20));
  });

  it('nothing left and nothing held: chance 0 for everyone', () => {
    const m = saleModel({ ...base, available: 0, freeSlots: 0 });
    expect(estimate(m, 1).chance).toBe(0);
  });

  it('ETA: the free slots go at the bucket rate, the rest at the line pace; the interval holds the point', () => {
    const m = saleModel({ ...base, freeSlots: 20, admitPerSecond: 10, pace: 2 });
    expect(etaAt(m, 10).etaSeconds).toBe(1);
    expect(etaAt(m, 40).etaSeconds).toBe(2 + 10);
    const e = etaAt(m, 40, 30);
    expect(e.etaSeconds).toBe(42);
    expect(e.etaRange[0]).toBeLessThanOrEqual(e.etaSeconds);
    expect(e.etaRange[1]).toBeGreaterThanOrEqual(e.etaSeconds);
    expect(e.etaRange[0]).toBeGreaterThanOrEqual(30);
  });

  it('placeEstimator (what a gateway runs per socket) matches the exact estimate within half a percentage point', () => {
    const m = saleModel({ ...base, available: 200, held: 300, paying: 20, sold: 400, expired: 100, released: 20, freeSlots: 0, pace: 40, leaves: 300, waiterSeconds: 1e5 });
    const est = placeEstimator(m);
    let worst = 0;
    for (let p = 1; p <= 200_000; p += 13) {
      const a = est(p);
      const b = estimate(m, p);
      expect(a.etaRange).toEqual(b.etaRange);
      worst = Math.max(worst, Math.abs(a.chance - b.chance));
    }
    expect(worst).toBeLessThan(0.005);
  });

  it('the calibration learns the interval from the served ticket passing its probes', () => {
    const cal = new EtaCalibration(100);
    // The line moves at half the predicted speed: waits take twice as long as predicted.
    for (let now = 0; now <= 60_000; now += 100) cal.observe(now, Math.floor(now / 200), 1000, (k) => k / 10);
    expect(cal.samples).toBeGreaterThanOrEqual(EtaCalibration.MIN_SAMPLES);
    const { lo, hi } = cal.multipliers();
    // Ratios are on (wait + 1 s): short waits' ratios sit near 1, long ones near 2.
    expect(lo).toBeGreaterThan(1);
    expect(hi).toBeGreaterThan(1.6);
    expect(hi).toBeLessThan(2.1);
  });

  it('the tracker measures the pace while slots are the limit', () => {
    const t = new SaleTracker();
    let m = t.tick({ now: 0, available: 50, held: 10, paying: 0, sold: 0, expired: 0, released: 0, admitted: 10, seq: 500, served: 10, waiting: 490, admitPerSecond: 50, maxActiveHolds: 10, holdSeconds: 60, moving: true, soldOut: false });
    for (let s = 1; s <= 20; s++) {
      m = t.tick({ now: s * 1000, available: 50, held: 10, paying: 0, sold: s * 3, expired: 0, released: 0, admitted: 10 + s * 3, seq: 500, served: 10 + s * 3, waiting: 490 - s * 3, admitPerSecond: 50, maxActiveHolds: 10, holdSeconds: 60, moving: true, soldOut: false });
    }
    expect(m.r).toBeCloseTo(3, 1);
    expect(m.f).toBe(0);
  });

  it('records round-trip and are scored: Brier and coverage', () => {
    const rec = formatPrediction({ at: 1000, chance: 0.8, etaSeconds: 10, etaRange: [5, 20] });
    expect(parsePrediction(rec)!.admittedAt).toBeNull();
    expect(parsePrediction(`${rec},a,13000`)!.admittedAt).toBe(13000);
    const q = scoreEstimates([
      { at: 0, chance: 0.8, etaSeconds: 10, etaRange: [5, 20], outcome: { kind: 'admitted', at: 12_000 } },
      { at: 0, chance: 0.8, etaSeconds: 10, etaRange: [5, 20], outcome: { kind: 'admitted', at: 30_000 } },
      { at: 0, chance: 0.2, etaSeconds: 10, etaRange: [5, 20], outcome: { kind: 'missed' } },
      { at: 0, chance: 0.5, etaSeconds: 10, etaRange: [5, 20], outcome: { kind: 'left' } },
    ]);
    expect(q.brier).toBeCloseTo((0.04 + 0.04 + 0.04) / 3, 6);
    expect(q.coverage).toBe(0.5);
    expect(q.left).toBe(1);
    expect(q.resolved).toBe(3);
  });
});
