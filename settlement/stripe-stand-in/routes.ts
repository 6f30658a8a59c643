import type { FormObject } from './form.js';
import type { PaymentIntentStore, RequestContext } from './payment-intents.js';

export interface Route {
  method: 'GET' | 'POST';
  pattern: RegExp;
  run(store: PaymentIntentStore, params: FormObject, match: string[], ctx: RequestContext): unknown;
  /**
   * Whether the request runs a step on the buyer's card (the `dropAfterChargeRate` fault loses only
   * those answers); default yes. Creating an intent without confirming it touches no card.
   */
  touchesCard?(params: FormObject): boolean;
}

const ID = '([^/]+)';

// Order matters: `/search` must win over `/:id`.
export const ROUTES: readonly Route[] = [
  { method: 'POST', pattern: /^\/v1\/payment_intents$/, run: (s, params, _m, ctx) => s.create(params, ctx), touchesCard: (params) => params.confirm === 'true' },
  { method: 'GET', pattern: /^\/v1\/payment_intents$/, run: (s, params) => s.list(params) },
  { method: 'GET', pattern: /^\/v1\/payment_intents\/search$/, run: (s, params) => s.search(params) },
  { method: 'GET', pattern: new RegExp(`^/v1/payment_intents/${ID}$`), run: (s, params, m) => s.retrieve(m[1] as string, params) },
  { method: 'POST', pattern: new RegExp(`^/v1/payment_intents/${ID}/confirm$`), run: (s, params, m) => s.confirm(m[1] as string, params) },
  { method: 'POST', pattern: new RegExp(`^/v1/payment_intents/${ID}/capture$`), run: (s, params, m, ctx) => s.capture(m[1] as string, params, ctx) },
  { method: 'POST', pattern: new RegExp(`^/v1/payment_intents/${ID}/cancel$`), run: (s, params, m) => s.cancel(m[1] as string, params) },
];

export function matchRoute(method: string | undefined, path: string): { route: Route; match: string[] } | undefined {
  for (const route of ROUTES) {
    if (route.method !== method) continue;
    const m = route.pattern.exec(path);
    if (m) return { route, match: [...m] };
  }
  return undefined;
}
