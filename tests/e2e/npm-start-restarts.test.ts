import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, expect, it } from 'vitest';
import { isolatedDatabase, redisUrl, testPrefix } from '../helpers/env.js';
import { ADMIN_TOKEN, BUYER_SECRET, WEBHOOK_SECRET } from '../helpers/stack.js';
import { freePort } from './kit.js';

// `npm start` (bin/start.ts) keeps its stack running: a gateway killed with SIGKILL is started again
// and the start process stays up; SIGTERM still stops everything. Run as a real process on free ports,
// against a database and a Redis prefix of its own.
let start: ChildProcess | undefined;
let out = '';
afterAll(async () => {
  if (start && start.exitCode === null && start.signalCode === null) {
    const exited = new Promise((r) => start!.once('exit', r));
    start.kill('SIGTERM');
    await exited;
  }
});

/** The processes `start` forked, by the entry file each runs. */
function children(pid: number): Map<string, number> {
  const found = new Map<string, number>();
  const pids = execFileSync('pgrep', ['-P', String(pid)], { encoding: 'utf8' }).trim();
  for (const p of pids ? pids.split(/\s+/).map(Number) : []) {
    const cmd = readFileSync(`/proc/${p}/cmdline`, 'utf8').split('\0').join(' ');
    if (cmd.includes('gateway/main.ts')) found.set('gateway', p);
    if (cmd.includes('bin/worker.ts')) found.set('worker', p);
  }
  return found;
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

const readyz = (port: number) => fetch(`http://127.0.0.1:${port}/readyz`).then((r) => r.status, () => 0);

it('a gateway killed with SIGKILL comes back, the start process stays up, and SIGTERM still stops everything', async () => {
  const [port, standInPort, metricsPort] = [await freePort(), await freePort(), await freePort()];
  start = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(new URL('../../bin/start.ts', import.meta.url))], {
    env: {
      PATH: process.env.PATH, HOME: process.env.HOME, NODE_ENV: 'test', LOG_LEVEL: 'warn', HOST: '127.0.0.1',
      PORT: String(port), STAND_IN_PORT: String(standInPort), METRICS_PORT: String(metricsPort),
      REDIS_URL: redisUrl(), REDIS_PREFIX: testPrefix(), DATABASE_URL: await isolatedDatabase(),
      ADMIN_TOKEN, BUYER_JWT_SECRET: BUYER_SECRET, STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET, STRIPE_SECRET_KEY: 'sk_test_start',
      STRIPE_API_URL: `http://127.0.0.1:${standInPort}`,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const startPid = start.pid!;
  start.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  start.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  // Polled until it runs or the start process ends (then fail at once, with its output).
  await expect.poll(() => (out.includes('Flash-sale admission layer is running') ? 'running' : start!.exitCode !== null ? 'exited' : 'starting'), { timeout: 60_000, interval: 100 }).not.toBe('starting');
  expect(start.exitCode, out).toBeNull();
  expect(await readyz(port)).toBe(200);

  const first = children(startPid);
  const gateway = first.get('gateway')!;
  const worker = first.get('worker')!;
  expect(gateway).toBeGreaterThan(0);
  expect(worker).toBeGreaterThan(0);

  process.kill(gateway, 'SIGKILL');
  const announced = /gateway exited with signal SIGKILL; restarting in (\d+\.\d) s \(restart 1\)/;
  await expect.poll(() => out, { timeout: 10_000, interval: 100, message: 'the restart is announced' }).toMatch(announced);
  const line = announced.exec(out)!;
  // Restart 1: half a second, with jitter between half of it and all of it.
  expect(Number(line[1])).toBeGreaterThanOrEqual(0.2);
  expect(Number(line[1])).toBeLessThanOrEqual(0.5);
  await expect.poll(() => readyz(port), { timeout: 60_000, interval: 100, message: 'the new gateway answers /readyz 200' }).toBe(200);
  const after = children(startPid);
  expect(after.get('gateway')).toBeGreaterThan(0);
  expect(after.get('gateway')).not.toBe(gateway);
  // The rest of the stack was not touched.
  expect(after.get('worker')).toBe(worker);
  expect(start.exitCode).toBeNull();
  expect(alive(startPid)).toBe(true);
  await expect.poll(() => out, { timeout: 10_000, interval: 100, message: 'the restart is reported done' }).toMatch(/gateway is back \(restart 1, pid \d+\)/);

  // SIGTERM (Ctrl-C sends SIGINT, handled the same way) stops the children and the start process cleanly.
  const exited = new Promise<number | null>((r) => start!.once('exit', (code) => r(code)));
  start.kill('SIGTERM');
  expect(await exited).toBe(0);
  for (const pid of after.values()) expect(alive(pid), `child ${pid}`).toBe(false);
  // Stopping is not mistaken for a crash: the one restart is the gateway's.
  expect(out.match(/restarting in/g)).toHaveLength(1);
}, 120_000);
