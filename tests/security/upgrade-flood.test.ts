import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startStack, BUYER_SECRET, type Stack } from '../helpers/stack.js';
import { saleInput, uniqueId } from '../helpers/env.js';
import { tryUpgrade, type UpgradeOutcome } from '../helpers/raw-http.js';
import { mintBuyerToken } from '../../shared/buyer-token.js';

/**
 * A connection flood from one address is limited: WebSocket upgrades per remote address go through a
 * token bucket (UPGRADES_PER_ADDRESS_PER_SECOND sustained, UPGRADE_BURST_PER_ADDRESS at once); more
 * are refused 429 rate_limited with Retry-After, before the JWT is even checked. Small figures here
 * (1/s, burst 5) so the limit shows; other loopback source addresses (127.0.0.x) stand for other clients.
 */
const BURST = 5;
let stack: Stack;
let saleId: string;
beforeAll(async () => {
  stack = await startStack({ workers: 0, gatewayEnv: { UPGRADES_PER_ADDRESS_PER_SECOND: '1', UPGRADE_BURST_PER_ADDRESS: String(BURST) } });
  const r = await stack.admin('POST', '/v1/admin/sales', saleInput({ stock: 2 }));
  expect(r.status).toBe(201);
  saleId = r.body.id;
});
afterAll(async () => {
  await stack?.close();
});

const url = async () => stack.wsUrl(saleId, await mintBuyerToken(BUYER_SECRET, uniqueId('b')));
const limited = (o: UpgradeOutcome) => !o.opened && o.status === 429;

function expectLimited(o: UpgradeOutcome): number {
  expect(o.opened, JSON.stringify(o)).toBe(false);
  if (o.opened) return 0;
  expect(o.status).toBe(429);
  expect(o.json).toEqual({ error: { code: 'rate_limited', message: expect.any(String) } });
  const retryAfter = Number(o.headers['retry-after']);
  expect(retryAfter).toBeGreaterThanOrEqual(1);
  return retryAfter;
}

describe('WebSocket upgrades per remote address', () => {
  it(`the first ${BURST} open at once, more are refused 429 with Retry-After; after it, one more opens`, async () => {
    const from = '127.0.0.5';
    // Twice the burst at once, tokens minted first: the bucket refills 1/s, so on a machine busy enough
    // to spread them over a few seconds a few more may open, never all.
    const urls = await Promise.all(Array.from({ length: BURST * 2 }, () => url()));
    const started = Date.now();
    const burst = await Promise.all(urls.map((u) => tryUpgrade(u, { localAddress: from })));
    const seconds = (Date.now() - started) / 1000;
    const opened = burst.filter((o) => o.opened).length;
    expect(opened).toBeGreaterThanOrEqual(BURST);
    expect(opened).toBeLessThanOrEqual(BURST + Math.ceil(seconds));
    const refused = burst.filter((o) => !o.opened);
    expect(refused.length).toBeGreaterThan(0);
    const retryAfter = Math.max(...refused.map(expectLimited));
    // Refused before the token is looked at: a flood of junk tokens costs no JWT check.
    expectLimited(await tryUpgrade(stack.wsUrl(saleId, 'junk'), { localAddress: from }));
    // Another address has its own bucket.
    expect(await tryUpgrade(await url(), { localAddress: '127.0.0.6' })).toMatchObject({ opened: true });
    // Retry-After tells the truth: waited out, the bucket has a token again.
    await new Promise((r) => setTimeout(r, retryAfter * 1000));
    expect(await tryUpgrade(await url(), { localAddress: from })).toMatchObject({ opened: true });
  });

  it('a flood of 200 concurrent upgrades from one address: only about the burst opens, the rest is 429, others are served', async () => {
    const from = '127.0.0.7';
    const urls = await Promise.all(Array.from({ length: 200 }, () => url()));
    const started = Date.now();
    const outcomes = await Promise.all(urls.map((u) => tryUpgrade(u, { localAddress: from })));
    const seconds = (Date.now() - started) / 1000;
    const opened = outcomes.filter((o) => o.opened).length;
    expect(opened).toBeGreaterThanOrEqual(BURST);
    expect(opened).toBeLessThanOrEqual(BURST + Math.ceil(seconds) + 1);
    expect(outcomes.filter(limited).length).toBe(200 - opened);
    expect(await tryUpgrade(await url(), { localAddress: '127.0.0.8' })).toMatchObject({ opened: true, first: { type: 'sale' } });
    // HTTP is not counted: the operator API and health answer as usual.
    expect((await stack.admin('GET', `/v1/admin/sales/${saleId}/audit`)).body).toMatchObject({ ok: true, waiting: 0, available: 2 });
  });
});
