import { z } from 'zod';
import { ApiError } from './errors.js';
import { faultsPatchSchema, type FaultInjector } from './faults.js';
import { sendJson, type Request, type Response } from './http.js';
import type { PaymentIntentStore } from './payment-intents.js';
import { webhookConfigSchema, type WebhookSender } from './webhooks.js';

export interface AdminDeps {
  intents: PaymentIntentStore;
  faults: FaultInjector;
  webhooks: WebhookSender;
  resetAll(): void;
}

const badRequest = (res: Response, message: string): void =>
  sendJson(res, 400, { error: { code: 'invalid_request', message } });

const AUTHENTICATE = /^\/_stand-in\/payment_intents\/([^/]+)\/authenticate$/;
const authenticateSchema = z.object({ outcome: z.enum(['succeed', 'fail']).default('succeed') }).strict();

/** `/_stand-in/*`: test controls, no auth (the stand-in never holds real money). Returns false if no route matched. */
export async function handleAdmin(req: Request, res: Response, path: string, deps: AdminDeps): Promise<boolean> {
  const route = `${req.method} ${path}`;
  const challenge = req.method === 'POST' ? AUTHENTICATE.exec(path) : null;
  if (challenge) {
    // The buyer answers the 3D Secure challenge of an intent in requires_action (body {"outcome": "fail"} to fail it).
    const body = await jsonBody(req, res, authenticateSchema);
    if (!body) return true;
    try {
      sendJson(res, 200, deps.intents.authenticate(challenge[1] as string, body.outcome === 'succeed'));
    } catch (err) {
      if (!(err instanceof ApiError)) throw err;
      sendJson(res, err.status === 404 ? 404 : 409, { error: { code: err.error.code ?? 'invalid_request', message: err.message } });
    }
    return true;
  }
  switch (route) {
    case 'GET /_stand-in/charges':
      sendJson(res, 200, { charges: deps.intents.charges() });
      return true;
    case 'POST /_stand-in/reset':
      deps.resetAll();
      sendJson(res, 200, { reset: true });
      return true;
    case 'GET /_stand-in/faults':
      sendJson(res, 200, deps.faults.current());
      return true;
    case 'DELETE /_stand-in/faults':
      sendJson(res, 200, deps.faults.clear());
      return true;
    case 'POST /_stand-in/faults': {
      const patch = await jsonBody(req, res, faultsPatchSchema);
      if (patch) sendJson(res, 200, deps.faults.merge(patch));
      return true;
    }
    case 'GET /_stand-in/webhooks':
      sendJson(res, 200, deps.webhooks.status());
      return true;
    case 'POST /_stand-in/webhooks': {
      const config = await jsonBody(req, res, webhookConfigSchema);
      if (config) {
        deps.webhooks.configure(config);
        sendJson(res, 200, deps.webhooks.status());
      }
      return true;
    }
    case 'DELETE /_stand-in/webhooks':
      deps.webhooks.configure(null);
      sendJson(res, 200, deps.webhooks.status());
      return true;
    default:
      return false;
  }
}

/** Reads and validates a JSON body; on failure answers 400 and returns null. */
async function jsonBody<T>(req: Request, res: Response, schema: z.ZodType<T>): Promise<T | null> {
  const text = await req.body();
  let json: unknown;
  try {
    json = text.trim() === '' ? {} : JSON.parse(text);
  } catch {
    badRequest(res, 'body is not valid JSON');
    return null;
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    badRequest(res, parsed.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; '));
    return null;
  }
  return parsed.data;
}
