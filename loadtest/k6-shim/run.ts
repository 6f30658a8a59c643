/**
 * The k6 shim: runs our k6 scripts (loadtest/k6/*.ts) on Node where the k6 binary cannot be used, so
 * they are exercised against a real stack, not only typechecked. Each VU iteration runs in its own
 * worker thread with k6's built-in modules mapped to modules/ (hooks.mjs), blocking sleep and HTTP as
 * in k6; metrics, checks and thresholds are gathered here.
 *
 *   npx tsx loadtest/k6-shim/run.ts [-e KEY=VALUE]... [--summary-export file.json] loadtest/k6/stampede.ts
 *
 * What it is not: a load generator (a thread per VU costs tens of MB; use it at a few VUs), nor a full
 * k6 (only the executors and modules our scripts use). A scenario's `startTime` is honoured, but a
 * scenario also starts as soon as every earlier one has finished (k6 would wait out the clock): the
 * scripts' "audit after the crowd" starts when the crowd is done. Exit code 99 when a threshold fails,
 * 107 when the script threw (k6's codes), 0 otherwise.
 */
import { resolve as resolvePath } from 'node:path';
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { Worker } from 'node:worker_threads';
import { HTTP_BUFFER_BYTES, type FromVu, type HttpAnswer, type VuData } from './protocol.js';
import { evaluateThreshold, MetricSet, parseDuration } from './aggregate.js';

interface Scenario {
  executor: string;
  exec?: string;
  vus?: number;
  iterations?: number;
  maxDuration?: string;
  startTime?: string;
  rate?: number;
  timeUnit?: string;
  duration?: string;
  gracefulStop?: string;
}

interface ScriptInfo {
  options: { scenarios?: Record<string, Scenario>; vus?: number; iterations?: number; thresholds?: Record<string, string[]> };
  exports: string[];
}

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { env: { type: 'string', short: 'e', multiple: true }, 'summary-export': { type: 'string' }, quiet: { type: 'boolean' } },
});
if (positionals.length !== 1) {
  console.error('usage: tsx loadtest/k6-shim/run.ts [-e KEY=VALUE]... [--summary-export file.json] script.ts');
  process.exit(2);
}
const script = resolvePath(positionals[0]!);
// k6 gives scripts the system environment too, -e flags over it.
const env: Record<string, string> = Object.fromEntries(Object.entries(process.env).filter((e): e is [string, string] => e[1] !== undefined));
for (const kv of values.env ?? []) {
  const i = kv.indexOf('=');
  if (i < 1) throw new Error(`-e ${kv}: expected KEY=VALUE`);
  env[kv.slice(0, i)] = kv.slice(i + 1);
}

const metrics = new MetricSet();
const errors: string[] = [];
let vuIds = 0;
let iterations = 0;

interface VuOutcome {
  returned?: unknown;
  failed?: string;
  interrupted: boolean;
}

async function answerHttp(buf: SharedArrayBuffer, m: Extract<FromVu, { type: 'http' }>): Promise<void> {
  let a: HttpAnswer;
  try {
    const res = await fetch(m.url, { method: m.method, headers: m.headers, body: m.body ?? undefined });
    a = { status: res.status, body: await res.text(), headers: Object.fromEntries(res.headers) };
  } catch (err) {
    a = { status: 0, body: '', headers: {}, error: (err as Error).message };
  }
  let bytes = Buffer.from(JSON.stringify(a));
  if (bytes.length > HTTP_BUFFER_BYTES - 8) bytes = Buffer.from(JSON.stringify({ status: 0, body: '', headers: {}, error: 'answer too large for the k6 shim' }));
  new Uint8Array(buf, 8, bytes.length).set(bytes);
  const state = new Int32Array(buf, 0, 2);
  Atomics.store(state, 1, bytes.length);
  Atomics.store(state, 0, 1);
  Atomics.notify(state, 0);
}

interface Vu {
  /** The script's init code has run in the thread. */
  ready: Promise<void>;
  /** Runs the function with setup's data; `deadline`: epoch ms past which the iteration is interrupted. */
  go(data: unknown, deadline?: number): Promise<VuOutcome>;
}

/** Starts one VU iteration's thread (or setup's, or the options read): its init code runs at once, its function on go(). */
function startVu(exec: string, scenario: string): Vu {
  const special = exec.startsWith('__') || exec === 'setup' || exec === 'teardown';
  const vuData: VuData = {
    script, exec, data: null, env, scenario, vuIdInTest: special ? 0 : ++vuIds, iterationInTest: special ? 0 : iterations++,
    http: new SharedArrayBuffer(HTTP_BUFFER_BYTES),
  };
  const out: VuOutcome = { interrupted: false };
  const worker = new Worker(new URL('./vu-entry.mjs', import.meta.url), { workerData: vuData });
  let readyResolve!: () => void;
  const ready = new Promise<void>((r) => (readyResolve = r));
  let timer: NodeJS.Timeout | undefined;
  const exited = new Promise<VuOutcome>((resolve) => {
    worker.on('message', (m: FromVu) => {
      switch (m.type) {
        case 'metric': return metrics.add(m.name, m.kind, m.value, m.tags);
        case 'check': return metrics.check(m.name, m.pass);
        case 'http': return void answerHttp(vuData.http, m);
        case 'ready': return readyResolve();
        case 'returned':
          out.returned = m.value;
          return;
        case 'failed':
          out.failed = m.error;
          errors.push(`${scenario} ${exec}: ${m.error}`);
          return;
      }
    });
    worker.on('error', (err) => {
      out.failed = err.stack ?? err.message;
      errors.push(`${scenario} ${exec}: ${out.failed}`);
    });
    worker.on('exit', () => {
      clearTimeout(timer);
      readyResolve();
      resolve(out);
    });
  });
  return {
    ready,
    go: async (data, deadline = Number.POSITIVE_INFINITY) => {
      await ready;
      if (Number.isFinite(deadline)) {
        timer = setTimeout(() => {
          out.interrupted = true;
          void worker.terminate();
        }, Math.max(0, deadline - Date.now()));
      }
      worker.postMessage({ data });
      return exited;
    },
  };
}

/** Threads started before setup for the scenarios that start at once (k6 initialises its VUs before setup too). */
const prestarted = new Map<string, Vu[]>();
const takeVu = (scenario: string, exec: string): Vu => prestarted.get(scenario)?.shift() ?? startVu(exec, scenario);

async function runScenario(name: string, s: Scenario, data: unknown): Promise<{ iterations: number; interrupted: number; failed: number }> {
  const exec = s.exec ?? 'default';
  const stats = { iterations: 0, interrupted: 0, failed: 0 };
  const count = (o: VuOutcome) => {
    stats.iterations++;
    if (o.interrupted) stats.interrupted++;
    if (o.failed) stats.failed++;
  };
  const started = Date.now();
  switch (s.executor) {
    case 'per-vu-iterations': {
      const deadline = started + parseDuration(s.maxDuration ?? '10m');
      await Promise.all(Array.from({ length: s.vus ?? 1 }, async () => {
        for (let i = 0; i < (s.iterations ?? 1) && Date.now() < deadline; i++) count(await takeVu(name, exec).go(data, deadline));
      }));
      return stats;
    }
    case 'shared-iterations': {
      const deadline = started + parseDuration(s.maxDuration ?? '10m');
      let left = s.iterations ?? 1;
      await Promise.all(Array.from({ length: s.vus ?? 1 }, async () => {
        while (left > 0 && Date.now() < deadline) {
          left--;
          count(await takeVu(name, exec).go(data, deadline));
        }
      }));
      return stats;
    }
    case 'constant-arrival-rate': {
      const every = parseDuration(s.timeUnit ?? '1s') / (s.rate ?? 1);
      const duration = parseDuration(s.duration ?? '1m');
      const deadline = started + duration + parseDuration(s.gracefulStop ?? '30s');
      const running: Promise<void>[] = [];
      for (let k = 0; k * every < duration; k++) {
        const wait = started + k * every - Date.now();
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
        running.push(takeVu(name, exec).go(data, deadline).then(count));
      }
      await Promise.all(running);
      return stats;
    }
    default:
      throw new Error(`scenario ${name}: the k6 shim has no executor ${s.executor} (it has per-vu-iterations, shared-iterations, constant-arrival-rate)`);
  }
}

const info = (await startVu('__info', 'init').go(null)).returned as ScriptInfo | undefined;
if (!info) {
  console.error(`could not load ${script}:\n${errors.join('\n')}`);
  process.exit(107);
}
const scenarios = info.options.scenarios ?? { default: { executor: 'per-vu-iterations', vus: info.options.vus ?? 1, iterations: info.options.iterations ?? 1, exec: 'default' } };
// The first iteration of each VU of the scenarios that start at once is initialised before setup:
// a script that times something from setup (reconnect-storm's stormAt) is not thrown off by thread starts.
for (const [name, s] of Object.entries(scenarios)) {
  if (parseDuration(s.startTime ?? '0s') > 0 || s.executor === 'constant-arrival-rate') continue;
  const lanes = s.executor === 'shared-iterations' ? Math.min(s.vus ?? 1, s.iterations ?? 1) : (s.vus ?? 1);
  prestarted.set(name, Array.from({ length: lanes }, () => startVu(s.exec ?? 'default', name)));
}
await Promise.all([...prestarted.values()].flat().map((v) => v.ready));
const t0 = Date.now();
let setupData: unknown = null;
if (info.exports.includes('setup')) {
  const s = await startVu('setup', 'setup').go(null);
  if (s.failed) {
    console.error(`setup failed: ${s.failed}`);
    process.exit(107);
  }
  setupData = s.returned ?? null;
}
const results: Record<string, { iterations: number; interrupted: number; failed: number }> = {};
const ordered = Object.entries(scenarios).sort((a, b) => parseDuration(a[1].startTime ?? '0s') - parseDuration(b[1].startTime ?? '0s'));
let earlier: Promise<unknown> = Promise.resolve();
const all: Promise<unknown>[] = [];
for (const [name, s] of ordered) {
  const at = t0 + parseDuration(s.startTime ?? '0s');
  const before = earlier;
  const run = (async () => {
    // At its startTime, or once every earlier scenario is done, whichever comes first.
    if (at > Date.now()) await Promise.race([before, new Promise((r) => setTimeout(r, at - Date.now()))]);
    results[name] = await runScenario(name, s, setupData);
  })();
  all.push(run);
  earlier = Promise.all([before, run]);
}
await Promise.all(all);
if (info.exports.includes('teardown')) await startVu('teardown', 'teardown').go(setupData);

const thresholds: Record<string, Record<string, boolean>> = {};
let thresholdsOk = true;
for (const [metric, exprs] of Object.entries(info.options.thresholds ?? {})) {
  thresholds[metric] = {};
  for (const expr of exprs) {
    const ok = evaluateThreshold(metrics.get(metric), expr);
    thresholds[metric][expr] = ok;
    thresholdsOk &&= ok;
  }
}
const summary = {
  script: positionals[0], seconds: (Date.now() - t0) / 1000, setupData, scenarios: results, checks: metrics.checks(), metrics: metrics.summary(),
  thresholds, errors, ok: thresholdsOk && errors.length === 0,
};
if (values['summary-export']) writeFileSync(values['summary-export'], JSON.stringify(summary, null, 2));
if (!values.quiet) {
  for (const [name, c] of Object.entries(summary.checks)) console.log(`${c.fails === 0 ? '✓' : '✗'} ${name}: ${c.passes} passed, ${c.fails} failed`);
  for (const [metric, r] of Object.entries(thresholds)) for (const [expr, ok] of Object.entries(r)) console.log(`${ok ? '✓' : '✗'} ${metric} ${expr}`);
  if (errors.length > 0) console.log(`errors:\n${errors.join('\n')}`);
}
process.exit(errors.length > 0 ? 107 : thresholdsOk ? 0 : 99);
