import client from 'prom-client';
import { METRIC } from './metric-names.js';

/** One registry per process, with Node's default metrics (event-loop lag, heap, GC) included. */
export const registry = new client.Registry();

client.collectDefaultMetrics({ register: registry });

const r = [registry];

let countSaleEntries: () => number = () => 0;
/** The gateway's hub says how to count its entries by sale id (read at each scrape). */
export function countSaleEntriesWith(count: () => number): void {
  countSaleEntries = count;
}

export const metrics = {
  wsConnections: new client.Gauge({ name: METRIC.wsConnections, help: 'Open buyer WebSocket connections', registers: r }),
  wsFrames: new client.Counter({ name: METRIC.wsFrames, help: 'Buyer frames received, by type', labelNames: ['type'], registers: r }),
  wsErrors: new client.Counter({ name: METRIC.wsErrors, help: 'Buyer frames refused, by error code', labelNames: ['code'], registers: r }),
  joins: new client.Counter({ name: METRIC.joins, help: 'Join frames answered', registers: r }),
  admissions: new client.Counter({ name: METRIC.admissions, help: 'Buyers admitted to a hold by this process', labelNames: ['sale'], registers: r }),
  holdsExpired: new client.Counter({ name: METRIC.holdsExpired, help: 'Holds expired by the sweeper in this process', labelNames: ['sale'], registers: r }),
  holdsActive: new client.Gauge({ name: METRIC.holdsActive, help: 'Holds held or paying, per sale (as seen by the admitter)', labelNames: ['sale'], registers: r }),
  waiting: new client.Gauge({ name: METRIC.waiting, help: 'Buyers waiting, per sale (as seen by the admitter)', labelNames: ['sale'], registers: r }),
  sold: new client.Gauge({ name: METRIC.sold, help: 'Units sold, per sale (as seen by the admitter)', labelNames: ['sale'], registers: r }),
  orders: new client.Counter({ name: METRIC.orders, help: 'Orders written by this process', registers: r }),
  paymentAttempts: new client.Counter({ name: METRIC.paymentAttempts, help: 'Payment attempts by result', labelNames: ['result'], registers: r }),
  paymentRetries: new client.Counter({ name: METRIC.paymentRetries, help: 'Payment jobs retried after a transient failure', registers: r }),
  providerLatency: new client.Histogram({ name: METRIC.providerLatency, help: 'Payment provider call latency, by call (authorise, capture, cancel, lookup)', labelNames: ['call'], buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers: r }),
  deadLetters: new client.Counter({ name: METRIC.deadLetters, help: 'Payment jobs moved to the dead-letter queue after their last retry', registers: r }),
  reconciliationFixes: new client.Counter({ name: METRIC.reconciliationFixes, help: 'Payments finished by reconciliation, by action', labelNames: ['action'], registers: r }),
  captures: new client.Counter({ name: METRIC.captures, help: 'Captures of authorised payments, by result', labelNames: ['result'], registers: r }),
  outboxPublished: new client.Counter({ name: METRIC.outboxPublished, help: 'Outbox events published by the relay', registers: r }),
  outboxPending: new client.Gauge({ name: METRIC.outboxPending, help: 'Outbox events not yet published (as seen by the relay)', registers: r }),
  webhookEvents: new client.Counter({ name: METRIC.webhookEvents, help: 'Stripe webhook events received, by type and result', labelNames: ['type', 'result'], registers: r }),
  payToConfirmed: new client.Histogram({ name: METRIC.payToConfirmed, help: 'From a pay frame received to order_confirmed sent to the buyer', buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30], registers: r }),
  httpDuration: new client.Histogram({ name: METRIC.httpDuration, help: 'Operator and health HTTP request latency', labelNames: ['route', 'status'], buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5], registers: r }),
  joinToQueued: new client.Histogram({ name: METRIC.joinToQueued, help: 'From a join frame received to its answer sent', buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1], registers: r }),
  liveConsoles: new client.Gauge({ name: METRIC.liveConsoles, help: 'Operator consoles connected to the live channel of this gateway', registers: r }),
  redisLossDetected: new client.Counter({ name: METRIC.redisLossDetected, help: 'Sales whose Redis copy this process found lost or stale, by reason (missing, generation, behind_ledger, stock, restarted, interrupted)', labelNames: ['reason'], registers: r }),
  redisHeals: new client.Counter({ name: METRIC.redisHeals, help: 'Sales healed from the Postgres ledger by this process', registers: r }),
  saleEventResyncs: new client.Counter({ name: METRIC.saleEventResyncs, help: 'Times this gateway lost its sale events subscription and made every waiting buyer read their state again', registers: r }),
  salesQuarantined: new client.Gauge({ name: METRIC.salesQuarantined, help: 'Sales quarantined because their ledger cannot be reconciled', registers: r }),
  wsSlowReaders: new client.Counter({ name: METRIC.wsSlowReaders, help: 'Buyer sockets found not reading (send buffer over its cap): per-frame updates stop until they catch up', registers: r }),
  saleEntries: new client.Gauge({
    name: METRIC.saleEntries,
    help: 'Entries this gateway keeps by sale id (sale cache, open frames, sockets by sale, queue and window state): follows the sales in use, not the ids asked for',
    registers: r,
    collect() {
      this.set(countSaleEntries());
    },
  }),
  admitterTicks: new client.Counter({ name: METRIC.admitterTicks, help: 'Admitter ticks run while holding a sale lease', registers: r }),
};
