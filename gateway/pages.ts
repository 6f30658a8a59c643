import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TemplatedApp } from 'uWebSockets.js';
import { mintBuyerToken } from '../shared/buyer-token.js';
import { ApiError } from './errors.js';
import { reply, send, sendError, sendJson } from './http.js';
import type { Context } from './context.js';

const dir = join(dirname(fileURLToPath(import.meta.url)), 'pages');
const require = createRequire(import.meta.url);
const page = (name: string) => readFileSync(join(dir, name), 'utf8');

const JS = 'text/javascript; charset=utf-8';
const CSS = 'text/css; charset=utf-8';

/**
 * Every static file the pages load, read once at start: a fixed list, so no request path ever
 * reaches the file system. The charting library comes from node_modules (no CDN), pinned by the
 * lockfile like any other dependency.
 */
const ASSETS: Record<string, { body: string; type: string }> = {
  'pages.css': { body: page('pages.css'), type: CSS },
  'locale-guard.js': { body: page('locale-guard.js'), type: JS },
  'buyer.js': { body: page('buyer.js'), type: JS },
  'buyer-verify.js': { body: page('buyer-verify.js'), type: JS },
  'buyer-product.js': { body: page('buyer-product.js'), type: JS },
  'buyer-chance.js': { body: page('buyer-chance.js'), type: JS },
  'buyer-text.js': { body: page('buyer-text.js'), type: JS },
  'buyer-pow.js': { body: page('buyer-pow.js'), type: JS },
  'buyer-socket.js': { body: page('buyer-socket.js'), type: JS },
  'pow-worker.js': { body: page('pow-worker.js'), type: JS },
  'console.js': { body: page('console.js'), type: JS },
  'console-chart.js': { body: page('console-chart.js'), type: JS },
  'console-live.js': { body: page('console-live.js'), type: JS },
  'console-funnel.js': { body: page('console-funnel.js'), type: JS },
  'console-estimates.js': { body: page('console-estimates.js'), type: JS },
  'console-actions.js': { body: page('console-actions.js'), type: JS },
  'uplot.js': { body: readFileSync(require.resolve('uplot/dist/uPlot.iife.min.js'), 'utf8'), type: JS },
  'uplot.css': { body: readFileSync(require.resolve('uplot/dist/uPlot.min.css'), 'utf8'), type: CSS },
};

const buyerPage = page('buyer.html');
const consolePage = page('console.html');

// Scripts are files of this origin only (no inline script); uPlot sizes its canvas through style
// attributes, hence 'unsafe-inline' for styles alone.
const HEADERS = {
  'cache-control': 'no-store',
  'content-security-policy': "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

/** The buyer page of a sale and the operator console, both static HTML talking to the contract's API. */
export function mountPages(app: TemplatedApp, ctx: Context): void {
  // The page shows test cards and the made-up-buyer form only in development.
  const buyerHtml = buyerPage.replace('{{NODE_ENV}}', ctx.config.NODE_ENV ?? 'unset');
  app.get('/s/:id', (res) => send(reply(res), 200, buyerHtml, 'text/html; charset=utf-8', HEADERS));
  app.get('/console', (res) => send(reply(res), 200, consolePage, 'text/html; charset=utf-8', HEADERS));
  app.get('/assets/:name', (res, req) => {
    const asset = Object.hasOwn(ASSETS, req.getParameter(0) ?? '') ? ASSETS[req.getParameter(0)] : undefined;
    const r = reply(res);
    if (!asset) return sendError(r, new ApiError('not_found', 'no such asset'));
    // Revalidated on every load: a new gateway version never runs with a cached old script.
    send(r, 200, asset.body, asset.type, { 'cache-control': 'no-cache', 'x-content-type-options': 'nosniff' });
  });
  // Development only: a buyer token for a made-up buyer name, so the demo page works without a shop
  // backend. The route exists only with NODE_ENV=development: anywhere else anyone could mint tokens.
  if (ctx.config.NODE_ENV === 'development') {
    app.get('/dev/buyer-token', (res, req) => {
      const buyer = new URLSearchParams(req.getQuery() ?? '').get('buyer') ?? '';
      const r = reply(res);
      if (!/^[A-Za-z0-9._-]{1,64}$/.test(buyer)) return sendError(r, new ApiError('invalid_request', 'buyer must match [A-Za-z0-9._-]{1,64}'));
      mintBuyerToken(ctx.config.BUYER_JWT_SECRET, buyer, 3600, { issuer: ctx.config.BUYER_JWT_ISSUER, audience: ctx.config.BUYER_JWT_AUDIENCE }).then((token) => sendJson(r, 200, { buyer, token }), () => sendError(r, new ApiError('internal')));
    });
  }
}
