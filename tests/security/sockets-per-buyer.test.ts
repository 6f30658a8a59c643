import { afterAll, describe, expect, it } from 'vitest';
import { mintBuyerToken } from '../../shared/buyer-token.js';
import { saleInput, services, uniqueId, type Services } from '../helpers/env.js';
import { BUYER_SECRET, type Stack } from '../helpers/stack.js';
import { useStack } from '../e2e/kit.js';
import { closeSocket, tryUpgrade, type Upgrade } from './door-kit.js';

/**
 * MAX_SOCKETS_PER_BUYER (default 4): open buyer sockets per buyer `sub` per gateway; one more upgrade
 * is refused 429 too_many_connections, with the contract's error body. No admitter runs, and the first
 * sale is written straight into Postgres and Redis (as another gateway or tool would, its event missed
 * here), so the gateway does not know it and its upgrades wait on the sale lookup (an await between the
 * check and the open): the race the slot count must survive.
 */
let stack: Stack;
let svc: Services;
useStack(async (s) => {
  stack = s;
  svc = services(s.prefix, s.databaseUrl);
}, { env: { RUN_ADMITTER: '0' } });
afterAll(async () => svc?.close());

/** A sale this gateway has never heard of (no event, not created through it). */
async function createSaleUnseen(): Promise<string> {
  return (await svc.sales.create(saleInput({ stock: 5 }))).id;
}

async function createSaleHere(): Promise<string> {
  const r = await stack.admin('POST', '/v1/admin/sales', saleInput({ stock: 5 }));
  expect(r.status).toBe(201);
  return r.body.id;
}

async function burst(saleId: string, buyer: string, n: number): Promise<Upgrade[]> {
  const token = await mintBuyerToken(BUYER_SECRET, buyer);
  return Promise.all(Array.from({ length: n }, () => tryUpgrade(stack.wsUrl(saleId, token, 0))));
}

function expectFourOpen(results: Upgrade[]) {
  const open = results.filter((r) => r.open);
  const refused = results.filter((r) => !r.open);
  expect(open).toHaveLength(4);
  expect(refused).toHaveLength(8);
  for (const r of refused) {
    expect(r.status).toBe(429);
    expect(r.open === false && r.body).toEqual({ error: { code: 'too_many_connections', message: expect.stringContaining('at most 4') } });
  }
  return open.map((r) => (r.open ? r.ws : null!));
}

async function gatewayConnections(): Promise<number> {
  const text = await (await fetch(stack.url('/metrics'))).text();
  return Number(/^fs_ws_connections (\d+)/m.exec(text)?.[1] ?? NaN);
}

describe('sockets per buyer', () => {
  it('12 concurrent upgrades of one buyer, racing through the sale lookup: exactly 4 open, 8 refused 429', async () => {
    const saleId = await createSaleUnseen();
    const buyer = uniqueId('buyer');
    const open = expectFourOpen(await burst(saleId, buyer, 12));
    expect(await gatewayConnections()).toBe(4);
    // The four are real, working sockets: each is answered.
    for (const ws of open) {
      const frame = new Promise<string>((r) => ws.once('message', (d) => r(String(d))));
      ws.send(JSON.stringify({ type: 'status' }));
      expect(JSON.parse(await frame)).toMatchObject({ type: 'sale' });
    }
    // A closed tab frees its slot: one more opens, and the next is refused again.
    await closeSocket(open[0]!);
    const again = (await burst(saleId, buyer, 1))[0]!;
    const over = (await burst(saleId, buyer, 1))[0]!;
    expect(again.open).toBe(true);
    expect(over).toMatchObject({ open: false, status: 429 });
    // Another buyer is not affected by this one's count.
    const other = (await burst(saleId, uniqueId('buyer'), 1))[0]!;
    expect(other.open).toBe(true);
    for (const u of [again, other]) if (u.open) open.push(u.ws);
    await Promise.all(open.slice(1).map(closeSocket));
    expect(await gatewayConnections()).toBe(0);
  });

  it('the same on the synchronous path (a sale this gateway knows), and every slot comes back after the closes', async () => {
    const saleId = await createSaleHere();
    const buyer = uniqueId('buyer');
    const open = expectFourOpen(await burst(saleId, buyer, 12));
    await Promise.all(open.map(closeSocket));
    // All four slots are free again: four more open at once, the fifth is refused.
    const second = expectFourOpen(await burst(saleId, buyer, 12));
    await Promise.all(second.map(closeSocket));
  });

  it('refused upgrades (unknown sale, bad token) take no slot', async () => {
    const saleId = await createSaleHere();
    const buyer = uniqueId('buyer');
    const token = await mintBuyerToken(BUYER_SECRET, buyer);
    for (let i = 0; i < 10; i++) {
      const r = await tryUpgrade(stack.wsUrl(uniqueId('nosale'), token, 0));
      expect(r).toMatchObject({ open: false, status: 404, body: { error: { code: 'sale_not_found' } } });
    }
    const open = expectFourOpen(await burst(saleId, buyer, 12));
    await Promise.all(open.map(closeSocket));
  });
});
