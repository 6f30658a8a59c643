import { SocketFleet } from '../crowd/threads.js';
import { makeLine, type BenchLine } from './json-line.js';
import { adminCall, benchPrefix, deletePrefix, ownDatabase, type BenchContext } from './infra.js';
import { cpuMs, type Child } from './child-processes.js';
import { FLEET_THREADS, joinRound, startEcho, startGatewayWithPausedSale } from './gateway-bench-kit.js';

/**
 * gateway-joins: N sockets open on one gateway process (one core: its JS runs on one thread), then
 * every socket sends `join` at once. Figures: joins answered `queued` per second, and p99 of
 * join→queued. Baseline: a bare uWS echo server answering the same frame on the same sockets.
 */
/**
 * The gateway's CPU while the line moves: the paused sale resumes at a slow admission rate, so every
 * waiter's place changes every second and the gateway pushes each socket its new place (at most once a
 * second: `pushPositions`). CPU per waiting socket per second is what a crowd costs while it waits.
 */
async function movingLineCpu(gateway: Child, saleId: string, ms: number): Promise<{ cpuMs: number; seconds: number; admitPerSecond: number }> {
  const base = `http://127.0.0.1:${gateway.port}`;
  // Slow enough that the sale's 100 units last the window: the cost measured is positions, not admissions.
  const admitPerSecond = 10;
  await adminCall(base, 'PATCH', `/v1/admin/sales/${saleId}`, { admitPerSecond });
  await adminCall(base, 'POST', `/v1/admin/sales/${saleId}/resume`);
  // The first second after the resume is every socket's first push at once; the steady state follows.
  await new Promise((r) => setTimeout(r, 1500));
  const cpu0 = await cpuMs(gateway.pid);
  await new Promise((r) => setTimeout(r, ms));
  const cpuUsed = (await cpuMs(gateway.pid)) - cpu0;
  await adminCall(base, 'POST', `/v1/admin/sales/${saleId}/pause`);
  return { cpuMs: cpuUsed, seconds: ms / 1000, admitPerSecond };
}

export async function gatewayJoinsBench(ctx: BenchContext): Promise<BenchLine[]> {
  // The figure is at 10,000 sockets; --quick holds fewer so the whole suite stays under 90 s.
  const n = ctx.quick ? 2000 : 10_000;
  const prefix = benchPrefix('joins');
  const db = await ownDatabase(ctx.databaseUrl, 'joins');
  const fleet = new SocketFleet(FLEET_THREADS);
  try {
    const { gateway, wsUrl, saleId } = await startGatewayWithPausedSale({ redisUrl: ctx.redisUrl, databaseUrl: db.url, prefix });
    let ours;
    let positions;
    try {
      ours = await joinRound(fleet, { wsUrl, n, secret: true, frame: '{"type":"join"}', answer: 'queued', serverPid: gateway.pid });
      positions = await movingLineCpu(gateway, saleId, ctx.quick ? 2000 : 5000);
      await fleet.close();
    } finally {
      await gateway.stop();
    }
    const echo = await startEcho();
    let base;
    try {
      base = await joinRound(fleet, { wsUrl: `ws://127.0.0.1:${echo.port}/echo`, n, frame: '{"type":"join"}', answer: 'join', serverPid: echo.pid });
      await fleet.close();
    } finally {
      await echo.stop();
    }
    if (ours.missing > 0 || ours.failed > 0) throw new Error(`gateway-joins: ${ours.failed} sockets failed to connect (${ours.errors.join('; ')}), ${ours.missing} joins unanswered`);
    ctx.note(`gateway-joins: ${n} sockets from ${ours.localAddresses.join(',')}; gateway ${Math.round(ours.perSecond)} joins/s p50 ${ours.latency.p50} p99 ${ours.latency.p99} ms; echo ${Math.round(base.perSecond)}/s p50 ${base.latency.p50} p99 ${base.latency.p99} ms; upgrades: gateway ${Math.round(ours.connectsPerSecond)}/s (p99 ${ours.connectMs.p99} ms), echo ${Math.round(base.connectsPerSecond)}/s (p99 ${base.connectMs.p99} ms)`);
    const us = (r: typeof ours) => `${Math.round(r.cpuPerSocket!.upgradeUs)} µs per upgrade, ${Math.round(r.cpuPerSocket!.answerUs)} µs per answer`;
    ctx.note(`gateway-joins: server CPU (steadier than rates on a shared machine): gateway ${us(ours)}; echo ${us(base)}`);
    ctx.note(`gateway-joins: with the line moving (${positions.admitPerSecond} admitted/s, so every place changes each second and each socket gets at most one 'queued' push per second), the gateway used ${Math.round((positions.cpuMs * 1000) / (n * positions.seconds))} µs of CPU per waiting socket per second over ${positions.seconds} s`);
    return [
      makeLine('gateway-joins', ours.perSecond, 'joins answered queued/s (1 gateway process)', 'uws-echo', base.perSecond),
      makeLine('gateway-join-p99', ours.latency.p99, `ms join→queued p99 at ${n} sockets`, 'uws-echo-p99', base.latency.p99),
    ];
  } finally {
    await fleet.terminate();
    await deletePrefix(ctx.redisUrl, prefix);
    await db.drop();
  }
}
