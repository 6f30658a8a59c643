import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, type Stack } from '../helpers/stack.js';
import { rawRequest } from '../helpers/raw-http.js';
import { freePort } from '../e2e/kit.js';

/**
 * METRICS_TOKEN (contract, "Running it"): when set, `/metrics` asks for `Authorization: Bearer <token>`
 * (401 in the contract's error shape without it); unset, it is public as before. A settlement worker's
 * `/metrics` (on METRICS_PORT) asks for the same token.
 */
const TOKEN = 'metrics-token-for-the-test-0123';
let stack: Stack;
let workerMetrics: string;
beforeAll(async () => {
  const port = await freePort();
  workerMetrics = `http://127.0.0.1:${port}/metrics`;
  stack = await startStack({ env: { METRICS_TOKEN: TOKEN }, workerEnv: { METRICS_PORT: String(port) } });
});
afterAll(async () => {
  await stack?.close();
});

const bad: [string, Record<string, string>][] = [
  ['no Authorization', {}],
  ['a wrong token', { authorization: 'Bearer metrics-token-for-the-test-0124' }],
  ['the token without Bearer', { authorization: TOKEN }],
  ['the token with a suffix', { authorization: `Bearer ${TOKEN}x` }],
  ['the token as Basic', { authorization: `Basic ${TOKEN}` }],
];

describe('METRICS_TOKEN set', () => {
  it.each(bad)('gateway /metrics with %s -> 401, no metric in the body', async (_name, headers) => {
    const r = await rawRequest(stack.url('/metrics'), { headers });
    expect(r.status).toBe(401);
    expect(r.json).toEqual({ error: { code: 'unauthorized', message: expect.any(String) } });
    expect(r.body).not.toContain('fs_');
  });

  it('gateway /metrics with the token -> 200 Prometheus text', async () => {
    const r = await rawRequest(stack.url('/metrics'), { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toContain('text/plain');
    expect(r.body).toMatch(/^# TYPE fs_ws_connections /m);
  });

  it('the worker\'s /metrics asks for the same token', async () => {
    const refused = await rawRequest(workerMetrics);
    expect(refused.status).toBe(401);
    expect(refused.json).toEqual({ error: { code: 'unauthorized', message: expect.any(String) } });
    const r = await rawRequest(workerMetrics, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(r.status).toBe(200);
    expect(r.body).toMatch(/^# TYPE fs_/m);
  });

  it('health and readiness stay public (load balancers probe them without a token)', async () => {
    expect((await rawRequest(stack.url('/healthz'))).status).toBe(200);
    expect((await rawRequest(stack.url('/readyz'))).status).toBe(200);
  });
});

describe('METRICS_TOKEN unset', () => {
  it('a gateway without it serves /metrics to anyone, as before', async () => {
    const g = await stack.addGateway({ METRICS_TOKEN: '' });
    const r = await rawRequest(`http://127.0.0.1:${g.port}/metrics`);
    expect(r.status).toBe(200);
    expect(r.body).toMatch(/^# TYPE fs_ws_connections /m);
  });
});
