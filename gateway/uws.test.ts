import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadNativeUws, NativeUwsError } from './uws.js';

describe('native uWebSockets.js only', () => {
  it('UWS_USE_FALLBACK is refused, saying which variable to unset', () => {
    for (const v of ['1', 'true', 'TRUE']) {
      expect(() => loadNativeUws({ UWS_USE_FALLBACK: v })).toThrow(NativeUwsError);
      expect(() => loadNativeUws({ UWS_USE_FALLBACK: v })).toThrow(/UWS_USE_FALLBACK/);
    }
  });

  it('a Node ABI without a binary throws a clear error', () => {
    expect(() => loadNativeUws({}, '999')).toThrow(NativeUwsError);
    expect(() => loadNativeUws({}, '999')).toThrow(/native uWebSockets\.js binary did not load.*_999\.node.*Node 20/s);
  });

  it('this Node loads the native binary', () => {
    const uws = loadNativeUws({});
    expect(typeof uws.App).toBe('function');
  });

  it('the gateway process with UWS_USE_FALLBACK=1 exits non-zero, saying why', async () => {
    const child = fork(fileURLToPath(new URL('./main.ts', import.meta.url)), [], {
      execArgv: ['--import', 'tsx'],
      // Nothing reachable on purpose: the refusal must come before Redis or Postgres is touched.
      env: { PATH: process.env.PATH, HOME: process.env.HOME, NODE_ENV: 'test', UWS_USE_FALLBACK: '1', PORT: '0',
        REDIS_URL: 'redis://127.0.0.1:1', DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none',
        ADMIN_TOKEN: 'uws-admin-token', BUYER_JWT_SECRET: 'uws-buyer-secret', STRIPE_SECRET_KEY: 'sk_test_uws', STRIPE_WEBHOOK_SECRET: 'whsec_uws_test' },
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    let out = '';
    child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
    let ready = false;
    child.on('message', () => (ready = true));
    const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
    expect(ready).toBe(false);
    expect(code).not.toBe(0);
    expect(code).not.toBeNull();
    expect(out).toMatch(/uWebSockets/);
    expect(out).toMatch(/UWS_USE_FALLBACK/);
  });
});
