import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { afterAll, beforeAll, expect } from 'vitest';
import { runCrowd } from '../../loadtest/crowd/threads.js';
import type { Plan } from '../../loadtest/crowd/buyer.js';
import type { BuyerResult } from '../../loadtest/crowd/stats.js';
import { databaseUrl, uniqueId } from '../helpers/env.js';
import { BUYER_SECRET, startStack, type Stack, type StackOptions } from '../helpers/stack.js';
import { cutLinks, startChaosRedis, type ChaosRedis, type ChaosRedisOptions, type LinkCutter } from './chaos-redis.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';
import { gatewayMetrics, processesOf } from './chaos-observe.js';

/**
 * What every chaos case needs (not a test file itself): a stack on a private redis-server or a private
 * Redis Cluster (chaos-redis.ts: by the run's Redis mode), optionally
 * behind TCP proxies the test cuts; a crowd of real WebSocket buyers in worker threads, every frame
 * kept with its arrival time; and the closing check each case ends with — the audit clean, captured
 * charges at the stand-in == orders in Postgres, no hold charged twice, nobody stuck.
 */

export interface Chaos {
  stack: Stack;
  /** The private Redis (one server or a Cluster) every process of the stack uses. */
  redis: ChaosRedis;
  /** Between every process and the private Redis (every node of a Cluster), when asked for. */
  redisProxy?: LinkCutter;
  /** Between every process and Postgres, when asked for. */
  dbProxy?: TcpProxy;
  /** A direct connection to the stack's database, for the test's own reads and writes. */
  db: pg.Pool;
  close(): Promise<void>;
}

export interface ChaosOptions extends Omit<StackOptions, 'redisUrl' | 'processDatabaseUrl'> {
  redisProxy?: boolean;
  /** The private Redis: on a Cluster, replicas per master. */
  redis?: ChaosRedisOptions;
  dbProxy?: boolean;
}

/** Starts everything a case needs; on a failure half-way, stops what had started. */
export async function startChaos(o: ChaosOptions = {}): Promise<Chaos> {
  const stops: (() => Promise<unknown>)[] = [];
  const close = async () => {
    for (const stop of stops.splice(0).reverse()) await stop().catch((err: Error) => console.error(`chaos cleanup: ${err.message}`));
  };
  try {
    const redis = await startChaosRedis(o.redis);
    stops.push(() => redis.stop());
    let redisProxy: LinkCutter | undefined;
    let redisUrl = redis.url;
    if (o.redisProxy) {
      const cut = await cutLinks(redis);
      stops.push(cut.close);
      redisProxy = cut.cutter;
      redisUrl = cut.url;
    }
    let dbProxy: TcpProxy | undefined;
    if (o.dbProxy) {
      // The stack's database lives on the run's Postgres server: the proxy forwards to that server.
      const server = new URL(databaseUrl());
      const p = await new TcpProxy(server.hostname, Number(server.port || 5432)).start();
      dbProxy = p;
      stops.push(() => p.close());
    }
    const stack = await startStack({
      ...o,
      redisUrl,
      processDatabaseUrl: dbProxy ? (direct) => dbProxy.urlFor(direct) : undefined,
    });
    stops.push(() => stack.close());
    const db = new pg.Pool({ connectionString: stack.databaseUrl, max: 3 });
    stops.push(() => db.end());
    return { stack, redis, redisProxy, dbProxy, db, close };
  } catch (err) {
    await close();
    throw err;
  }
}

/**
 * Writes a case's figures as one JSON line on stdout, for the closing note and docs/reliability.md;
 * with the crowd's results, every buyer's frames go to test-artifacts/chaos/<case>.json (git-ignored),
 * to see afterwards what a buyer went through.
 */
export function printFigures(figures: Record<string, unknown> & { case: string }, results?: BuyerResult[], stack?: Stack): void {
  process.stdout.write(`${JSON.stringify(figures)}\n`);
  if (!results) return;
  const dir = fileURLToPath(new URL('../../test-artifacts/chaos/', import.meta.url));
  mkdirSync(dir, { recursive: true });
  // The processes' log lines too (warn and above unless the case asked for more), by process.
  const logs = stack && Object.fromEntries(processesOf(stack).map((p, i) => [`${i < stack.gateways.length ? 'gateway' : 'worker'}-${p.child.pid}`, p.logs]));
  writeFileSync(`${dir}${figures.case.replace(/[^a-z0-9-]/g, '_')}.json`, JSON.stringify({ figures, results, logs }));
}

/** Whether each live gateway's admitter ticks a sale it holds the lease of: fs_admitter_ticks_total read twice, `ms` apart. */
export async function admittersTicking(stack: Stack, ms = 1000): Promise<boolean[]> {
  const a = await gatewayMetrics(stack, 'fs_admitter_ticks_total');
  await sleep(ms);
  const b = await gatewayMetrics(stack, 'fs_admitter_ticks_total');
  return a.map((x, i) => b[i]! > x);
}

export { createSale } from '../e2e/kit.js';
// The kit is one import for the cases: its ledger checks and its readings of the stack live apart.
export * from './chaos-ledger.js';
export * from './chaos-observe.js';

export interface CrowdOptions {
  buyers: number;
  /** Every buyer arrives within this many ms. */
  rampMs?: number;
  /** Buyers still without an end this long after the last arrival count as stuck. */
  timeoutMs: number;
  /** Gateways the crowd is spread over (indexes into stack.gateways); default every one still running. */
  gateways?: number[];
  plan?: (i: number) => Plan;
  label?: string;
  /** Buyers that have an end so far, a few times a second. */
  onFinished?: (finished: number) => void;
}

/**
 * A crowd of buyers over real WebSockets (worker threads, one per gateway used): each joins, pays
 * with pm_card_visa when admitted (or follows `plan`), sends its last join or pay again after a
 * "try again" error, reconnects a dropped socket, and stops at an end (order, sold_out,
 * hold_expired, left). Every frame is kept with its arrival time.
 */
export async function runBuyers(stack: Stack, saleId: string, o: CrowdOptions): Promise<BuyerResult[]> {
  const gws = o.gateways ?? stack.gateways.map((_, i) => i).filter((i) => stack.gateways[i]!.alive());
  const label = o.label ?? uniqueId('cb');
  const t0 = Date.now() + 500 + Math.ceil(o.buyers / 20);
  const deadline = t0 + (o.rampMs ?? 0) + o.timeoutMs;
  const finished = gws.map(() => 0);
  const runs = gws.map((g, gi) => {
    const buyers = Array.from({ length: o.buyers }, (_, i) => i).filter((i) => i % gws.length === gi).map((i) => ({
      id: `${label}-${i}`, plan: o.plan?.(i) ?? 'pay', startAt: t0 + Math.random() * (o.rampMs ?? 0),
    }));
    return runCrowd({
      wsUrl: `ws://127.0.0.1:${stack.gateways[g]!.port}/v1/sales/${saleId}/ws`, secret: BUYER_SECRET, buyers, threads: 1, sources: ['127.0.0.1'],
      deadline, keepFrames: true,
      onProgress: (p) => {
        finished[gi] = p.finished;
        o.onFinished?.(finished.reduce((a, x) => a + x, 0));
      },
    });
  });
  return (await Promise.all(runs)).flatMap((r) => r.results);
}

/** When a buyer got its end (the arrival of its last frame), epoch ms; undefined if it has none. */
export function endedAt(r: BuyerResult): number | undefined {
  return r.outcome === 'stuck' ? undefined : r.frames?.at(-1)?.at;
}

export function outcomes(results: BuyerResult[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of results) out[r.outcome] = (out[r.outcome] ?? 0) + 1;
  return out;
}

/**
 * Fails with the frames of a few stuck buyers, so a failure says where they stopped; with `c`, also
 * what the ledger holds for each one's last hold (an order its buyer was never told of, an attempt).
 */
export async function expectNobodyStuck(results: BuyerResult[], c?: Pick<Chaos, 'stack' | 'db'>): Promise<void> {
  const stuck = results.filter((r) => r.outcome === 'stuck');
  const sample = await Promise.all(stuck.slice(0, 5).map(async (r) => {
    const holdId = [...(r.frames ?? [])].reverse().find((f) => typeof f.holdId === 'string')?.holdId as string | undefined;
    const ledger = c && holdId ? {
      orders: (await c.db.query('SELECT id, created_at FROM orders WHERE hold_id = $1', [holdId])).rows,
      attempts: (await c.db.query('SELECT attempt_no, status, updated_at FROM payment_attempts WHERE hold_id = $1', [holdId])).rows,
    } : undefined;
    return { id: r.id, frames: r.frames?.slice(-8), holdId, ledger };
  }));
  expect(stuck.length, `${stuck.length} buyers stuck, e.g. ${JSON.stringify(sample)}`).toBe(0);
}

/**
 * A buyer is told of every hold given to them: no `hold_expired` (nor order) for a hold the buyer was
 * never told was theirs (`admitted`, or its payment under way). A unit given to someone who never
 * heard of it is a unit lost to them and held from everyone else for holdSeconds.
 */
export function expectEveryHoldTold(results: BuyerResult[]): void {
  const untold = untoldHolds(results);
  const sample = untold.slice(0, 3).map((r) => ({ id: r.id, frames: r.frames?.filter((f) => f.type !== 'queued').slice(-6) }));
  expect(untold.length, `buyers whose hold ended without their ever being told of it, e.g. ${JSON.stringify(sample)}`).toBe(0);
}

/** Buyers with a hold that ended (expired or sold) before they were told it was theirs. */
export function untoldHolds(results: BuyerResult[]): BuyerResult[] {
  return results.filter((r) => {
    const told = new Set<unknown>();
    for (const f of r.frames ?? []) {
      if (f.type === 'admitted' || f.type === 'payment_pending') told.add(f.holdId);
      if ((f.type === 'hold_expired' || f.type === 'order_confirmed') && !told.has(f.holdId)) return true;
    }
    return false;
  });
}

/** Fails naming each process of the stack that died, with how and its last log lines. */
export function expectAllAlive(stack: Stack): void {
  const dead = [...stack.gateways.map((p, i) => ['gateway', i, p] as const), ...stack.workers.map((p, i) => ['worker', i, p] as const)]
    .filter(([, , p]) => !p.alive())
    .map(([role, i, p]) => `${role} ${i} (pid ${p.child.pid}) ended with ${p.child.exitCode ?? p.child.signalCode}; last logs: ${p.logs.slice(-5).map((l) => JSON.stringify(l)).join('\n')}\nstderr tail: ${p.stderr().slice(-1500)}`);
  expect(dead, 'every process is still alive').toEqual([]);
}

/** The first log line of any of `procs` matching `pred` at or after `since` (epoch ms), or undefined. */
export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * One chaos stack for the tests of a file or describe block: started before them, closed after them,
 * also when they fail. Returns the running stack's handle.
 */
export function useChaos(opts: Parameters<typeof startChaos>[0]): () => Chaos {
  let c: Chaos | undefined;
  beforeAll(async () => {
    c = await startChaos(opts);
  }, 120_000);
  afterAll(async () => {
    await c?.close();
  }, 60_000);
  return () => c!;
}
