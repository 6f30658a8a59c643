import { crowdOptions } from '../crowd/options.js';
import { runStampede } from '../crowd/run.js';
import { makeLine, type BenchLine } from './json-line.js';
import { cpuPerUnit, startCpuMeter, type CpuMeter } from './cpu-meter.js';
import { adminCall, BENCH_ADMIN_TOKEN, BENCH_BUYER_SECRET, benchPrefix, deletePrefix, ownDatabase, stackEnv, type BenchContext } from './infra.js';
import { startChild, type Child } from './child-processes.js';

/**
 * sellout: 10,000 buyers against 1,000 units at admitPerSecond 500. The whole crowd is connected and
 * queued first (the sale paused), then the sale resumes: the clock runs from the resume to the last
 * order_confirmed a buyer receives. The ideal is stock ÷ rate = 2 s (the token bucket starts empty);
 * the ratio says how much admission, payment and settlement add on top of it. --quick scales crowd,
 * stock and rate down by the same factors, so the ideal stays 2 s.
 */
export async function selloutBench(ctx: BenchContext): Promise<BenchLine[]> {
  const [BUYERS, STOCK, RATE] = ctx.quick ? [1500, 200, 100] : [10_000, 1000, 500];
  const prefix = benchPrefix('sellout');
  const db = await ownDatabase(ctx.databaseUrl, 'sellout');
  const children: Child[] = [];
  try {
    const standIn = await startChild('./stand-in-child.ts', { PATH: process.env.PATH, HOME: process.env.HOME });
    children.push(standIn);
    const standInUrl = `http://127.0.0.1:${standIn.port}`;
    const env = stackEnv({ redisUrl: ctx.redisUrl, databaseUrl: db.url, prefix, standInUrl });
    const gateway = await startChild('../../gateway/main.ts', env);
    children.push(gateway);
    const workers: Child[] = [];
    for (let w = 0; w < 2; w++) workers.push(await startChild('../../bin/worker.ts', env));
    children.push(...workers);
    const url = `http://127.0.0.1:${gateway.port}`;

    const crowd = (buyers: number, stock: number) => crowdOptions.parse({
      url, standIn: standInUrl, adminToken: BENCH_ADMIN_TOKEN, secret: BENCH_BUYER_SECRET, buyers, stock, pools: 4, rate: RATE,
      maxHolds: 2 * stock, holdSeconds: 60, decline: 0, abandon: 0, leave: 0, rampMs: 1000, timeout: 90, progress: false, threads: 2, sources: 4,
    });
    // An untimed first sale through the same gateway and workers (a fifth of the crowd, all of the
    // stock): the timed sale then runs on compiled code and open connections, as on a deployment
    // that has been up for a while, not on processes started a second ago. Its figure is printed too.
    const warm = await runStampede(crowd(BUYERS / 5, STOCK), {});
    soldOutTimes(warm, STOCK, 'first sale');

    let resumedAt = 0;
    let saleId = '';
    let cpu: CpuMeter | undefined;
    const timed = await runStampede(crowd(BUYERS, STOCK), {
      afterCreate: async (id) => {
        saleId = id;
        await adminCall(url, 'POST', `/v1/admin/sales/${id}/pause`);
      },
      onProgress: (p) => {
        if (resumedAt === 0 && p.joined >= BUYERS) {
          resumedAt = Date.now();
          cpu = startCpuMeter({ gateway: [gateway.pid], workers: workers.map((w) => w.pid), 'stand-in': [standIn.pid], 'crowd (bench)': [process.pid] });
          adminCall(url, 'POST', `/v1/admin/sales/${saleId}/resume`).catch((err: Error) => ctx.note(`sellout: resume failed: ${err.message}`));
        }
      },
    });
    const cpuMs = cpu?.stop() ?? null;
    const { results, summary } = timed;
    if (resumedAt === 0) throw new Error(`sellout: only ${summary.counts.joined} of ${BUYERS} buyers joined`);
    const confirmed = soldOutTimes(timed, STOCK, 'timed sale');
    const seconds = (Math.max(...confirmed) - resumedAt) / 1000;
    const lastAdmitted = (Math.max(...results.map((r) => r.admittedAt ?? 0)) - resumedAt) / 1000;
    const ideal = STOCK / RATE;
    ctx.note(`sellout: ${BUYERS} buyers, ${STOCK} units at ${RATE}/s sold out in ${seconds.toFixed(2)} s (ideal ${ideal} s; last admission at ${lastAdmitted.toFixed(2)} s) after a first sale to ${BUYERS / 5} buyers (admitted→confirmed p99 ${warm.summary.latencyMs.admittedToConfirmed.p99} ms, cold); join→queued p99 ${summary.latencyMs.joinToQueued.p99} ms, admitted→confirmed p99 ${summary.latencyMs.admittedToConfirmed.p99} ms, stuck ${summary.counts.stuck}; from the resume to the end of the crowd, ${cpuPerUnit(cpuMs, STOCK, 'unit sold')}`);
    return [makeLine('sellout', seconds, `s to sell ${STOCK} units to ${BUYERS} buyers at ${RATE}/s`, 'ideal-stock-over-rate', ideal)];
  } finally {
    await Promise.all(children.map((c) => c.stop()));
    await deletePrefix(ctx.redisUrl, prefix);
    await db.drop();
  }
}

/** When each order was confirmed to its buyer; throws unless every unit was sold, once, and nothing oversold. */
function soldOutTimes(run: Awaited<ReturnType<typeof runStampede>>, stock: number, which: string): number[] {
  const confirmed = run.results.map((r) => r.confirmedAt).filter((x): x is number => x !== undefined);
  if (confirmed.length !== stock || !run.summary.oversell.ok) throw new Error(`sellout (${which}): ${confirmed.length} orders confirmed of ${stock}, oversell check ${JSON.stringify(run.summary.oversell)}`);
  return confirmed;
}
