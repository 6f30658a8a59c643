import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buyerVerifier } from './auth.js';
import { BUYER_SECRET, startStack, type Stack } from '../tests/helpers/stack.js';
import { databaseUrl, redisUrl, silentLog, testPrefix } from '../tests/helpers/env.js';
import { loadConfig } from '../shared/config.js';
import { closeContext, createContext, type Context } from './context.js';
import { startGateway, type Gateway } from './server.js';

let stack: Stack;
// A production gateway in this process: the pages need neither migrations nor the sales of the run.
let production: { ctx: Context; gateway: Gateway };
beforeAll(async () => {
  stack = await startStack({ workers: 0 });
  const config = loadConfig({
    NODE_ENV: 'production', HOST: '127.0.0.1', PORT: '0', REDIS_URL: redisUrl(), DATABASE_URL: databaseUrl(), REDIS_PREFIX: testPrefix(),
    ADMIN_TOKEN: 'prod-admin-token-xyz', BUYER_JWT_SECRET: 'prod-buyer-secret-xyz', STRIPE_SECRET_KEY: 'sk_live_like', STRIPE_WEBHOOK_SECRET: 'whsec_prod_like_xyz', STRIPE_API_URL: stack.standIn.url,
  });
  const ctx = createContext(config, silentLog);
  production = { ctx, gateway: await startGateway(ctx) };
});
afterAll(async () => {
  if (production) {
    await production.gateway.close();
    await closeContext(production.ctx);
  }
  await stack?.close();
});
const prod = (path: string) => `http://127.0.0.1:${production.gateway.port}${path}`;

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

  it('outside production the buyer page offers test cards, and /dev/buyer-token mints a valid buyer JWT', async () => {
    expect(await (await fetch(stack.url('/s/demo'))).text()).toContain('<meta name="fs-env" content="test">');
    const res = await fetch(stack.url('/dev/buyer-token?buyer=ada.l_1'));
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body.buyer).toBe('ada.l_1');
    expect(buyerVerifier(BUYER_SECRET)(body.token)).toEqual({ id: 'ada.l_1' });
    const bad = await fetch(stack.url('/dev/buyer-token?buyer=no%20spaces'));
    expect(bad.status).toBe(400);
    expect((await bad.json()).error.code).toBe('invalid_request');
  });

  it('with NODE_ENV=production the development token route does not exist and the page says production', async () => {
    const res = await fetch(prod('/dev/buyer-token?buyer=mallory'));
    expect(res.status).toBe(404);
    expect((await res.json()).error.code).toBe('not_found');
    const page = await (await fetch(prod('/s/demo'))).text();
    expect(page).toContain('<meta name="fs-env" content="production">');
  });
});
