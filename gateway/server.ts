import { createRedis } from '../shared/redis.js';
import { SaleSubscriptions } from '../admission/sale-subscriptions.js';
import { metrics, registry } from '../shared/metrics.js';
import { mountAdminApi, toHttpError } from './admin-api.js';
import { buyerVerifier } from './auth.js';
import { METRICS_REFUSED, metricsChecker } from '../shared/bearer.js';
import { LoginThrottle, remoteKey, UpgradeLimiter } from './address-limits.js';
import { originCheck } from './origin.js';
import { operatorGate } from './operator-gate.js';
import { BuyerHub, newSocketData, type SocketData } from './buyer-hub.js';
import { ApiError } from './errors.js';
import { reply, send, sendError, sendJson, readBody } from './http.js';
import { loadNativeUws } from '../shared/uws.js';
import type { Context } from './context.js';
import { mountPages } from './pages.js';
import { mountPrequeue } from './prequeue-route.js';
import { mountAdminLive } from './admin-live.js';
import { LiveStats } from './live-stats.js';
import { SaleService } from '../admission/sale-service.js';
import { SALE_ID } from '../admission/sale-schema.js';
import { Inventory } from '../inventory/inventory-service.js';
import { verifyWebhook } from '../settlement/webhook.js';

export interface Gateway {
  port: number;
  hub: BuyerHub;
  close(): Promise<void>;
}

/** Starts the one-port gateway: buyer WebSocket, operator API, health, metrics and pages. */
export async function startGateway(ctx: Context): Promise<Gateway> {
  const uws = loadNativeUws();
  const app = uws.App();
  const hub = new BuyerHub(ctx);
  hub.app = app;
  const { config } = ctx;
  const verify = buyerVerifier(config.BUYER_JWT_SECRET, { issuer: config.BUYER_JWT_ISSUER, audience: config.BUYER_JWT_AUDIENCE });
  const originOk = originCheck(config.ALLOWED_ORIGINS);
  const upgrades = new UpgradeLimiter(config.UPGRADES_PER_ADDRESS_PER_SECOND, config.UPGRADE_BURST_PER_ADDRESS);
  const gate = operatorGate(config.ADMIN_TOKEN, originOk, new LoginThrottle(config.ADMIN_AUTH_FAILURES_PER_MINUTE));
  const metricsAllowed = metricsChecker(config.METRICS_TOKEN);

  app.ws<SocketData>('/v1/sales/:id/ws', {
    // Frames over MAX_FRAME_BYTES get an error frame; only absurd ones (over 64 KiB) close the socket.
    maxPayloadLength: 64 * 1024,
    maxBackpressure: 256 * 1024,
    idleTimeout: 120,
    sendPingsAutomatically: true,
    upgrade: (res, req, context) => {
      // Cheapest refusals first: a flood from one address costs no JWT check, a foreign page no more.
      const wait = upgrades.enabled ? upgrades.take(remoteKey(res)) : 0;
      if (wait > 0) return sendError(reply(res), new ApiError('rate_limited', 'too many connections from this address; retry shortly').retryAfter(wait));
      if (!originOk(req.getHeader('origin'), req.getHeader('host'))) {
        return sendError(reply(res), new ApiError('forbidden_origin', 'this page origin may not open buyer sockets (ALLOWED_ORIGINS)'));
      }
      const saleId = req.getParameter(0) ?? '';
      const query = new URLSearchParams(req.getQuery() ?? '');
      const bearer = /^Bearer (.+)$/.exec(req.getHeader('authorization'));
      // An empty `token=` in the URL must not hide a token given in the header.
      const token = query.get('token') || bearer?.[1] || '';
      const key = req.getHeader('sec-websocket-key');
      const protocol = req.getHeader('sec-websocket-protocol');
      const extensions = req.getHeader('sec-websocket-extensions');
      const r = reply(res);
      let buyer: string;
      try {
        buyer = verify(token).id;
      } catch {
        return sendError(r, new ApiError('unauthorized', 'missing, expired or forged buyer token'));
      }
      if (!SALE_ID.test(saleId)) return sendError(r, new ApiError('sale_not_found'));
      // Taken before any await, so an upgrade in flight counts; given back by the socket's close, or
      // below when the upgrade ends without a socket (BuyerSlots).
      if (!hub.slots.take(buyer)) return sendError(r, new ApiError('too_many_connections', `at most ${hub.slots.max} open sockets per buyer on this gateway`));
      const data = () => newSocketData(saleId, buyer);
      // The usual case finishes inside this callback: uWS upgrades synchronously and safely. An
      // upgrade after an await must go through res.cork(), where the pinned uWS build may close the
      // new socket right after open (see buyerVerifier); that path is left for the first buyer of a
      // sale this process has not seen yet.
      if (ctx.saleCache.isKnown(saleId)) {
        r.done = true;
        res.upgrade<SocketData>(data(), key, protocol, extensions, context);
        return;
      }
      ctx.saleCache.get(saleId)
        .then((sale) => {
          if (!sale) throw new ApiError('sale_not_found');
          if (r.aborted) return hub.slots.release(buyer);
          r.done = true;
          res.cork(() => res.upgrade<SocketData>(data(), key, protocol, extensions, context));
        })
        .catch((err) => {
          hub.slots.release(buyer);
          sendError(r, toHttpError(err, ctx));
        });
    },
    open: (ws) => void hub.onOpen(ws),
    message: (ws, message, isBinary) => hub.onMessage(ws, message, isBinary),
    drain: (ws) => hub.onDrain(ws),
    close: (ws) => hub.onClose(ws),
  });

  mountAdminApi(app, ctx, gate);
  // The console's stats read through a Redis connection of their own (see LiveStats).
  const liveRedis = createRedis(ctx.config.REDIS_URL, { name: 'gateway-live', commandTimeoutMs: ctx.config.REDIS_COMMAND_TIMEOUT_MS, log: ctx.log });
  const live = new LiveStats(ctx, new SaleService(ctx.db, liveRedis, ctx.config.REDIS_PREFIX, new Inventory(liveRedis, ctx.config.REDIS_PREFIX)));
  mountAdminLive(app, live, gate);
  mountPages(app, ctx);
  mountPrequeue(app, ctx);

  app.get('/healthz', (res) => sendJson(reply(res), 200, { status: 'ok' }));
  app.get('/readyz', (res) => {
    const r = reply(res);
    const timeout = new Promise((_, rej) => setTimeout(() => rej(new Error('timeout')), 2000));
    Promise.race([Promise.all([ctx.redis.ping(), ctx.db.query('SELECT 1')]), timeout])
      .then(() => sendJson(r, 200, { status: 'ready', redis: 'ok', postgres: 'ok' }))
      .catch((err) => sendError(r, new ApiError('not_ready', `not ready: ${(err as Error).message}`)));
  });
  app.get('/metrics', (res, req) => {
    const allowed = metricsAllowed(req.getHeader('authorization'));
    const r = reply(res);
    if (!allowed) return sendError(r, new ApiError('unauthorized', METRICS_REFUSED));
    registry.metrics().then((text) => send(r, 200, text, registry.contentType)).catch((err) => sendError(r, toHttpError(err, ctx)));
  });
  app.post('/v1/stripe/webhook', (res, req) => {
    const signature = req.getHeader('stripe-signature');
    const r = reply(res);
    readBody(r, ctx.config.MAX_BODY_BYTES)
      .then((body) => {
        let event;
        try {
          event = verifyWebhook(body, signature, ctx.config.STRIPE_WEBHOOK_SECRET, ctx.config.STRIPE_SECRET_KEY);
        } catch (err) {
          metrics.webhookEvents.inc({ type: 'unverified', result: 'refused' });
          throw new ApiError('invalid_request', `webhook refused: ${(err as Error).message}`);
        }
        // 200 only once the event is queued (or ignored): a failure answers 503 and Stripe delivers it again.
        return ctx.settlement.stripeEvents.accept(event);
      })
      .then(() => sendJson(r, 200, { received: true }))
      .catch((err) => sendError(r, err instanceof ApiError ? err : toHttpError(err, ctx)));
  });
  app.any('/*', (res, req) => {
    const url = req.getUrl();
    sendError(reply(res), new ApiError('not_found', `no route ${req.getMethod().toUpperCase()} ${url}`));
  });

  // Sale events: one pattern subscription, on a single Redis and on a Cluster (see SaleSubscriptions).
  // A lost subscription, once back, makes the buyers re-read what they missed.
  const subs = new SaleSubscriptions({
    redisUrl: ctx.config.REDIS_URL,
    prefix: ctx.config.REDIS_PREFIX,
    log: ctx.log,
    name: 'gateway-sub',
    publisher: ctx.redis,
    onEvent: (saleId, ev) => hub.onSaleEvent(saleId, ev),
    onResubscribed: () => {
      metrics.saleEventResyncs.inc();
      hub.resync();
    },
  });
  await subs.start();

  const listenSocket = await new Promise<unknown>((resolve, reject) => {
    app.listen(ctx.config.HOST, ctx.config.PORT, (s) => (s ? resolve(s) : reject(new Error(`could not listen on ${ctx.config.HOST}:${ctx.config.PORT} (port in use?)`))));
  });
  const port = uws.us_socket_local_port(listenSocket as never);
  // Each sale's last five minutes are kept from the start, so a console opened mid-sale has them.
  live.start();
  return {
    port,
    hub,
    close: async () => {
      uws.us_listen_socket_close(listenSocket as never);
      live.stop();
      liveRedis.disconnect();
      subs.close();
    },
  };
}
