import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Every PromQL expression of every dashboard JSON under a folder, for a test that evaluates them on a
 * real Prometheus (grafana/prometheus.test.ts). Read from the committed files, not from dashboard.ts:
 * the files are what Grafana loads (and dashboard.test.ts proves they are the generated ones).
 */

export interface DashboardQuery {
  /** Where it comes from, for messages: `file › panel title › refId`, or `file › $variable`. */
  where: string;
  kind: 'panel' | 'variable';
  expr: string;
}

interface Panel { title?: string; targets?: { refId?: string; expr?: string; hide?: boolean }[]; panels?: Panel[] }
interface Variable { name: string; type: string; query?: string | { query?: string } }

/** Panels nest in collapsed rows (`panels` of a row panel): walk them all. */
function* panelsOf(list: Panel[] = []): Generator<Panel> {
  for (const p of list) {
    yield p;
    yield* panelsOf(p.panels);
  }
}

export function dashboardQueries(dir: string): DashboardQuery[] {
  const out: DashboardQuery[] = [];
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.json')).sort()) {
    const d = JSON.parse(readFileSync(join(dir, file), 'utf8')) as { panels?: Panel[]; templating?: { list?: Variable[] } };
    for (const p of panelsOf(d.panels)) {
      for (const t of p.targets ?? []) {
        if (t.expr && !t.hide) out.push({ where: `${file} › ${p.title ?? '(untitled)'} › ${t.refId ?? '?'}`, kind: 'panel', expr: t.expr });
      }
    }
    for (const v of d.templating?.list ?? []) {
      if (v.type !== 'query') continue;
      const expr = typeof v.query === 'string' ? v.query : v.query?.query;
      if (expr) out.push({ where: `${file} › $${v.name}`, kind: 'variable', expr });
    }
  }
  return out;
}

/**
 * Grafana's built-in range variables, as Grafana would fill them for a scrape interval of 1 s on a
 * short time range: $__rate_interval is max(4 × scrape interval, $__interval + scrape interval), so
 * any window of a few seconds covers two samples; 1m leaves room for a slow CI scrape.
 */
const BUILT_IN: Record<string, string> = { __rate_interval: '1m', __interval: '2s', __range: '1m', __interval_ms: '2000', __range_s: '60', __range_ms: '60000' };

/**
 * An expression with its variables replaced: Grafana's built-ins and the dashboard's own (`vars`,
 * e.g. { sale: 'sale-1' }), in the `$name`, `${name}` and `[[name]]` forms. An unknown variable
 * throws: a query naming a variable nobody fills would fail in Grafana too.
 */
export function substitute(expr: string, vars: Record<string, string>): string {
  const all = { ...BUILT_IN, ...vars };
  return expr.replace(/\$\{(\w+)(?::\w+)?\}|\[\[(\w+)\]\]|\$(\w+)/g, (m, a?: string, b?: string, c?: string) => {
    const name = (a ?? b ?? c)!;
    const value = all[name];
    if (value === undefined) throw new Error(`unknown dashboard variable ${m} in ${expr}`);
    return value;
  });
}

/**
 * `label_values(metric, label)` (Grafana's variable query) as Prometheus' API call it stands for:
 * the label's values over the series of `metric`.
 */
export function labelValuesCall(expr: string): { label: string; match: string } | null {
  const m = /^label_values\(\s*(.+?)\s*,\s*(\w+)\s*\)$/.exec(expr.trim());
  return m ? { match: m[1]!, label: m[2]! } : null;
}
