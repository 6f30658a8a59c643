/**
 * Every metric name this project exports, in one list shared by the code and grafana/, so a dashboard
 * cannot drift from what /metrics serves.
 */
export const METRIC = {
  wsConnections: 'fs_ws_connections',
  wsFrames: 'fs_ws_frames_total',
  wsErrors: 'fs_ws_errors_total',
  joins: 'fs_joins_total',
  admissions: 'fs_admissions_total',
  holdsExpired: 'fs_holds_expired_total',
  holdsActive: 'fs_holds_active',
  waiting: 'fs_waiting_buyers',
  sold: 'fs_units_sold',
  orders: 'fs_orders_total',
  paymentAttempts: 'fs_payment_attempts_total',
  paymentRetries: 'fs_payment_retries_total',
  providerLatency: 'fs_payment_provider_latency_seconds',
  deadLetters: 'fs_payment_dead_letters_total',
  reconciliationFixes: 'fs_reconciliation_fixes_total',
  captures: 'fs_payment_captures_total',
  outboxPublished: 'fs_outbox_published_total',
  outboxPending: 'fs_outbox_pending',
  webhookEvents: 'fs_stripe_webhook_events_total',
  payToConfirmed: 'fs_pay_to_confirmed_seconds',
  httpDuration: 'fs_http_request_duration_seconds',
  joinToQueued: 'fs_join_to_queued_seconds',
  admitterTicks: 'fs_admitter_ticks_total',
  liveConsoles: 'fs_admin_live_consoles',
  redisLossDetected: 'fs_redis_loss_detected_total',
  redisHeals: 'fs_redis_heals_total',
  saleEventResyncs: 'fs_sale_event_resyncs_total',
  salesQuarantined: 'fs_sales_quarantined',
  wsSlowReaders: 'fs_ws_slow_readers_total',
  saleEntries: 'fs_gateway_sale_entries',
} as const;

/**
 * Which process serves each metric on its /metrics: the gateway (port PORT, Prometheus job `gateway`)
 * or the settlement worker (METRICS_PORT, job `worker`). Every process registers every name (one
 * registry module), so the dashboard selects the owner's job to read real values, never a zero copy.
 * `both`: each process counts its own part of one flow (a labelled counter, so no zero copies).
 */
export type MetricOwner = 'gateway' | 'worker' | 'both';

export const METRIC_OWNER: Record<keyof typeof METRIC, MetricOwner> = {
  wsConnections: 'gateway',
  wsFrames: 'gateway',
  wsErrors: 'gateway',
  joins: 'gateway',
  admissions: 'gateway',
  holdsExpired: 'gateway',
  holdsActive: 'gateway',
  waiting: 'gateway',
  sold: 'gateway',
  orders: 'worker',
  paymentAttempts: 'worker',
  paymentRetries: 'worker',
  providerLatency: 'worker',
  deadLetters: 'worker',
  reconciliationFixes: 'worker',
  captures: 'worker',
  outboxPublished: 'worker',
  outboxPending: 'worker',
  // The gateway counts events it refuses or ignores at the door; the worker counts the ones it handles.
  webhookEvents: 'both',
  payToConfirmed: 'gateway',
  httpDuration: 'gateway',
  joinToQueued: 'gateway',
  admitterTicks: 'gateway',
  liveConsoles: 'gateway',
  redisLossDetected: 'gateway',
  redisHeals: 'gateway',
  saleEventResyncs: 'gateway',
  salesQuarantined: 'gateway',
  wsSlowReaders: 'gateway',
  saleEntries: 'gateway',
};
