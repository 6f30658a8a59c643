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
} as const;
