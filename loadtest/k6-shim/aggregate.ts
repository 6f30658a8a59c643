/** The shim's metrics: k6's four kinds, aggregated as k6's end-of-test summary and thresholds read them. */

type Kind = 'counter' | 'trend' | 'rate' | 'gauge';

export interface Metric {
  kind: Kind;
  values: number[];
}

export class MetricSet {
  private readonly metrics = new Map<string, Metric>();
  private readonly checkCounts = new Map<string, { passes: number; fails: number }>();
  private readonly t0 = Date.now();

  /** A tagged sample also counts in its submetric, named as k6 names them: `buyer_outcomes{outcome:confirmed}`. */
  add(name: string, kind: Kind, value: number, tags?: Record<string, string>): void {
    const names = [name, ...Object.entries(tags ?? {}).map(([k, v]) => `${name}{${k}:${v}}`)];
    for (const n of names) {
      let m = this.metrics.get(n);
      if (!m) this.metrics.set(n, (m = { kind, values: [] }));
      m.values.push(value);
    }
  }

  /** A check is a sample of the built-in `checks` rate, and counted by its name. */
  check(name: string, pass: boolean): void {
    const c = this.checkCounts.get(name) ?? { passes: 0, fails: 0 };
    if (pass) c.passes++;
    else c.fails++;
    this.checkCounts.set(name, c);
    this.add('checks', 'rate', pass ? 1 : 0);
  }

  get(name: string): Metric | undefined {
    return this.metrics.get(name);
  }

  checks(): Record<string, { passes: number; fails: number }> {
    return Object.fromEntries(this.checkCounts);
  }

  summary(): Record<string, Record<string, number | string>> {
    const out: Record<string, Record<string, number | string>> = {};
    const seconds = Math.max(0.001, (Date.now() - this.t0) / 1000);
    for (const [name, m] of this.metrics) {
      const agg = aggregates(m, seconds);
      out[name] = { kind: m.kind, ...agg };
    }
    return out;
  }
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

/** What a threshold expression may name, per kind of metric (k6's names). */
export function aggregates(m: Metric, seconds = 1): Record<string, number> {
  const v = m.values;
  const sum = v.reduce((a, x) => a + x, 0);
  switch (m.kind) {
    case 'counter': return { count: sum, rate: sum / seconds, samples: v.length };
    case 'rate': return { rate: v.length === 0 ? Number.NaN : v.filter((x) => x !== 0).length / v.length, passes: v.filter((x) => x !== 0).length, fails: v.filter((x) => x === 0).length, samples: v.length };
    case 'gauge': return { value: v[v.length - 1] ?? Number.NaN, min: Math.min(...v), max: Math.max(...v), samples: v.length };
    case 'trend': {
      const s = [...v].sort((a, b) => a - b);
      return { avg: sum / Math.max(1, v.length), min: s[0] ?? Number.NaN, max: s[s.length - 1] ?? Number.NaN, med: percentile(s, 50), 'p(90)': percentile(s, 90), 'p(95)': percentile(s, 95), 'p(99)': percentile(s, 99), samples: v.length };
    }
  }
}

const EXPR = /^\s*(count|rate|avg|min|max|med|value|p\(\d+(?:\.\d+)?\))\s*(<=|>=|==|===|!=|<|>)\s*(-?\d+(?:\.\d+)?)\s*$/;

/**
 * A threshold such as `count==0`, `rate==1`, `p(99)<2000`. A metric with no samples passes, as in k6
 * (nothing was measured, so nothing crossed the line); the summary shows `samples: 0` for it.
 */
export function evaluateThreshold(m: Metric | undefined, expr: string): boolean {
  const x = EXPR.exec(expr);
  if (!x) throw new Error(`the k6 shim cannot read the threshold ${expr}`);
  if (!m || m.values.length === 0) return true;
  const [, agg, op, rhs] = x;
  const a = aggregates(m);
  let lhs = a[agg!];
  if (lhs === undefined && agg!.startsWith('p(')) {
    const s = [...m.values].sort((p, q) => p - q);
    lhs = percentile(s, Number(agg!.slice(2, -1)));
  }
  if (lhs === undefined) throw new Error(`threshold ${expr}: a ${m.kind} has no ${agg}`);
  const r = Number(rhs);
  switch (op) {
    case '<': return lhs < r;
    case '<=': return lhs <= r;
    case '>': return lhs > r;
    case '>=': return lhs >= r;
    case '==':
    case '===': return lhs === r;
    default: return lhs !== r;
  }
}

/** k6 durations: '500ms', '60s', '10m', '1h', '1m30s'. */
export function parseDuration(d: string): number {
  const units: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  let total = 0;
  let matched = '';
  for (const m of d.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)) {
    total += Number(m[1]) * units[m[2]!]!;
    matched += m[0];
  }
  if (matched !== d || d === '') throw new Error(`not a k6 duration: ${d}`);
  return total;
}
