import { randomBytes } from 'node:crypto';
import { percentiles } from '../crowd/stats.js';
import { sourceAddresses } from '../crowd/options.js';
import { SocketFleet } from '../crowd/threads.js';
import { adminCall, BENCH_BUYER_SECRET, stackEnv } from './infra.js';
import { cpuMs, startChild, type Child } from './child-processes.js';

/**
 * What the gateway-joins and memory benches share: a gateway child process with a paused sale (so
 * every join is answered `queued` and nobody is admitted), a bare uWS echo server as the baseline,
 * and a fleet of sockets spread over worker threads and loopback addresses.
 */
export const FLEET_THREADS = 2;
export const FLEET_SOURCES = sourceAddresses(4);

export async function startGatewayWithPausedSale(o: { redisUrl: string; databaseUrl: string; prefix: string; execArgv?: string[] }): Promise<{ gateway: Child; wsUrl: string; saleId: string }> {
  const gateway = await startChild('../../gateway/main.ts', stackEnv({ ...o, standInUrl: 'http://127.0.0.1:9', extra: { TICK_MS: '100' } }), o.execArgv);
  const base = `http://127.0.0.1:${gateway.port}`;
  const saleId = `bench-${randomBytes(4).toString('hex')}`;
  await adminCall(base, 'POST', '/v1/admin/sales', {
    id: saleId, name: 'bench', sku: 'B', price: { amount: 100, currency: 'eur' }, stock: 100, pools: 4, admitPerSecond: 1, maxActiveHolds: 100, holdSeconds: 60,
  });
  await adminCall(base, 'POST', `/v1/admin/sales/${saleId}/pause`);
  return { gateway, wsUrl: `ws://127.0.0.1:${gateway.port}/v1/sales/${saleId}/ws`, saleId };
}

export function startEcho(execArgv: string[] = []): Promise<Child> {
  return startChild('./echo-server.ts', { PATH: process.env.PATH, HOME: process.env.HOME }, execArgv);
}

export interface JoinRound {
  connected: number;
  failed: number;
  errors: string[];
  answered: number;
  missing: number;
  perSecond: number;
  latency: ReturnType<typeof percentiles>;
  localAddresses: string[];
  connectsPerSecond: number;
  connectMs: ReturnType<typeof percentiles>;
  /** CPU the server process used per socket: to upgrade it, and to answer its frame (µs). */
  cpuPerSocket?: { upgradeUs: number; answerUs: number };
}

/** Connects `n` sockets, then sends one frame on all at once and times the answers. Leaves them open. */
export async function joinRound(fleet: SocketFleet, o: { wsUrl: string; n: number; secret?: boolean; frame: string; answer: string; serverPid?: number }): Promise<JoinRound> {
  const ids = Array.from({ length: o.n }, (_, i) => `bb-${i}-${randomBytes(2).toString('hex')}`);
  const cpu = () => (o.serverPid === undefined ? Promise.resolve(0) : cpuMs(o.serverPid));
  const cpu0 = await cpu();
  const t0 = performance.now();
  const c = await fleet.connect({ wsUrl: o.wsUrl, secret: o.secret ? BENCH_BUYER_SECRET : undefined, ids, sources: FLEET_SOURCES });
  const connectSpan = performance.now() - t0;
  // Let the server finish the opening frames of every socket before the clock starts.
  await new Promise((r) => setTimeout(r, 200));
  const cpu1 = await cpu();
  const a = await fleet.sendAll(o.frame, o.answer);
  const cpu2 = await cpu();
  return {
    connected: c.connectMs.length, failed: c.failed, errors: c.errors, answered: a.latencies.length, missing: a.missing,
    perSecond: (a.latencies.length / a.spanMs) * 1000, latency: percentiles(a.latencies), localAddresses: c.localAddresses,
    connectsPerSecond: (c.connectMs.length / connectSpan) * 1000, connectMs: percentiles(c.connectMs),
    cpuPerSocket: o.serverPid === undefined ? undefined : { upgradeUs: ((cpu1 - cpu0) * 1000) / o.n, answerUs: ((cpu2 - cpu1) * 1000) / o.n },
  };
}
