/**
 * The stampede runner: a crowd against a running stack (`npm start`), written only against the
 * contract. Sockets are spread over worker threads and loopback source addresses, so one machine
 * holds tens of thousands of them. Prints a summary table (or one JSON object with --json) and exits
 * non-zero when anything was oversold, a buyer was left stuck or the audit is not clean.
 *
 *   npm run stampede -- --buyers 10000 --stock 1000 [--scenario stampede|soak|reconnect-storm] [--json]
 *   npm run stampede -- --url http://127.0.0.1:9301,http://127.0.0.1:9302 …   (buyers round-robin over gateways)
 */
import { crowdUsage, parseCrowdArgs } from './crowd/options.js';
import { progressBar } from './crowd/progress.js';
import { runStampede } from './crowd/run.js';
import { renderTable } from './crowd/stats.js';

if (process.argv.includes('--help') || process.argv.includes('-h')) {
  console.log(crowdUsage());
  process.exit(0);
}
let opts;
try {
  opts = parseCrowdArgs(process.argv.slice(2));
} catch (err) {
  console.error((err as Error).message);
  process.exit(2);
}
const bar = opts.progress ? progressBar(opts.scenario) : undefined;
try {
  const { summary, results } = await runStampede(opts, { onProgress: (p, total) => bar?.update(p, total) });
  bar?.done();
  for (const b of results.filter((x) => x.outcome === 'stuck').slice(0, 5)) console.error(`stuck: ${b.id} joined=${b.joined} admitted=${b.admitted} reconnects=${b.reconnects}`);
  console.log(opts.json ? JSON.stringify(summary) : renderTable(summary));
  process.exit(summary.ok ? 0 : 1);
} catch (err) {
  bar?.done();
  console.error(`stampede failed: ${(err as Error).message}`);
  process.exit(2);
}
