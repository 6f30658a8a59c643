import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * A gateway or worker started on a server that forgot NODE_ENV must not run on the development
 * secrets (`dev-admin-token`, a buyer-token mint for anyone): it exits, naming every missing secret in
 * one message, before it touches Redis or Postgres (nothing listens at the URLs given here).
 */
function run(entry: string, env: NodeJS.ProcessEnv): Promise<{ code: number | null; out: string; ready: boolean }> {
  const child = fork(fileURLToPath(new URL(entry, import.meta.url)), [], {
    execArgv: ['--import', 'tsx'],
    env: { PATH: process.env.PATH, HOME: process.env.HOME, REDIS_URL: 'redis://127.0.0.1:1', DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none', ...env },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  let out = '';
  let ready = false;
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  child.on('message', () => (ready = true));
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, out, ready })));
}

const fatalLines = (out: string) => out.split('\n').filter((l) => l.startsWith('{') && JSON.parse(l).level === 60);

// Concurrent: each case is a process start that waits on nothing but itself.
describe.concurrent('development defaults are opt-in', () => {
  it('a gateway without NODE_ENV and secrets exits 1, naming all four secrets in one message', async () => {
    const { code, out, ready } = await run('../../gateway/main.ts', {});
    expect(ready).toBe(false);
    expect(code).toBe(1);
    const lines = fatalLines(out);
    expect(lines).toHaveLength(1);
    for (const name of ['ADMIN_TOKEN', 'BUYER_JWT_SECRET', 'STRIPE_SECRET_KEY', 'STRIPE_WEBHOOK_SECRET']) expect(lines[0]).toContain(name);
    expect(lines[0]).toContain('NODE_ENV is unset');
  });

  it('a production gateway with a short BUYER_JWT_SECRET and an empty PORT names the secret, and takes the empty PORT as unset', async () => {
    const { code, out } = await run('../../gateway/main.ts', {
      NODE_ENV: 'production', PORT: '', ADMIN_TOKEN: 'a-real-admin-token', BUYER_JWT_SECRET: 'only-twenty-bytes-xx', STRIPE_SECRET_KEY: 'sk_live_x', STRIPE_WEBHOOK_SECRET: 'whsec_real_x',
    });
    expect(code).toBe(1);
    const [line, ...more] = fatalLines(out);
    expect(more).toEqual([]);
    expect(line).toContain('BUYER_JWT_SECRET has 20 bytes');
    expect(line).not.toContain('PORT');
  });

  it('a settlement worker without NODE_ENV exits naming STRIPE_SECRET_KEY, the one secret it uses', async () => {
    const { code, out, ready } = await run('../../bin/worker.ts', { NODE_ENV: 'test' });
    expect(ready).toBe(false);
    expect(code).toBe(1);
    const [line, ...more] = fatalLines(out);
    expect(more).toEqual([]);
    expect(line).toContain('STRIPE_SECRET_KEY');
    expect(line).not.toContain('ADMIN_TOKEN');
  });
});
