import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buyerVerifier } from './auth.js';
import { startStack, type Stack } from '../tests/helpers/stack.js';
import { databaseUrl, redisUrl, silentLog, testPrefix } from '../tests/helpers/env.js';
import { loadConfig } from '../shared/config.js';
import { closeContext, createContext, type Context } from './context.js';
import { startGateway, type Gateway } from './server.js';

let stack: Stack;
// Gateways in this process, one per NODE_ENV the stack does not run (it runs 'test'): the pages need
// neither migrations nor the sales of the run.
const inProcess: { ctx: Context; gateway: Gateway }[] = [];
let production: Gateway;
let development: Gateway;
async function gatewayIn(env: NodeJS.ProcessEnv): Promise<Gateway> {
  const ctx = createContext(loadConfig({
    HOST: '127.0.0.1', PORT: '0', REDIS_URL: redisUrl(), DATABASE_URL: databaseUrl(), REDIS_PREFIX: testPrefix(), STRIPE_API_URL: stack.standIn.url, ...env,
  }), silentLog);
  const gateway = await startGateway(ctx);
  inProcess.push({ ctx, gateway });
  return gateway;
}
beforeAll(async () => {
  stack = await startStack({ workers: 0 });
  production = await gatewayIn({
    NODE_ENV: 'production', ADMIN_TOKEN: 'prod-admin-token-xyz', BUYER_JWT_SECRET: 'prod-buyer-secret-of-at-least-32-bytes',
    STRIPE_SECRET_KEY: 'sk_live_like', STRIPE_WEBHOOK_SECRET: 'whsec_prod_like_xyz',
  });
  // Development with no secret given: the development defaults, as under `npm start`.
  development = await gatewayIn({ NODE_ENV: 'development' });
});
afterAll(async () => {
  for (const { ctx, gateway } of inProcess) {
    await gateway.close();
    await closeContext(ctx);
  }
  await stack?.close();
});
const on = (g: Gateway) => (path: string) => `http://127.0.0.1:${g.port}${path}`;

describe('the buyer page and the console', () => {
  it.each(['/s/demo', '/console'])('%s is HTML whose scripts are files of this origin only (CSP without inline script)', async (path) => {
    const res = await fetch(stack.url(path));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const csp = res.headers.get('content-security-policy')!;
    expect(csp).toMatch(/script-src 'self'(;|$)/);
    expect(csp).toContain("frame-ancestors 'none'");
    expect(res.headers.get('x-content-type-options')).toBe('nosniff');
    const html = await res.text();
    // Every <script> has a src and no body: an inline one would be blocked by the policy above.
    for (const m of html.matchAll(/<script([^>]*)>([\s\S]*?)<\/script>/g)) {
      expect(m[1]).toMatch(/src="\/assets\//);
      expect(m[2]!.trim()).toBe('');
    }
    // Every asset a page names is served, with its type.
    for (const m of html.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)) {
      const a = await fetch(stack.url(m[1]));
      expect(a.status, m[1]).toBe(200);
      expect(a.headers.get('content-type'), m[1]).toMatch(m[1]!.endsWith('.css') ? /^text\/css/ : /^text\/javascript/);
    }
  });

  it('the chart library is the one in node_modules, byte for byte (no CDN, pinned by the lockfile)', async () => {
    const file = createRequire(import.meta.url).resolve('uplot/dist/uPlot.iife.min.js');
    expect(await (await fetch(stack.url('/assets/uplot.js'))).text()).toBe(readFileSync(file, 'utf8'));
  });

  it('an unknown asset, or a path that tries to leave the list, is 404 in the error shape', async () => {
    for (const path of ['/assets/nope.js', '/assets/..%2F..%2Fpackage.json', '/assets/%2e%2e%2fpages.ts', '/assets/constructor', '/assets/__proto__']) {
      const res = await fetch(stack.url(path));
      expect(res.status, path).toBe(404);
      expect((await res.json()).error.code, path).toBe('not_found');
    }
  });

  it('with NODE_ENV=development the buyer page offers test cards, and /dev/buyer-token mints a valid buyer JWT', async () => {
    const url = on(development);
    expect(await (await fetch(url('/s/demo'))).text()).toContain('<meta name="fs-env" content="development">');
    const res = await fetch(url('/dev/buyer-token?buyer=ada.l_1'));
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body.buyer).toBe('ada.l_1');
    expect(buyerVerifier('dev-buyer-secret')(body.token)).toEqual({ id: 'ada.l_1' });
    const bad = await fetch(url('/dev/buyer-token?buyer=no%20spaces'));
    expect(bad.status).toBe(400);
    expect((await bad.json()).error.code).toBe('invalid_request');
  });

  it.each(['production', 'test'])('with NODE_ENV=%s the development token route does not exist and the page says so', async (nodeEnv) => {
    const url = nodeEnv === 'production' ? on(production) : stack.url;
    const res = await fetch(url('/dev/buyer-token?buyer=mallory'));
    expect(res.status).toBe(404);
    expect((await res.json()).error.code).toBe('not_found');
    const page = await (await fetch(url('/s/demo'))).text();
    expect(page).toContain(`<meta name="fs-env" content="${nodeEnv}">`);
  });
});
