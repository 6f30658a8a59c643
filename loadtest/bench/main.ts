/**
 * `npm run bench [-- --quick] [--only reserve,settle]`: every bench in turn (never side by side: they
 * would measure each other), each printing one or more JSON lines on stdout; notes go to stderr.
 */
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { formatLine, type BenchLine } from './json-line.js';
import { requireServices, type BenchContext } from './infra.js';
import { reserveBench } from './reserve.js';
import { admissionLuaBench } from './admission-lua.js';
import { clusterBench } from './cluster.js';
import { gatewayJoinsBench } from './gateway-joins.js';
import { memoryBench } from './memory.js';
import { settleBench } from './settle.js';
import { selloutBench } from './sellout.js';
import { powBench } from './pow.js';

const BENCHES: Record<string, (ctx: BenchContext) => Promise<BenchLine[]>> = {
  reserve: reserveBench,
  'admission-lua': admissionLuaBench,
  cluster: clusterBench,
  'gateway-joins': gatewayJoinsBench,
  memory: memoryBench,
  settle: settleBench,
  sellout: selloutBench,
  pow: powBench,
};

const { values } = parseArgs({ options: { quick: { type: 'boolean' }, only: { type: 'string' } } });
const opts = z.object({
  quick: z.boolean().default(false),
  only: z.string().optional().transform((s) => (s ? s.split(',').map((x) => x.trim()) : Object.keys(BENCHES)))
    .pipe(z.array(z.enum(Object.keys(BENCHES) as [string, ...string[]]))),
}).safeParse(values);
if (!opts.success) {
  console.error(`invalid flags: ${opts.error.issues.map((i) => `--${String(i.path[0])}: ${i.message}`).join('; ')} (benches: ${Object.keys(BENCHES).join(', ')})`);
  process.exit(2);
}

let services;
try {
  services = await requireServices();
} catch (err) {
  console.error(`bench: ${(err as Error).message}`);
  process.exit(2);
}
const ctx: BenchContext = { quick: opts.data.quick, ...services, note: (m) => process.stderr.write(`${m}\n`) };
const began = Date.now();
let failed = 0;
for (const name of opts.data.only) {
  const t0 = Date.now();
  // A bench that hangs fails loudly instead of holding the suite (and the machine) forever.
  const limitS = ctx.quick ? 75 : 300;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`did not finish in ${limitS} s`)), limitS * 1000)));
  try {
    for (const line of await Promise.race([BENCHES[name]!(ctx), timeout])) console.log(formatLine(line));
  } catch (err) {
    failed++;
    console.error(`bench ${name} FAILED: ${(err as Error).stack ?? err}`);
    if (/did not finish/.test(String(err))) break;
  } finally {
    clearTimeout(timer);
  }
  ctx.note(`(${name}: ${((Date.now() - t0) / 1000).toFixed(1)} s)`);
}
ctx.note(`benches done in ${((Date.now() - began) / 1000).toFixed(1)} s${failed ? `, ${failed} FAILED` : ''}`);
// Child processes and threads are stopped by each bench; exit without waiting on stray handles.
process.exit(failed ? 1 : 0);
