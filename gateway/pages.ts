import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TemplatedApp } from 'uWebSockets.js';
import { mintBuyerToken } from '../shared/buyer-token.js';
import { ApiError } from './errors.js';
import { reply, send, sendError, sendJson } from './http.js';
import type { Context } from './context.js';

const dir = join(dirname(fileURLToPath(import.meta.url)), 'pages');
const buyerPage = readFileSync(join(dir, 'buyer.html'), 'utf8');
const consolePage = readFileSync(join(dir, 'console.html'), 'utf8');

const HEADERS = {
  'cache-control': 'no-store',
  'content-security-policy': "default-src 'self'; connect-src 'self' ws: wss:; style-src 'self' 'unsafe-inline'; script-src 'self' 'unsafe-inline'",
  'x-content-type-options': 'nosniff',
};

/** The buyer page of a sale and the operator console, both static HTML talking to the contract's API. */
export function mountPages(app: TemplatedApp, ctx: Context): void {
  app.get('/s/:id', (res) => send(reply(res), 200, buyerPage, 'text/html; charset=utf-8', HEADERS));
  app.get('/console', (res) => send(reply(res), 200, consolePage, 'text/html; charset=utf-8', HEADERS));
  // Development only: a buyer token for a made-up buyer name, so the demo page works without a shop
  // backend. The route does not exist at all when NODE_ENV=production.
  if (ctx.config.NODE_ENV !== 'production') {
    app.get('/dev/buyer-token', (res, req) => {
      const buyer = new URLSearchParams(req.getQuery() ?? '').get('buyer') ?? '';
      const r = reply(res);
      if (!/^[A-Za-z0-9._-]{1,64}$/.test(buyer)) return sendError(r, new ApiError('invalid_request', 'buyer must match [A-Za-z0-9._-]{1,64}'));
      mintBuyerToken(ctx.config.BUYER_JWT_SECRET, buyer, 3600).then((token) => sendJson(r, 200, { buyer, token }), () => sendError(r, new ApiError('internal')));
    });
  }
}
