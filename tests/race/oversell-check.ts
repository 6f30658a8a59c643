/**
 * The one oversell checker of the race tests. The Lua pool path and the naive Postgres path hand it
 * the same thing (the reservations the takers were told they got, and the stock on offer), so a test
 * that passes on our path is known to be able to fail: the naive path makes this same function throw.
 */
export interface OversellReport {
  stock: number;
  reservations: number;
  distinct: number;
  oversoldBy: number;
  duplicates: string[];
  problems: string[];
}

export class OversellError extends Error {
  override name = 'OversellError';
  constructor(readonly report: OversellReport) {
    super(`oversell check failed: ${report.problems.join('; ')}`);
  }
}

export function checkOversell(reservations: readonly string[], stock: number): OversellReport {
  const seen = new Set<string>();
  const duplicates: string[] = [];
  for (const r of reservations) {
    if (seen.has(r)) duplicates.push(r);
    seen.add(r);
  }
  const problems: string[] = [];
  const oversoldBy = Math.max(0, reservations.length - stock);
  if (oversoldBy > 0) problems.push(`oversold: ${reservations.length} reservations for ${stock} units (${oversoldBy} too many)`);
  // Two takers told they got the same reservation is one unit promised twice, even under the stock.
  if (duplicates.length > 0) problems.push(`${duplicates.length} reservation ids given twice, e.g. ${duplicates.slice(0, 3).join(', ')}`);
  return { stock, reservations: reservations.length, distinct: seen.size, oversoldBy, duplicates, problems };
}

/** Throws an OversellError naming what is wrong; returns the report when nothing is. */
export function assertNoOversell(reservations: readonly string[], stock: number): OversellReport {
  const report = checkOversell(reservations, stock);
  if (report.problems.length > 0) throw new OversellError(report);
  return report;
}
