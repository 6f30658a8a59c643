import { METRIC, METRIC_OWNER, type MetricOwner } from '../shared/metric-names.js';

/**
 * The Grafana dashboard, built from the one list of metric names (shared/metric-names.ts), so a
 * panel cannot name a metric the code does not export. `npm run dashboard` writes
 * grafana/dashboards/flash-sale.json; a test fails when the committed file differs from this.
 */

type Name = keyof typeof METRIC;
const DS = { type: 'prometheus', uid: 'prometheus' } as const;
const SALE = 'sale=~"$sale"';

/** The job matcher of an owner's series (both jobs for a flow counted in both processes). */
export function jobMatcher(owner: MetricOwner): string {
  return owner === 'both' ? 'job=~"gateway|worker"' : `job="${owner}"`;
}

/** A selector of the owning process' series: the other process serves a zero copy of every name. */
function sel(n: Name, suffix = '', extra = ''): string {
  return `${METRIC[n]}${suffix}{${[jobMatcher(METRIC_OWNER[n]), extra].filter(Boolean).join(',')}}`;
}
const rate = (n: Name, by = '', extra = '') => `sum${by ? ` by (${by})` : ''} (rate(${sel(n, '', extra)}[1m]))`;
// Gauges set by the admitter: a gateway that lost a sale's lease keeps its last value, so take the max.
const gauge = (n: Name) => `max by (sale) (${sel(n, '', SALE)})`;
const quantile = (q: number, n: Name, by = '') => `histogram_quantile(${q}, sum by (le${by ? `, ${by}` : ''}) (rate(${sel(n, '_bucket')}[1m])))`;

interface Target { expr: string; legend: string }
interface PanelSpec { title: string; unit: string; description: string; targets: Target[] }

const PANELS: PanelSpec[] = [
  { title: 'Admissions / s', unit: 'reqps', description: 'Buyers moved from the waiting room to a hold, per sale.', targets: [{ expr: rate('admissions', 'sale', SALE), legend: '{{sale}}' }] },
  { title: 'Waiting buyers', unit: 'short', description: 'Buyers in the waiting room (pre-queue included), per sale.', targets: [{ expr: gauge('waiting'), legend: '{{sale}}' }] },
  { title: 'Holds active', unit: 'short', description: 'Holds held or paying, per sale.', targets: [{ expr: gauge('holdsActive'), legend: '{{sale}}' }] },
  { title: 'Units sold', unit: 'short', description: 'Units sold, per sale.', targets: [{ expr: gauge('sold'), legend: '{{sale}}' }] },
  { title: 'Orders / s', unit: 'reqps', description: 'Orders written by the settlement workers.', targets: [{ expr: rate('orders'), legend: 'orders' }] },
  { title: 'Payment results / s', unit: 'reqps', description: 'Payment attempts by result (succeeded, declined, error, ...).', targets: [{ expr: rate('paymentAttempts', 'result'), legend: '{{result}}' }] },
  {
    title: 'Retries and dead letters / s', unit: 'reqps', description: 'Payment jobs retried after a transient failure, moved to the dead-letter queue, and finished by reconciliation.',
    targets: [
      { expr: rate('paymentRetries'), legend: 'retries' },
      { expr: rate('deadLetters'), legend: 'dead letters' },
      { expr: rate('reconciliationFixes', 'action'), legend: 'reconciled: {{action}}' },
    ],
  },
  { title: 'Captures / s', unit: 'reqps', description: 'Captures of authorised payments, by result.', targets: [{ expr: rate('captures', 'result'), legend: '{{result}}' }] },
  { title: 'WebSocket connections', unit: 'short', description: 'Open buyer WebSockets over all gateways.', targets: [{ expr: `sum(${sel('wsConnections')})`, legend: 'connections' }] },
  {
    title: 'Event-loop lag', unit: 's', description: 'Node.js event-loop lag of each process (prom-client default metrics).',
    targets: [
      { expr: 'max by (job) (nodejs_eventloop_lag_p50_seconds)', legend: 'p50 {{job}}' },
      { expr: 'max by (job) (nodejs_eventloop_lag_p99_seconds)', legend: 'p99 {{job}}' },
    ],
  },
  {
    title: 'join → queued latency', unit: 's', description: 'From a join frame received to its answer sent, p50 and p99.',
    targets: [{ expr: quantile(0.5, 'joinToQueued'), legend: 'p50' }, { expr: quantile(0.99, 'joinToQueued'), legend: 'p99' }],
  },
  {
    title: 'pay → confirmed latency', unit: 's', description: 'From a pay frame received to order_confirmed sent to the buyer, p50 and p99.',
    targets: [{ expr: quantile(0.5, 'payToConfirmed'), legend: 'p50' }, { expr: quantile(0.99, 'payToConfirmed'), legend: 'p99' }],
  },
  { title: 'Payment provider latency p99', unit: 's', description: 'Stripe calls by kind.', targets: [{ expr: quantile(0.99, 'providerLatency', 'call'), legend: '{{call}}' }] },
  { title: 'Holds expired / s', unit: 'reqps', description: 'Holds not paid in time, returned to their pool.', targets: [{ expr: rate('holdsExpired', 'sale', SALE), legend: '{{sale}}' }] },
  {
    title: 'Buyer frames / s', unit: 'reqps', description: 'Frames received by type, and frames refused by error code.',
    targets: [{ expr: rate('wsFrames', 'type'), legend: '{{type}}' }, { expr: rate('wsErrors', 'code'), legend: 'refused: {{code}}' }],
  },
  {
    title: 'Outbox', unit: 'short', description: 'Order events waiting for the relay, and published per second.',
    targets: [{ expr: `max(${sel('outboxPending')})`, legend: 'pending' }, { expr: rate('outboxPublished'), legend: 'published / s' }],
  },
  { title: 'Stripe webhook events / s', unit: 'reqps', description: 'Webhook events by type and result: refused or ignored by the gateway, handled by the workers.', targets: [{ expr: rate('webhookEvents', 'type, result'), legend: '{{type}} {{result}}' }] },
  { title: 'Operator API p99', unit: 's', description: 'Operator and health request latency by route.', targets: [{ expr: quantile(0.99, 'httpDuration', 'route'), legend: '{{route}}' }] },
];

export function buildDashboard() {
  return {
    uid: 'flash-sale',
    title: 'Flash sale',
    description: 'Generated by `npm run dashboard` from shared/metric-names.ts; do not edit by hand.',
    schemaVersion: 39,
    version: 1,
    editable: false,
    refresh: '5s',
    time: { from: 'now-30m', to: 'now' },
    templating: {
      list: [{
        name: 'sale', label: 'Sale', type: 'query', datasource: DS, refresh: 2, includeAll: true, multi: true, allValue: '.*',
        current: { text: 'All', value: '$__all' },
        definition: `label_values(${METRIC.waiting}, sale)`,
        query: { query: `label_values(${METRIC.waiting}, sale)`, refId: 'sale' },
      }],
    },
    panels: PANELS.map((p, i) => ({
      id: i + 1,
      type: 'timeseries',
      title: p.title,
      description: p.description,
      datasource: DS,
      gridPos: { h: 8, w: 8, x: (i % 3) * 8, y: Math.floor(i / 3) * 8 },
      fieldConfig: { defaults: { unit: p.unit, min: 0 }, overrides: [] },
      options: { legend: { displayMode: 'list', placement: 'bottom' }, tooltip: { mode: 'multi' } },
      targets: p.targets.map((t, j) => ({ refId: String.fromCharCode(65 + j), expr: t.expr, legendFormat: t.legend, datasource: DS })),
    })),
  };
}

/** The file as committed: two-space JSON and a final newline. */
export function dashboardJson(): string {
  return `${JSON.stringify(buildDashboard(), null, 2)}\n`;
}
