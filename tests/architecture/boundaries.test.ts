import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

// The import rules of docs/architecture.md (.dependency-cruiser.cjs), run in `npm test`: the product's
// graph breaks none of them, and each rule does fire on a tree that breaks it (so a rule that silently
// matches nothing, like a path pattern gone stale, fails here too).

const root = fileURLToPath(new URL('../..', import.meta.url));
const CONFIG = join(root, '.dependency-cruiser.cjs');
const PRODUCT = ['gateway', 'admission', 'settlement', 'inventory', 'shared', 'bin', 'grafana'];
const depcruise = join(root, 'node_modules', 'dependency-cruiser', 'bin', 'dependency-cruise.mjs');

interface Violation { rule: { name: string }; from: string; to: string; cycle?: { name: string }[] }

function cruise(cwd: string, dirs: string[]): { violations: Violation[]; modules: number } {
  // The CLI exits non-zero when it finds violations; its JSON report says which, on stdout either way.
  let out: string;
  try {
    out = execFileSync(process.execPath, [depcruise, ...dirs, '--config', CONFIG, '--output-type', 'json'], { cwd, encoding: 'utf8', maxBuffer: 64 << 20 });
  } catch (err) {
    out = (err as { stdout?: string }).stdout ?? '';
    if (!out) throw err;
  }
  const report = JSON.parse(out) as { summary: { violations: Violation[]; totalCruised: number } };
  return { violations: report.summary.violations, modules: report.summary.totalCruised };
}

const describeViolation = (v: Violation) => `${v.rule.name}: ${v.from} -> ${v.to}${v.cycle ? ` (cycle ${v.cycle.map((c) => c.name).join(' > ')})` : ''}`;

describe('module boundaries', () => {
  it('the product breaks no import rule (layers, no cycle, the stand-in on shared/ only, no BullMQ in the gateway)', () => {
    const { violations, modules } = cruise(root, PRODUCT);
    expect(modules).toBeGreaterThan(80);
    expect(violations.map(describeViolation)).toEqual([]);
  });

  const fixture = mkdtempSync(join(tmpdir(), 'fs-boundaries-'));
  afterAll(() => rmSync(fixture, { recursive: true, force: true }));

  it('every rule fires on a tree that breaks it', () => {
    const files: Record<string, string> = {
      'shared/a.ts': "import { b } from './b.js';\nimport { g } from '../gateway/g.js';\nexport const a = () => b + g;\n",
      'shared/b.ts': "import { a } from './a.js';\nexport const b = typeof a;\n",
      'inventory/i.ts': "import { s } from '../settlement/saga.js';\nexport const i = s;\n",
      'settlement/saga.ts': "import { w } from '../admission/waiting-room.js';\nexport const s = w;\n",
      'settlement/payment-store.ts': 'export const store = 1;\n',
      'settlement/ledger.ts': 'export const ledger = 1;\n',
      'settlement/stripe-stand-in/server.ts': "import { g } from '../../gateway/g.js';\nimport { s } from '../saga.js';\nexport const x = g + s;\n",
      'admission/waiting-room.ts': "import { store } from '../settlement/payment-store.js';\nimport { ledger } from '../settlement/ledger.js';\nimport { h } from '../gateway/g.js';\nimport pg from 'pg';\nexport const w = store + ledger + h + typeof pg;\n",
      'gateway/g.ts': "import { Queue } from 'bullmq';\nimport { server } from '../settlement/stripe-stand-in/server.js';\nimport { main } from '../bin/main.js';\nexport const g = 1; export const h = typeof Queue + typeof server + main;\n",
      'bin/main.ts': 'export const main = 1;\n',
    };
    for (const [path, text] of Object.entries(files)) {
      mkdirSync(join(fixture, dirname(path)), { recursive: true });
      writeFileSync(join(fixture, path), text);
    }
    writeFileSync(join(fixture, 'tsconfig.json'), readFileSync(join(root, 'tsconfig.json')));
    symlinkSync(join(root, 'node_modules'), join(fixture, 'node_modules'));
    const found = cruise(fixture, ['shared', 'inventory', 'settlement', 'admission', 'gateway', 'bin']).violations.map(describeViolation);
    const fired = new Set(found.map((v) => v.split(':')[0]));
    // Every rule of the config, read from it, so a rule added later must be given a breaking case here.
    const rules = (createRequire(import.meta.url)(CONFIG) as { forbidden: { name: string }[] }).forbidden.map((r) => r.name);
    expect([...fired].sort(), found.join('\n')).toEqual([...rules].sort());
    // The allowed edges of the same tree stay allowed: admission may call settlement's public ledger.
    expect(found.filter((v) => v.includes('admission/waiting-room.ts -> settlement/ledger.ts'))).toEqual([]);
  });

  it('admission, inventory and the gateway write no SQL on settlement\'s tables (they call settlement/ledger.ts)', () => {
    // SQL keywords in capitals, as every query here writes them (prose saying "from orders" is not SQL).
    const SETTLEMENT_TABLE = /\b(FROM|JOIN|INTO|UPDATE)\s+(orders|payment_attempts|sale_pools|outbox)\b/;
    const offenders: string[] = [];
    for (const dir of ['admission', 'inventory', 'gateway']) {
      for (const f of readdirSync(join(root, dir), { recursive: true, encoding: 'utf8' })) {
        if (!f.endsWith('.ts') || f.endsWith('.test.ts') || f.endsWith('-test-support.ts')) continue;
        const text = readFileSync(join(root, dir, f), 'utf8');
        const m = SETTLEMENT_TABLE.exec(text);
        if (m) offenders.push(`${dir}/${f}: ${m[0]}`);
      }
    }
    expect(offenders).toEqual([]);
  });
});
