/**
 * How good the chances and ETA intervals buyers were shown turned out to be: pure scoring of
 * recorded predictions against their outcomes (the records come from estimate-log.ts in production
 * and from the recorded-sale replay in tests, scored by the same function).
 */

export interface Prediction {
  /** When the buyer was shown it (ms). */
  at: number;
  chance: number;
  etaSeconds: number;
  etaRange: [number, number];
}

/** 'admitted' (with when), 'missed' (the sale sold out or ended before their turn), 'left', or not known yet. */
export type Outcome = { kind: 'admitted'; at: number } | { kind: 'missed' } | { kind: 'left' } | { kind: 'pending' };

export interface ScoredPrediction extends Prediction {
  outcome: Outcome;
}

export interface EstimateQuality {
  /** Predictions recorded, and those with a known outcome (admitted or missed; leavers are not scored). */
  predictions: number;
  resolved: number;
  admitted: number;
  missed: number;
  left: number;
  /** Mean squared error of `chance` against admitted = 1 / missed = 0; null with nothing resolved. */
  brier: number | null;
  /** Share of admitted buyers whose actual wait fell inside the 80 % interval they were shown. */
  coverage: number | null;
  meanPredictedWait: number | null;
  meanActualWait: number | null;
  /** Mean chance shown against the share admitted, in five bands of chance (a reliability table). */
  bands: { from: number; to: number; n: number; meanChance: number; admittedShare: number }[];
  /** The latest few admitted buyers: predicted vs actual wait (the console's table). */
  recent: { etaSeconds: number; etaRange: [number, number]; actualSeconds: number; chance: number }[];
}

/** The stored record: 'at,chance,eta,low,high' plus ',a,admittedAt' once admitted. */
export function formatPrediction(p: Prediction): string {
  return `${p.at},${p.chance},${p.etaSeconds},${p.etaRange[0]},${p.etaRange[1]}`;
}

export function parsePrediction(rec: string): { p: Prediction; admittedAt: number | null } | null {
  const f = rec.split(',');
  if (f.length < 5) return null;
  const n = f.slice(0, 5).map(Number);
  if (n.some((x) => !Number.isFinite(x))) return null;
  const admittedAt = f[5] === 'a' && f[6] !== undefined && Number.isFinite(Number(f[6])) ? Number(f[6]) : null;
  return { p: { at: n[0]!, chance: n[1]!, etaSeconds: n[2]!, etaRange: [n[3]!, n[4]!] }, admittedAt };
}

const RECENT = 20;
const BANDS = 5;
const round3 = (x: number) => Math.round(x * 1000) / 1000;
const mean = (xs: number[]) => (xs.length === 0 ? null : round3(xs.reduce((a, b) => a + b, 0) / xs.length));

export function scoreEstimates(records: ScoredPrediction[]): EstimateQuality {
  const resolved = records.filter((r) => r.outcome.kind === 'admitted' || r.outcome.kind === 'missed');
  const admitted = records.filter((r): r is ScoredPrediction & { outcome: { kind: 'admitted'; at: number } } => r.outcome.kind === 'admitted');
  const waits = admitted.map((r) => Math.max(0, (r.outcome.at - r.at) / 1000));
  // An interval in whole seconds holds a wait measured in ms when the wait rounds into it (the buyer
  // sees whole seconds too); so compare on the same grid, with half a second either side.
  const inside = admitted.filter((r, i) => waits[i]! >= r.etaRange[0] - 0.5 && waits[i]! <= r.etaRange[1] + 0.5).length;
  const bands = Array.from({ length: BANDS }, (_, i) => {
    const from = i / BANDS;
    const to = (i + 1) / BANDS;
    const inBand = resolved.filter((r) => r.chance >= from && (r.chance < to || (i === BANDS - 1 && r.chance <= 1)));
    return {
      from, to, n: inBand.length,
      meanChance: mean(inBand.map((r) => r.chance)) ?? 0,
      admittedShare: inBand.length === 0 ? 0 : round3(inBand.filter((r) => r.outcome.kind === 'admitted').length / inBand.length),
    };
  });
  const recentOnes = admitted.map((r, i) => ({ r, wait: waits[i]! })).sort((a, b) => a.r.outcome.at - b.r.outcome.at).slice(-RECENT);
  return {
    predictions: records.length,
    resolved: resolved.length,
    admitted: admitted.length,
    missed: resolved.length - admitted.length,
    left: records.filter((r) => r.outcome.kind === 'left').length,
    brier: mean(resolved.map((r) => (r.chance - (r.outcome.kind === 'admitted' ? 1 : 0)) ** 2)),
    coverage: admitted.length === 0 ? null : round3(inside / admitted.length),
    meanPredictedWait: mean(admitted.map((r) => r.etaSeconds)),
    meanActualWait: mean(waits),
    bands,
    recent: recentOnes.map(({ r, wait }) => ({ etaSeconds: r.etaSeconds, etaRange: r.etaRange, actualSeconds: round3(wait), chance: r.chance })),
  };
}
