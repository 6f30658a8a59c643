import { execFileSync, fork, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isolatedDatabase, redisUrl, testPrefix } from '../helpers/env.js';
import { freePort } from '../e2e/kit.js';
import { startStandIn, type StandIn } from '../../settlement/stripe-stand-in/server.js';

/**
 * `npm run build` and the compiled entry files, as the Dockerfile runs them: node alone, no tsx. The
 * build goes to a folder of its own inside the repository (so node_modules is found, as from dist/).
 */
const root = fileURLToPath(new URL('../../', import.meta.url));
const outDir = `test-artifacts/build-${process.pid}`;
const out = (path: string) => `${root}${outDir}/${path}`;
const children: ChildProcess[] = [];
let standIn: StandIn;

beforeAll(async () => {
  const build = spawn(process.execPath, ['--import', 'tsx', 'bin/build.ts', '--out-dir', outDir], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  let said = '';
  build.stdout.on('data', (d: Buffer) => (said += d.toString()));
  build.stderr.on('data', (d: Buffer) => (said += d.toString()));
  const code = await new Promise<number | null>((r) => build.once('exit', r));
  if (code !== 0) throw new Error(`npm run build failed (${code}): ${said}`);
  standIn = await startStandIn({ port: 0 });
}, 300_000);
afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await standIn?.close();
  rmSync(out(''), { recursive: true, force: true });
});

/** Runs a compiled entry file with node itself and resolves with its "ready" message. */
function runCompiled(entry: string, env: NodeJS.ProcessEnv): Promise<{ child: ChildProcess; port?: number }> {
  const child = fork(out(entry), [], { execArgv: [], env, stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
  children.push(child);
  let err = '';
  child.stderr!.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-10_000)));
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`${entry} exited (${code}) before ready: ${err}`)));
    child.once('message', (m: { port?: number }) => resolve({ child, port: m.port }));
  });
}

async function env(): Promise<NodeJS.ProcessEnv> {
  return {
    PATH: process.env.PATH, HOME: process.env.HOME, NODE_ENV: 'production', LOG_LEVEL: 'warn', HOST: '127.0.0.1', PORT: '0',
    REDIS_URL: redisUrl(), REDIS_PREFIX: testPrefix(), DATABASE_URL: await isolatedDatabase(), STRIPE_API_URL: standIn.url,
    ADMIN_TOKEN: 'build-admin-token', BUYER_JWT_SECRET: 'build-buyer-secret-of-at-least-32-bytes', STRIPE_SECRET_KEY: 'sk_test_build', STRIPE_WEBHOOK_SECRET: 'whsec_build',
  };
}

describe('npm run build', () => {
  it('compiles the product only, with every file it reads at run time beside it', () => {
    expect(readdirSync(out('')).sort()).toEqual(['admission', 'bin', 'gateway', 'inventory', 'settlement', 'shared']);
    for (const f of ['gateway/main.js', 'bin/worker.js', 'settlement/stripe-stand-in/main.js', 'bin/start.js', 'bin/migrate.js',
      'gateway/pages/buyer.html', 'gateway/pages/console.js', 'shared/migrations/1700000000001_ledger.sql', 'shared/lua-includes/now-ms.lua',
      'admission/lua/join-4.lua', 'inventory/lua', 'settlement/lua']) {
      expect(existsSync(out(f)), f).toBe(true);
    }
    expect(readdirSync(out('gateway')).filter((f) => f.endsWith('.test.js'))).toEqual([]);
  });

  it('node <out>/gateway/main.js migrates, loads its Lua, serves the pages and is ready; the compiled worker starts beside it', async () => {
    const e = await env();
    const [gateway] = await Promise.all([runCompiled('gateway/main.js', e), runCompiled('bin/worker.js', e)]);
    const base = `http://127.0.0.1:${gateway.port}`;
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    const page = await (await fetch(`${base}/s/demo`)).text();
    expect(page).toContain('<meta name="fs-env" content="production">');
    expect((await fetch(`${base}/assets/buyer.js`)).status).toBe(200);
    // A Lua-backed call: an operator creating a sale runs put-sale-1.lua.
    const res = await fetch(`${base}/v1/admin/sales`, {
      method: 'POST', headers: { authorization: 'Bearer build-admin-token', 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'Build', sku: 'SKU-BUILD', price: { amount: 100, currency: 'eur' }, stock: 3, admitPerSecond: 10, maxActiveHolds: 3, holdSeconds: 60, perBuyerLimit: 1 }),
    });
    expect(res.status).toBe(201);
  });

  it('the compiled `npm start` (node <out>/bin/start.js) runs the compiled gateway and worker, and stops them on SIGTERM', async () => {
    const [port, standInPort] = [await freePort(), await freePort()];
    const start = spawn(process.execPath, [out('bin/start.js')], {
      // NODE_ENV unset: start opts into development itself, and says so.
      env: { ...(await env()), NODE_ENV: undefined, PORT: String(port), STAND_IN_PORT: String(standInPort), METRICS_PORT: String(await freePort()), STRIPE_API_URL: undefined },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.push(start);
    let said = '';
    start.stdout.on('data', (d: Buffer) => (said += d.toString()));
    start.stderr.on('data', (d: Buffer) => (said += d.toString()));
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`start did not say it is running in 150 s: ${said}`)), 150_000);
      start.once('exit', (code) => reject(new Error(`start exited (${code}): ${said}`)));
      start.stdout.on('data', () => said.includes('Flash-sale admission layer is running') && (clearTimeout(t), resolve()));
    });
    expect(said).toContain('NODE_ENV was unset: running with NODE_ENV=development');
    const forked = execFileSync('pgrep', ['-P', String(start.pid)], { encoding: 'utf8' }).trim().split(/\s+/)
      .map((pid) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean));
    expect(forked.map((argv) => argv.slice(1))).toEqual(expect.arrayContaining([[out('gateway/main.js')], [out('bin/worker.js')]]));
    expect((await fetch(`http://127.0.0.1:${port}/readyz`)).status).toBe(200);
    // Development: the buyer page's token route exists, with the development secret.
    expect((await fetch(`http://127.0.0.1:${port}/dev/buyer-token?buyer=ada`)).status).toBe(200);
    start.removeAllListeners('exit');
    const exited = new Promise<number | null>((r) => start.once('exit', r));
    start.kill('SIGTERM');
    expect(await exited).toBe(0);
  });
});
