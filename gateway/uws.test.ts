import { fork } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadNativeUws, NativeUwsError } from '../shared/uws.js';

describe('native uWebSockets.js only', () => {
  it('UWS_USE_FALLBACK is refused, saying which variable to unset', () => {
    for (const v of ['1', 'true', 'TRUE']) {
      expect(() => loadNativeUws({ UWS_USE_FALLBACK: v })).toThrow(NativeUwsError);
      expect(() => loadNativeUws({ UWS_USE_FALLBACK: v })).toThrow(/UWS_USE_FALLBACK/);
    }
  });

  it('package.json `engines` admits exactly the Node majors (from 20.11) whose ABI has a native binary in the package', () => {
    // NODE_MODULE_VERSION of each Node major (node's own table, doc/abi_version_registry.json).
    const ABI: Record<number, number> = { 18: 108, 19: 111, 20: 115, 21: 120, 22: 127, 23: 131, 24: 137 };
    const engines = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { engines: { node: string } }).engines.node;
    const m = /^>=(\d+)\.(\d+) <(\d+)$/.exec(engines);
    expect(m, engines).not.toBeNull();
    const [from, below] = [Number(m![1]), Number(m![3])];
    const binaries = join(dirname(createRequire(import.meta.url).resolve('uWebSockets.js/package.json')), 'binaries');
    const has = (major: number) => existsSync(join(binaries, `uws_linux_x64_${ABI[major]}.node`));
    for (let major = from; major < below; major++) expect(has(major), `Node ${major}`).toBe(true);
    expect(has(below), `Node ${below}`).toBe(false);
    expect(Number(process.versions.node.split('.')[0])).toBeLessThan(below);
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
