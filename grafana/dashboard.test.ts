import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { METRIC, METRIC_OWNER, type MetricOwner } from '../shared/metric-names.js';
import { createSale, pay, useStack, type Buyers } from '../tests/e2e/kit.js';
import type { Stack } from '../tests/helpers/stack.js';
import { dashboardJson, jobMatcher } from './dashboard.js';

const committed = readFileSync(new URL('./dashboards/flash-sale.json', import.meta.url), 'utf8');
const dashboard = JSON.parse(committed) as { panels: { title: string; targets: { expr: string }[] }[]; templating: { list: { query: { query: string } }[] } };
const exprs = [...dashboard.panels.flatMap((p) => p.targets.map((t) => t.expr)), ...dashboard.templating.list.map((v) => v.query.query)];

/** Metric families a PromQL expression reads (histogram series map back to their family). */
function metricsOf(expr: string): string[] {
  return [...expr.matchAll(/\b((?:fs|nodejs|process)_[a-z0-9_]+)/g)].map((m) => m[1]!.replace(/_(bucket|sum|count)$/, ''));
}
const used = [...new Set(exprs.flatMap(metricsOf))].sort();
const ownerOf = new Map<string, MetricOwner>(Object.entries(METRIC).map(([k, name]) => [name, METRIC_OWNER[k as keyof typeof METRIC]]));

describe('the Grafana dashboard', () => {
  it('is the one generated from shared/metric-names.ts (run `npm run dashboard` after changing it)', () => {
    expect(committed).toBe(dashboardJson());
  });

  it('has the panels operators asked for', () => {
    const titles = dashboard.panels.map((p) => p.title);
    for (const t of ['Admissions / s', 'Waiting buyers', 'Holds active', 'Units sold', 'Orders / s', 'Payment results / s',
      'Retries and dead letters / s', 'WebSocket connections', 'Event-loop lag', 'join → queued latency', 'pay → confirmed latency']) {
      expect(titles).toContain(t);
    }
    const latency = dashboard.panels.filter((p) => p.title.includes('latency') && p.title.includes('→'));
    for (const p of latency) expect(p.targets.map((t) => t.expr.slice(0, 24))).toEqual(['histogram_quantile(0.5, ', 'histogram_quantile(0.99,']);
  });

  it('reads only names of the shared list (or prom-client defaults), each from its owner\'s Prometheus job', () => {
    for (const name of used) {
      if (name.startsWith('nodejs_') || name.startsWith('process_')) continue;
      expect(ownerOf.has(name), `${name} is not in shared/metric-names.ts`).toBe(true);
    }
    for (const expr of exprs) {
      for (const m of expr.matchAll(/\b(fs_[a-z0-9_]+)\{([^}]*)\}/g)) {
        const family = m[1]!.replace(/_(bucket|sum|count)$/, '');
        expect(m[2], expr).toContain(jobMatcher(ownerOf.get(family)!));
      }
    }
  });

  it('is provisioned: the datasource uid the panels use, the folder the dashboard provider reads, the jobs Prometheus scrapes', () => {
    const ds = parse(readFileSync(new URL('./provisioning/datasources/prometheus.yml', import.meta.url), 'utf8'));
    expect(ds.datasources.map((d: { uid: string }) => d.uid)).toContain('prometheus');
    const prov = parse(readFileSync(new URL('./provisioning/dashboards/flash-sale.yml', import.meta.url), 'utf8'));
    const compose = parse(readFileSync(new URL('../docker-compose.yml', import.meta.url), 'utf8'));
    expect(compose.services.grafana.volumes).toContain(`./grafana/dashboards:${prov.providers[0].options.path}:ro`);
    const prom = parse(readFileSync(new URL('./prometheus.yml', import.meta.url), 'utf8'));
    expect(prom.scrape_configs.map((j: { job_name: string }) => j.job_name).sort()).toEqual(['gateway', 'worker']);
  });
});

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

const workerMetricsPort = await freePort();

describe('every metric a panel reads is exported by the process that owns it', () => {
  let stack: Stack;
  let buyers: Buyers;
  useStack((s, b) => { stack = s; buyers = b; }, { env: { METRICS_PORT: String(workerMetricsPort) } });

  it('after one sale with a paid order and a declined card, /metrics of the gateway and the worker serve them all', async () => {
    const sale = await createSale(stack, { stock: 5 });
    const paid = await buyers.holding(sale.id);
    expect((await pay(paid.b, paid.holdId, 'pm_card_visa')).type).toBe('order_confirmed');
    const declined = await buyers.holding(sale.id);
    expect((await pay(declined.b, declined.holdId, 'pm_card_chargeDeclined')).type).toBe('payment_failed');

    const text = {
      gateway: await (await fetch(stack.url('/metrics'))).text(),
      worker: await (await fetch(`http://127.0.0.1:${workerMetricsPort}/metrics`)).text(),
    };
    for (const name of used) {
      const owner = ownerOf.get(name);
      const where = owner && owner !== 'both' ? [text[owner]] : [text.gateway, text.worker];
      expect(where.some((t) => t.includes(`# TYPE ${name} `)), `${name} is not exported by ${owner ?? 'either process'}`).toBe(true);
    }
    // The traffic above gave these real samples, in the process the dashboard reads them from.
    const value = (t: string, series: string) => Number(new RegExp(`^${series.replace(/[{}"]/g, (c) => `\\${c}`)} (\\S+)$`, 'm').exec(t)?.[1] ?? NaN);
    expect(value(text.gateway, `${METRIC.admissions}{sale="${sale.id}"}`)).toBe(2);
    expect(value(text.gateway, `${METRIC.sold}{sale="${sale.id}"}`)).toBe(1);
    expect(value(text.gateway, `${METRIC.joinToQueued}_count`)).toBeGreaterThanOrEqual(2);
    expect(value(text.gateway, `${METRIC.payToConfirmed}_count`)).toBe(1);
    expect(value(text.gateway, METRIC.wsConnections)).toBeGreaterThanOrEqual(2);
    expect(value(text.worker, METRIC.orders)).toBe(1);
    expect(value(text.worker, `${METRIC.paymentAttempts}{result="succeeded"}`)).toBe(1);
    expect(value(text.worker, `${METRIC.paymentAttempts}{result="declined"}`)).toBe(1);
    for (const t of [text.gateway, text.worker]) expect(value(t, 'nodejs_eventloop_lag_p99_seconds')).toBeGreaterThan(0);
  });
});
