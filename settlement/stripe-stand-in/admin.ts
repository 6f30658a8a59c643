import type { IncomingMessage, ServerResponse } from 'node:http';
import { faultsPatchSchema, type FaultInjector } from './faults.js';
import { readBody, sendJson } from './http.js';
import type { PaymentIntentStore } from './payment-intents.js';

export interface AdminDeps {
  intents: PaymentIntentStore;
  faults: FaultInjector;
  resetAll(): void;
}

const badRequest = (res: ServerResponse, message: string): void =>
  sendJson(res, 400, { error: { code: 'invalid_request', message } });

/** `/_stand-in/*`: test controls, no auth (the stand-in never holds real money). Returns false if no route matched. */
export async function handleAdmin(req: IncomingMessage, res: ServerResponse, path: string, deps: AdminDeps): Promise<boolean> {
  const route = `${req.method} ${path}`;
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
      const text = await readBody(req);
      let json: unknown;
      try {
        json = text.trim() === '' ? {} : JSON.parse(text);
      } catch {
        badRequest(res, 'body is not valid JSON');
        return true;
      }
      const parsed = faultsPatchSchema.safeParse(json);
      if (!parsed.success) {
        badRequest(res, parsed.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; '));
        return true;
      }
      sendJson(res, 200, deps.faults.merge(parsed.data));
      return true;
    }
    default:
      return false;
  }
}
