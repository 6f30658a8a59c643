/**
 * Summarises a V8 CPU profile (`node --cpu-prof`): the functions with the most self time, as a
 * table for docs/performance.md.   npx tsx loadtest/profile-summary.ts FILE.cpuprofile [--top 20]
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

interface Node { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; hitCount?: number }
interface Profile { nodes: Node[]; samples: number[]; timeDeltas: number[]; startTime: number; endTime: number }

const { values, positionals } = parseArgs({ allowPositionals: true, options: { top: { type: 'string', default: '20' }, 'by-package': { type: 'boolean' } } });
if (!positionals[0]) {
  console.error('usage: profile-summary FILE.cpuprofile [--top N]');
  process.exit(2);
}
const p = JSON.parse(readFileSync(positionals[0], 'utf8')) as Profile;
const byId = new Map(p.nodes.map((n) => [n.id, n]));
const self = new Map<string, number>();
let total = 0;
p.samples.forEach((id, i) => {
  const dt = p.timeDeltas[i] ?? 0;
  total += dt;
  const n = byId.get(id)!;
  const where = n.callFrame.url ? `${n.callFrame.url.replace(/^.*\/(node_modules\/)?/, (m, nm) => (nm ? 'node_modules/' : ''))}:${n.callFrame.lineNumber + 1}` : '';
  // --by-package: self time per npm package (or our own folder, or node: internals), to see which layer costs.
  const pkg = /node_modules\/((@[^/]+\/)?[^/]+)/.exec(n.callFrame.url)?.[1]
    ?? (/\/(gateway|admission|inventory|settlement|shared|loadtest)\//.exec(n.callFrame.url)?.[1] ? `ours: ${/\/(gateway|admission|inventory|settlement|shared|loadtest)\//.exec(n.callFrame.url)![1]}/` : n.callFrame.url.startsWith('node:') || (!n.callFrame.url && n.callFrame.functionName && !n.callFrame.functionName.startsWith('(')) ? 'node internals / native' : n.callFrame.functionName || '(other)');
  const key = values['by-package'] ? pkg : `${n.callFrame.functionName || '(anonymous)'} ${where}`.trim();
  self.set(key, (self.get(key) ?? 0) + dt);
});
const rows = [...self.entries()].sort((a, b) => b[1] - a[1]).slice(0, Number(values.top));
console.log(`| self % | self ms | function |\n|---:|---:|---|`);
for (const [k, us] of rows) console.log(`| ${((us / total) * 100).toFixed(1)} | ${(us / 1000).toFixed(0)} | \`${k}\` |`);
console.log(`\n${(total / 1e6).toFixed(1)} s of samples`);
