import { z } from 'zod';

/**
 * The one output format of every bench: one JSON line, the figure and the baseline measured side
 * by side in the same run, and their ratio. Readers parse these lines, so the shape is checked here.
 */
export const benchLine = z.object({
  bench: z.string().regex(/^[a-z0-9-]+$/),
  value: z.number().finite(),
  unit: z.string().min(1),
  baseline: z.string().min(1),
  baseline_value: z.number().finite(),
  ratio: z.number().finite(),
}).strict();

export type BenchLine = z.infer<typeof benchLine>;

/** Rounds to three significant decimals for the ratio and two for values, so lines stay short. */
export function makeLine(bench: string, value: number, unit: string, baseline: string, baselineValue: number): BenchLine {
  const ratio = baselineValue === 0 ? 0 : value / baselineValue;
  return benchLine.parse({ bench, value: round(value, 2), unit, baseline, baseline_value: round(baselineValue, 2), ratio: round(ratio, 3) });
}

export function formatLine(l: BenchLine): string {
  return JSON.stringify({ bench: l.bench, value: l.value, unit: l.unit, baseline: l.baseline, baseline_value: l.baseline_value, ratio: l.ratio });
}

export function parseLine(text: string): BenchLine {
  return benchLine.parse(JSON.parse(text));
}

function round(x: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}
