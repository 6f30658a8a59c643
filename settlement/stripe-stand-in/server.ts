import { pino, type Logger } from 'pino';
import { loadNativeUws } from '../../shared/uws.js';
import { handleAdmin, type AdminDeps } from './admin.js';
import { ApiError, invalidRequest } from './errors.js';
import { FaultInjector } from './faults.js';
import { parseForm, type FormObject } from './form.js';
import { adapt, BodyTooLarge, jsonText, sendJson, sendJsonText, type Request, type Response } from './http.js';
import { fingerprint, IdempotencyStore, MAX_KEY_LENGTH, type Claim, type StoredResponse } from './idempotency.js';
import { stripeId } from './ids.js';
import { PaymentIntentStore, type Charge } from './payment-intents.js';
import { matchRoute, type Route } from './routes.js';
import { WebhookSender, type WebhookConfig } from './webhooks.js';

export type { Charge } from './payment-intents.js';
export type { Faults } from './faults.js';

export interface StandInOptions {
  /** 0 (the default) picks an ephemeral port. */
  port?: number;
  host?: string;
  logger?: Logger;
  /** Source for fault rolls; tests pass a script of values to decide exactly which attempts fail. */
  random?: () => number;
  /** Where to send signed webhook events (also settable at run time: `POST /_stand-in/webhooks`). */
  webhook?: WebhookConfig;
  /**
   * Test seam (in-process only, not reachable over HTTP): runs after a `/v1` POST was executed and
   * before its answer is sent, e.g. to kill a client between "charged" and "answer received".
   */
  afterExecute?: (path: string, idempotencyKey: string | null) => Promise<void>;
}

export interface StandIn {
  url: string;
  port: number;
  close(): Promise<void>;
  /** Successful payments so far, in order. */
  charges(): Charge[];
  webhooks: WebhookSender;
}

// The version stripe@23 pins; answered when a client does not name one (Stripe echoes the one in use).
const DEFAULT_API_VERSION = '2026-10-28.endive';

/** Starts a local HTTP server speaking the slice of the Stripe API that settlement uses. */
export async function startStandIn(opts: StandInOptions = {}): Promise<StandIn> {
  const host = opts.host ?? '127.0.0.1';
  const log = opts.logger ?? pino({ level: 'silent' });
  // Aborts injected latency and webhook deliveries on close so no request outlives the server.
  const shutdown = new AbortController();
  const webhooks = new WebhookSender(log, shutdown.signal);
  if (opts.webhook) webhooks.configure(opts.webhook);
  const intents = new PaymentIntentStore((type, pi) => webhooks.emit(type, pi));
  const idempotency = new IdempotencyStore();
  const faults = new FaultInjector(opts.random);
  const admin: AdminDeps = {
    intents,
    faults,
    webhooks,
    resetAll() {
      intents.reset();
      idempotency.clear();
      faults.clear();
    },
  };

  async function route(req: Request, res: Response, requestId: string): Promise<void> {
    const path = req.path;
    if (path.startsWith('/_stand-in/')) {
      if (await handleAdmin(req, res, path, admin)) return;
      throw unrecognized(req.method, path);
    }
    if (!path.startsWith('/v1/')) throw unrecognized(req.method, path);
    res.setHeader('Stripe-Version', req.header('stripe-version') ?? DEFAULT_API_VERSION);
    const apiKey = authenticate(req);
    const found = matchRoute(req.method, path);
    if (!found) throw unrecognized(req.method, path);
    if (req.method === 'GET') {
      const result = found.route.run(intents, parseForm(req.query), found.match, { idempotencyKey: null });
      sendJson(res, 200, result);
      return;
    }
    const params = parseForm(await req.body());
    await post(req, res, { apiKey, path, params, route: found.route, match: found.match, requestId });
  }

  /** A `/v1` POST: idempotency claim → injected latency → injected 500 → execute/replay → maybe drop. */
  async function post(req: Request, res: Response, c: PostContext): Promise<void> {
    const key = req.header('idempotency-key');
    if (key !== undefined) {
      if (key.length > MAX_KEY_LENGTH) throw invalidRequest(`Invalid Idempotency-Key: must be at most ${MAX_KEY_LENGTH} characters.`);
      res.setHeader('Idempotency-Key', key);
    }
    const claim: Claim = key === undefined ? { kind: 'fresh' } : idempotency.claim(c.apiKey, key, fingerprint('POST', c.path, c.params));
    if (claim.kind === 'mismatch') throw idempotencyMismatch(key as string);
    if (claim.kind === 'in_use') throw idempotencyInUse(key as string);

    // A fresh key is held "in flight" (so concurrent duplicates get 409) until stored or released.
    let held = claim.kind === 'fresh' ? key : undefined;
    try {
      await faults.delay(shutdown.signal);
      if (faults.shouldFail()) {
        // Not stored: Stripe's idempotency layer does not save 500s, so a retry really runs again.
        sendJson(res, 500, { error: { type: 'api_error', message: 'An unknown error occurred (injected by the stripe stand-in).' } });
        return;
      }
      let response: StoredResponse;
      if (claim.kind === 'replay') {
        response = claim.response;
      } else {
        const outcome = execute(c, key ?? null);
        await opts.afterExecute?.(c.path, key ?? null);
        response = { status: outcome.status, text: outcome.text, requestId: c.requestId };
        if (held !== undefined && outcome.storable) {
          idempotency.complete(c.apiKey, held, response);
          held = undefined;
        }
      }
      if (c.route.touchesCard?.(c.params) !== false && faults.shouldDropResponse()) {
        // The work is done and stored; only the answer is lost, as when a connection dies mid-response.
        log.debug({ requestId: c.requestId, idempotencyKey: key }, 'dropping connection after processing (fault)');
        res.destroy();
        return;
      }
      const replayHeaders = claim.kind === 'replay' ? { 'Idempotent-Replayed': 'true', 'Original-Request': response.requestId } : undefined;
      sendJsonText(res, response.status, response.text, replayHeaders);
    } finally {
      if (held !== undefined) idempotency.release(c.apiKey, held);
    }
  }

  /** Runs the call and serialises its answer at once: the answer is of this moment (the store hands out live intents). */
  function execute(c: PostContext, idempotencyKey: string | null): { status: number; text: string; storable: boolean } {
    try {
      return { status: 200, text: jsonText(c.route.run(intents, c.params, c.match, { idempotencyKey })), storable: true };
    } catch (err) {
      if (err instanceof ApiError) return { status: err.status, text: jsonText(err.body), storable: err.storable };
      throw err;
    }
  }

  // uWS, not node:http: in the benches the stand-in shares two cores with the system it is the
  // provider for, and node:http cost it ~100–200 µs of CPU per request (uWS: ~60–90 with our handling).
  const uws = loadNativeUws();
  const app = uws.App();
  app.any('/*', (uwsRes, uwsReq) => {
    // Closed: a client's kept-alive connection still reaches this handler; it gets no answer, as
    // from a server that is gone.
    if (shutdown.signal.aborted) return void uwsRes.close();
    const requestId = stripeId('req', 14);
    const started = performance.now();
    const { request: req, response: res } = adapt(uwsRes, uwsReq);
    res.setHeader('Request-Id', requestId);
    route(req, res, requestId).catch((err: unknown) => {
      if (err instanceof BodyTooLarge) {
        sendJson(res, 413, { error: { type: 'invalid_request_error', message: 'Request body too large (limit 1 MB).' } }, { Connection: 'close' });
      } else if (err instanceof ApiError) {
        sendJson(res, err.status, err.body);
      } else if (shutdown.signal.aborted) {
        res.destroy();
      } else {
        log.error({ err, requestId }, 'stripe stand-in handler failed');
        sendJson(res, 500, { error: { type: 'api_error', message: 'An unknown error occurred in the stripe stand-in.' } });
      }
    }).finally(() => {
      // Path only: query strings and bodies can carry customer data.
      if (log.isLevelEnabled('debug')) log.debug({ requestId, method: req.method, path: req.path, status: res.outcome, ms: Math.round(performance.now() - started) }, 'request');
    });
  });

  const listenSocket = await new Promise<unknown>((resolve, reject) => {
    app.listen(host, opts.port ?? 0, (s) => (s ? resolve(s) : reject(new Error(`stripe stand-in could not listen on ${host}:${opts.port ?? 0} (port in use?)`))));
  });
  const port = uws.us_socket_local_port(listenSocket as never);
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;

  let closing: Promise<void> | undefined;
  return {
    url,
    port,
    charges: () => intents.charges(),
    webhooks,
    close() {
      closing ??= Promise.resolve().then(() => {
        shutdown.abort();
        // New connections are refused at once; a kept-alive one is closed at its next request (above)
        // or by uWS when idle.
        uws.us_listen_socket_close(listenSocket as never);
      });
      return closing;
    },
  };
}

interface PostContext {
  apiKey: string;
  path: string;
  params: FormObject;
  route: Route;
  match: string[];
  requestId: string;
}

/** `Authorization: Bearer sk_...`; the key itself is never logged or echoed. */
function authenticate(req: Request): string {
  const auth = req.header('authorization');
  if (auth === undefined) {
    throw invalidRequest("You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY').", {}, 401);
  }
  const m = /^Bearer\s+(\S+)$/i.exec(auth);
  if (!m?.[1]?.startsWith('sk_')) throw invalidRequest('Invalid API Key provided: a secret key starting with sk_ is required.', {}, 401);
  return m[1];
}

function unrecognized(method: string | undefined, path: string): ApiError {
  return invalidRequest(`Unrecognized request URL (${method ?? '?'}: ${path}). Please see https://stripe.com/docs or we can help at https://support.stripe.com/.`, {}, 404);
}

function idempotencyMismatch(key: string): ApiError {
  return new ApiError(400, {
    type: 'idempotency_error',
    message: `Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '${key}' if you meant to execute a different request.`,
  });
}

function idempotencyInUse(key: string): ApiError {
  return new ApiError(409, {
    type: 'idempotency_error',
    code: 'idempotency_key_in_use',
    message: `There is currently another in-progress request using this idempotent key (that probably means you submitted twice, and the other request is still going through): ${key}. Please try again later.`,
  });
}
