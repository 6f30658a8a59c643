import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../tests/helpers/stack.js';
import { METRIC } from '../shared/metric-names.js';
import { BuyerSocket } from '../tests/helpers/buyer.js';

let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
});
afterAll(async () => {
  await stack?.close();
});

describe('health, readiness, metrics', () => {
  it('GET /healthz -> 200', async () => {
    const res = await fetch(stack.url('/healthz'));
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: 'ok' });
  });

  it('GET /readyz -> 200 with Redis and Postgres reachable', async () => {
    const res = await fetch(stack.url('/readyz'));
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ status: 'ready', redis: 'ok', postgres: 'ok' });
  });

  it('GET /metrics is Prometheus text with the metrics operators rely on', async () => {
    // One admin request first, so the request-duration histogram has a sample.
    expect((await stack.admin('GET', '/v1/admin/sales')).status).toBe(200);
    const res = await fetch(stack.url('/metrics'));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toContain('text/plain');
    const text = await res.text();
    for (const name of [
      'fs_ws_connections', 'fs_joins_total', 'fs_admissions_total', 'fs_holds_active', 'fs_orders_total',
      'fs_payment_attempts_total', 'fs_http_request_duration_seconds',
    ]) {
      expect(text, name).toMatch(new RegExp(`^# TYPE ${name} `, 'm'));
    }
    expect(text).toMatch(/^fs_http_request_duration_seconds_count\{route="list_sales",status="200"\} [1-9]/m);
    // Every name of the shared list is served, so a dashboard built from it cannot point at nothing.
    for (const name of Object.values(METRIC)) expect(text, name).toContain(`# TYPE ${name} `);
  });

  it('fs_ws_connections follows open sockets', async () => {
    const gauge = async () => Number(/^fs_ws_connections (\d+)/m.exec(await (await fetch(stack.url('/metrics'))).text())?.[1]);
    const r = await stack.admin('POST', '/v1/admin/sales', { name: 'm', sku: 'm', price: { amount: 1, currency: 'eur' }, stock: 1 });
    const before = await gauge();
    const b = await BuyerSocket.open((t) => stack.wsUrl(r.body.id, t), 'metrics-buyer');
    await b.next('sale');
    expect(await gauge()).toBe(before + 1);
    await b.close();
    // The close is seen by the server a moment after the client's close completes: poll briefly.
    const until = Date.now() + 5000;
    while ((await gauge()) !== before && Date.now() < until) await new Promise((res) => setTimeout(res, 20));
    expect(await gauge()).toBe(before);
  });

  it('an unknown route -> 404 in the error shape', async () => {
    for (const [method, path] of [['GET', '/nope'], ['POST', '/healthz/x'], ['PUT', '/metrics/all']] as const) {
      const res = await fetch(stack.url(path), { method });
      expect(res.status, `${method} ${path}`).toBe(404);
      expect(await res.json()).toEqual({ error: { code: 'not_found', message: expect.any(String) } });
    }
  });

  it('the buyer page and the console are HTML', async () => {
    for (const path of ['/s/demo', '/console']) {
      const res = await fetch(stack.url(path));
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toContain('text/html');
    }
  });
});
