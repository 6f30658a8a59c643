import { setTimeout as sleep } from 'node:timers/promises';
import type { LogLine, Proc, Stack } from '../helpers/stack.js';
import { metricValue } from '../e2e/kit.js';
import type { SaleStats } from '../../admission/sale-schema.js';

// What a chaos case reads of the running stack: its processes' logs (the Redis guard's detection and
// heal lines), the gateways' metrics, and the sale's stats and audit over time.

export function firstLog(procs: Proc[], pred: (l: LogLine) => boolean, since = 0): LogLine | undefined {
  let first: LogLine | undefined;
  for (const p of procs) for (const l of p.logs) if (l.time >= since && pred(l) && (!first || l.time < first.time)) first = l;
  return first;
}

// The Redis guard's log lines (LOG_LEVEL=info): `redis loss detected` {sale, reason} when a process
// finds Redis behind the ledger, `sale healed from the ledger` {sale, generation, ms} once rebuilt.
export const LOSS_DETECTED = 'redis loss detected';
export const HEALED = 'sale healed from the ledger';

export const isLog = (msg: string, saleId: string) => (l: LogLine) => l.msg === msg && l.sale === saleId;

/** Every process of the stack, gateways first. */
export const processesOf = (stack: Stack): Proc[] => [...stack.gateways, ...stack.workers];

/**
 * Waits (bounded, polling the processes' logs) for the first line matching `pred` at or after `since`
 * in any process of the stack, also ones started meanwhile; undefined if none came in time.
 */
export async function waitAnyLog(stack: Stack, pred: (l: LogLine) => boolean, since: number, timeoutMs: number): Promise<LogLine | undefined> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const hit = firstLog(processesOf(stack), pred, since);
    if (hit || Date.now() > end) return hit;
    await sleep(50);
  }
}

/**
 * When a loss was first detected and healed, from the logs at or after `since`: ms after `zero`
 * (e.g. the moment the stale Redis came back).
 */
export function healFigures(stack: Stack, saleId: string, since: number, zero = since): { detectMs?: number; healMs?: number; healLogMs?: number; reasons: string[]; healLines: number } {
  const procs = processesOf(stack);
  const detected = firstLog(procs, isLog(LOSS_DETECTED, saleId), since);
  const healed = firstLog(procs, isLog(HEALED, saleId), since);
  const reasons = [...new Set(procs.flatMap((p) => p.logs.filter((l) => l.time >= since && isLog(LOSS_DETECTED, saleId)(l)).map((l) => String(l.reason))))];
  const healLines = procs.reduce((a, p) => a + p.logs.filter((l) => l.time >= since && isLog(HEALED, saleId)(l)).length, 0);
  return {
    detectMs: detected ? detected.time - zero : undefined,
    healMs: healed ? healed.time - zero : undefined,
    healLogMs: typeof healed?.ms === 'number' ? healed.ms : undefined,
    reasons,
    healLines,
  };
}

/**
 * The `fs_redis_loss_detected_total` of the gateway that logged the first detection of this loss, or
 * null when a settlement worker saw it first (workers have no /metrics here, and once one process has
 * healed the sale, the others' guards find nothing to detect).
 */
export async function detectorMetric(stack: Stack, saleId: string, since: number): Promise<number | null> {
  const first = firstLog(stack.gateways, isLog(LOSS_DETECTED, saleId), since);
  const workerFirst = firstLog(stack.workers, isLog(LOSS_DETECTED, saleId), since);
  if (!first || (workerFirst && workerFirst.time < first.time)) return null;
  const g = stack.gateways.find((p) => p.logs.includes(first))!;
  return metricValue(await (await fetch(`http://127.0.0.1:${g.port}/metrics`)).text(), 'fs_redis_loss_detected_total');
}

/** One metric (its series with `labels` summed) of each live gateway, from its /metrics. */
export async function gatewayMetrics(stack: Stack, name: string, labels = ''): Promise<number[]> {
  return Promise.all(stack.gateways.filter((p) => p.alive()).map(async (g) => metricValue(await (await fetch(`http://127.0.0.1:${g.port}/metrics`)).text(), name, labels)));
}

/** One metric summed over the live gateways. */
export async function gatewayMetric(stack: Stack, name: string, labels = ''): Promise<number> {
  return (await gatewayMetrics(stack, name, labels)).reduce((a, x) => a + x, 0);
}

/** Polls the sale's stats until `pred` holds (bounded); returns the last stats read either way. */
export async function statsUntil(c: { stack: Stack }, saleId: string, pred: (s: SaleStats) => boolean, timeoutMs: number): Promise<SaleStats> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const r = await c.stack.admin('GET', `/v1/admin/sales/${saleId}`);
    if ((r.status === 200 && pred(r.body.stats)) || Date.now() > end) return r.body.stats;
    await sleep(100);
  }
}

/** Polls the audit until it is clean (bounded); ms until it was, or undefined. */
export async function auditCleanWithin(stack: Stack, saleId: string, since: number, timeoutMs: number): Promise<{ ms?: number; last: any }> {
  let last: any;
  while (Date.now() < since + timeoutMs) {
    const r = await stack.admin('GET', `/v1/admin/sales/${saleId}/audit`).catch((err: Error) => ({ status: 0, body: { error: err.message } }));
    last = r.body;
    if (r.status === 200 && r.body.ok === true) return { ms: Date.now() - since, last };
    await sleep(200);
  }
  return { last };
}
