import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { METRIC } from '../shared/metric-names.js';
import { createSale, freePort, pay, useStack, waitSettled, type Buyers } from '../tests/e2e/kit.js';
import type { BuyerSocket } from '../tests/helpers/buyer.js';
import { requirePrometheus, startPrometheus, type Prometheus } from '../tests/helpers/prometheus.js';
import type { Stack } from '../tests/helpers/stack.js';
import { dashboardQueries, labelValuesCall, substitute } from './dashboard-queries.js';

/**
 * Every PromQL query of every dashboard in grafana/dashboards, evaluated by a real Prometheus that
 * scraped a real gateway and settlement worker through a small sale: a renamed metric, a label the
 * code no longer sets or a query Prometheus refuses fails here, not on an operator's empty panel.
 * (dashboard.test.ts checks names against shared/metric-names.ts; this checks what Prometheus sees.)
 */

// A prerequisite as Redis is: without the binary the file fails here, before starting a stack.
requirePrometheus();

const queries = dashboardQueries(fileURLToPath(new URL('./dashboards/', import.meta.url)));
const panels = queries.filter((q) => q.kind === 'panel');
const variables = queries.filter((q) => q.kind === 'variable');

/**
 * The only panel series a small clean sale cannot produce, each with why; for these the test checks
 * that Prometheus knows the metric (its type from the scrape) instead of a value. Keep it short.
 */
const NO_DATA_IN_A_CLEAN_SALE: Record<string, string> = {
  // Reconciliation finishes payments a crashed or cut-off worker left behind; a clean sale leaves none,
  // and the counter has labels (action), so prom-client serves no series before the first fix.
  [METRIC.reconciliationFixes]: 'only after a crash or a lost provider answer (tests/e2e/settlement-crashes.test.ts)',
};

const TOKEN = 'prometheus-test-metrics-token';
const workerMetricsPort = await freePort();

let stack: Stack;
let buyers: Buyers;
let prom: Prometheus;
let sales: string[] = [];

useStack((s, b) => ((stack = s), (buyers = b)), {
  // Scraped as production is: /metrics behind METRICS_TOKEN, Prometheus sending it as a bearer token.
  env: { METRICS_TOKEN: TOKEN },
  workerEnv: { METRICS_PORT: String(workerMetricsPort) },
  // The stand-in's signed webhooks feed the webhook panel.
  webhooks: true,
});

/** One round of everything the panels show: an order, a decline, a refused frame, an expired hold. */
async function round(saleId: string, shortHoldSaleId: string): Promise<void> {
  const paid = await buyers.holding(saleId);
  expect((await pay(paid.b, paid.holdId, 'pm_card_visa')).type).toBe('order_confirmed');
  const declined = await buyers.holding(saleId);
  expect((await pay(declined.b, declined.holdId, 'pm_card_chargeDeclined')).type).toBe('payment_failed');
  await refusedFrame(declined.b);
  const lapsed = await buyers.holding(shortHoldSaleId);
  expect((await lapsed.b.next('hold_expired', 10_000)).holdId).toBe(lapsed.holdId);
  // Captures and the outbox finish after order_confirmed: wait for them, so the scrape sees them.
  await waitSettled(stack, saleId);
  expect((await stack.admin('GET', `/v1/admin/sales/${saleId}`)).status).toBe(200);
}

async function refusedFrame(b: BuyerSocket): Promise<void> {
  const f = await b.request({ type: 'pay', holdId: 'no-such-hold', paymentMethod: 'pm_card_visa' }, 'error');
  expect(f.type).toBe('error');
}

beforeAll(async () => {
  // Prometheus first: it takes ~5 s to its first scrape (its discovery reload), the first round runs meanwhile.
  prom = await startPrometheus([
    { job: 'gateway', target: `127.0.0.1:${stack.gateways[0]!.port}` },
    { job: 'worker', target: `127.0.0.1:${workerMetricsPort}` },
  ], { token: TOKEN });
  const sale = await createSale(stack, { stock: 10 });
  const shortHolds = await createSale(stack, { stock: 2, holdSeconds: 1 });
  sales = [sale.id, shortHolds.id];
  // Two rounds with scrapes between and after: rate() needs two samples of each series that differ,
  // and a labelled series (a sale's counter, a provider call's histogram) first appears in round one.
  // (~8 s in all: the first wait is mostly Prometheus' own delay before its first scrape.)
  await round(sale.id, shortHolds.id);
  await prom.waitScrapes(Date.now(), 1);
  await round(sale.id, shortHolds.id);
  await prom.waitScrapes(Date.now(), 2);
}, 60_000);

afterAll(async () => {
  await prom?.close();
});

/** Grafana's values for the dashboard's own variables: `$sale` as both sales picked (a multi-value regex). */
const vars = () => ({ sale: `(${sales.join('|')})` });

/** What is wrong with a panel's expression now, or null: an error of Prometheus, no series, no number. */
async function problem(expr: string): Promise<string | null> {
  let result;
  try {
    result = await prom.query(expr);
  } catch (err) {
    return (err as Error).message;
  }
  if (result.length === 0) return `no series: ${expr}`;
  // histogram_quantile over buckets that did not move gives NaN: Grafana draws nothing for it.
  if (!result.some((r) => Number.isFinite(Number(r.value[1])))) return `only NaN/Inf: ${expr} → ${JSON.stringify(result)}`;
  return null;
}

const exempt = (expr: string) => Object.keys(NO_DATA_IN_A_CLEAN_SALE).find((m) => new RegExp(`\\b${m}(_bucket|_sum|_count)?\\b`).test(expr));

describe('every dashboard query on a real Prometheus that scraped a sale', () => {
  it('finds the dashboard queries', () => {
    expect(panels.length).toBeGreaterThanOrEqual(20);
    expect(variables.map((v) => v.expr)).toContain(`label_values(${METRIC.waiting}, sale)`);
  });

  it.each(panels.map((q) => [q.where, q.expr]))('%s returns data', async (_where, raw) => {
    const expr = substitute(raw, vars());
    const metric = exempt(expr);
    if (!metric) {
      expect(await problem(expr)).toBeNull();
      return;
    }
    // Exempt (NO_DATA_IN_A_CLEAN_SALE): the query must still parse, and Prometheus must have scraped the
    // metric's type from its job, so a rename still fails here.
    await prom.query(expr);
    const meta = await prom.api<Record<string, { type: string }[]>>('metadata', { metric });
    expect(meta[metric], `${metric} (exempt: ${NO_DATA_IN_A_CLEAN_SALE[metric]}) is not known to Prometheus`).toBeDefined();
  });

  it.each(variables.map((q) => [q.where, q.expr]))('%s lists the sales', async (_where, raw) => {
    const call = labelValuesCall(substitute(raw, vars()));
    expect(call, `${raw}: only label_values(metric, label) is evaluated here`).not.toBeNull();
    const values = await prom.api<string[]>(`label/${call!.label}/values`, { 'match[]': call!.match });
    expect(values).toEqual(expect.arrayContaining(sales));
  });

  it('fails a renamed metric, a label no series has and a query Prometheus refuses (so the cases above can fail)', async () => {
    const admissions = substitute(panels.find((q) => q.expr.includes(METRIC.admissions))!.expr, vars());
    expect(await problem(admissions)).toBeNull();
    expect(await problem(admissions.replace(METRIC.admissions, 'fs_admitted_total'))).toMatch(/^no series/);
    expect(await problem(admissions.replace('job="gateway"', 'job="worker"'))).toMatch(/^no series/);
    expect(await problem(admissions.replace('[1m]', '[1m'))).toMatch(/bad_data/);
    const quantile = substitute(panels.find((q) => q.expr.includes(`${METRIC.payToConfirmed}_bucket`))!.expr, vars());
    expect(await problem(quantile)).toBeNull();
    expect(await problem(quantile.replace('_bucket', '_buckets'))).toMatch(/^no series/);
    // An exempt metric's rename fails too: Prometheus has no metadata for a name nobody exports.
    expect((await prom.api<Record<string, unknown>>('metadata', { metric: 'fs_reconciliation_fixed_total' }))['fs_reconciliation_fixed_total']).toBeUndefined();
  });
});
