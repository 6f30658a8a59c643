import { spawn } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, BUYER_SECRET, type Stack } from '../helpers/stack.js';
import { uniqueId } from '../helpers/env.js';
import { metricValue, useStack } from './kit.js';

/**
 * The k6 scripts (loadtest/k6/) run through the k6 shim (loadtest/k6-shim/) against a real stack, at
 * a few VUs: the scripts' own checks and thresholds must pass, and the stack must have seen their
 * buyers (joins answered, orders stored and charged, proofs of work accepted).
 */
let stack: Stack;
useStack((s) => { stack = s; });

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

interface ShimSummary {
  setupData: { saleId: string };
  scenarios: Record<string, { iterations: number; interrupted: number; failed: number }>;
  checks: Record<string, { passes: number; fails: number }>;
  metrics: Record<string, Record<string, number>>;
  thresholds: Record<string, Record<string, boolean>>;
  errors: string[];
  ok: boolean;
}

async function runK6(script: string, env: Record<string, string | number>): Promise<{ code: number | null; out: string; summary: ShimSummary }> {
  const file = join(tmpdir(), `${uniqueId('k6-summary')}.json`);
  const vars = { BASE_URL: stack.url(), ADMIN_TOKEN, BUYER_JWT_SECRET: BUYER_SECRET, ...env };
  const args = ['--import', 'tsx', 'loadtest/k6-shim/run.ts', '--summary-export', file, ...Object.entries(vars).flatMap(([k, v]) => ['-e', `${k}=${v}`]), `loadtest/k6/${script}`];
  const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const code = await new Promise<number | null>((r) => child.once('exit', r));
  try {
    return { code, out, summary: JSON.parse(readFileSync(file, 'utf8')) as ShimSummary };
  } catch (err) {
    throw new Error(`the shim wrote no summary (exit ${code}): ${out}`, { cause: err });
  } finally {
    rmSync(file, { force: true });
  }
}

const gatewayMetric = async (name: string, labels = '') => metricValue(await (await fetch(stack.url('/metrics'))).text(), name, labels);

/** Every check the script made passed, and there were some. */
function expectChecksPassed(s: ShimSummary, names: string[]): void {
  for (const [name, c] of Object.entries(s.checks)) expect(c.fails, `check "${name}"`).toBe(0);
  for (const name of names) expect(s.checks[name]?.passes ?? 0, `check "${name}"`).toBeGreaterThan(0);
}

function expectThresholdsPassed(s: ShimSummary): void {
  expect(Object.keys(s.thresholds).length).toBeGreaterThan(0);
  for (const [metric, r] of Object.entries(s.thresholds)) for (const [expr, ok] of Object.entries(r)) expect(ok, `${metric} ${expr}`).toBe(true);
}

describe('the k6 scripts through the k6 shim', () => {
  it('stampede.ts: 4 buyers solve an 8-bit challenge, join, and exactly the stock is sold', async () => {
    const joins0 = await gatewayMetric('fs_joins_total');
    const { code, out, summary } = await runK6('stampede.ts', { BUYERS: 4, STOCK: 2, RATE: 50, HOLD_SECONDS: 3, CROWD_SECONDS: 40, CHALLENGE_BITS: 8 });
    expect(code, out).toBe(0);
    expect(summary.errors).toEqual([]);
    expectChecksPassed(summary, ['challenge solved', 'join answered']);
    expect(summary.checks['challenge solved']!.passes).toBe(4);
    expectThresholdsPassed(summary);
    expect(summary.scenarios.crowd).toEqual({ iterations: 4, interrupted: 0, failed: 0 });
    expect(summary.metrics.buyer_outcomes!.count).toBe(4);
    expect(summary.metrics['buyer_outcomes{outcome:confirmed}']!.count).toBe(2);
    expect(summary.metrics.join_to_queued!.samples).toBe(4);
    expect(summary.metrics.audit_read!.rate).toBe(1);

    // The stack saw it: the sale asked for the proof, every join was answered, 2 orders charged. (A join
    // sent on a sale frame that overtook the challenge is refused and sent again with the proof: the
    // script's check fails only on a refused proof.)
    const saleId = summary.setupData.saleId;
    const sale = await stack.admin('GET', `/v1/admin/sales/${saleId}`);
    expect(sale.body.joinChallengeBits).toBe(8);
    expect(await gatewayMetric('fs_joins_total') - joins0).toBeGreaterThanOrEqual(4);
    const audit = await stack.admin('GET', `/v1/admin/sales/${saleId}/audit`);
    expect(audit.body).toMatchObject({ ok: true, sold: 2, orders: 2, problems: [] });
    expect(stack.standIn.charges().filter((c) => c.metadata.saleId === saleId)).toHaveLength(2);
  });

  it('soak.ts: joins at a constant rate for a few seconds, every buyer reaches an outcome, the audit is clean', async () => {
    const { code, out, summary } = await runK6('soak.ts', { JOINS_PER_SECOND: 2, DURATION: '3s', HOLD_SECONDS: 2 });
    expect(code, out).toBe(0);
    expect(summary.errors).toEqual([]);
    expectChecksPassed(summary, ['join answered']);
    expectThresholdsPassed(summary);
    expect(summary.scenarios.joins!.iterations).toBe(6);
    expect(summary.metrics.buyer_outcomes!.count).toBe(6);
    const confirmed = summary.metrics['buyer_outcomes{outcome:confirmed}']?.count ?? 0;
    expect(confirmed).toBeGreaterThan(0);
    const audit = await stack.admin('GET', `/v1/admin/sales/${summary.setupData.saleId}/audit`);
    expect(audit.body).toMatchObject({ ok: true, orders: confirmed, sold: confirmed });
  });

  it('reconnect-storm.ts: every socket drops and comes back with its state, with a challenge on each new socket', async () => {
    const { code, out, summary } = await runK6('reconnect-storm.ts', { BUYERS: 6, STOCK: 6, RATE: 1, HOLD_SECONDS: 5, CROWD_SECONDS: 40, STORM_AFTER_MS: 6000, CHALLENGE_BITS: 8 });
    expect(code, out).toBe(0);
    expect(summary.errors).toEqual([]);
    expectChecksPassed(summary, ['challenge solved', 'join answered']);
    expectThresholdsPassed(summary);
    // Admission at 1/s keeps most of the 6 buyers waiting when the storm hits (6 s after setup): it
    // really dropped sockets that had a state, and each got it back.
    expect(summary.metrics.state_restored_after_drop!.samples, out).toBeGreaterThan(0);
    expect(summary.metrics.state_restored_after_drop!.rate).toBe(1);
    // Each reconnected socket was challenged again (a new nonce), on top of the first ones.
    expect(summary.checks['challenge solved']!.passes, out).toBe(6 + summary.metrics.state_restored_after_drop!.samples!);
    expect(summary.metrics.buyer_outcomes!.count).toBe(6);
    const audit = await stack.admin('GET', `/v1/admin/sales/${summary.setupData.saleId}/audit`);
    // planFor: VU 5 abandons its hold (it expires), the other five pay.
    expect(audit.body).toMatchObject({ ok: true, sold: 5, orders: 5 });
  });
});
