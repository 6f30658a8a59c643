import { createHash, createHmac } from 'node:crypto';
import { describe, expect, it, vi } from 'vitest';
import type { Stack } from '../helpers/stack.js';
import { uniqueId } from '../helpers/env.js';
import { Buyers, useStack, createSale, type Frame } from './kit.js';

let stack: Stack;
let buyers: Buyers;
useStack((s, b) => ((stack = s), (buyers = b)));

const isoIn = (ms: number) => new Date(Date.now() + ms).toISOString();

// The contract's formulas, computed here on their own (not with the gateway's code).
const sha256 = (s: string) => createHash('sha256').update(s, 'utf8').digest('hex');
const score = (key: string, buyer: string) => createHmac('sha256', key).update(buyer, 'utf8').digest('hex').slice(0, 13);

async function prequeue(saleId: string): Promise<{ status: number; body: any }> {
  const r = await fetch(stack.url(`/v1/sales/${saleId}/prequeue`));
  return { status: r.status, body: await r.json() };
}

/** Waits for the seal (the key and order published) and checks the order by the formula from outside. */
async function sealedOrder(saleId: string, commitment: string): Promise<{ key: string; order: string[] }> {
  const r = await vi.waitFor(async () => {
    const x = await prequeue(saleId);
    expect(x.body).toHaveProperty('key');
    return x;
  }, { timeout: 15_000, interval: 50 });
  expect(r.status).toBe(200);
  const { key, order } = r.body as { key: string; order: string[]; commitment: string };
  expect(r.body.commitment).toBe(commitment);
  expect(sha256(key)).toBe(commitment);
  expect([...order].sort()).toEqual(order);
  for (const s of order) expect(s).toMatch(/^[0-9a-f]{13}$/);
  return { key, order };
}

/** Each buyer's ticket (from a status after the seal) holds their own score in the published order. */
async function expectTicketsVerify(joined: { id: string; b: Awaited<ReturnType<Buyers['connect']>> }[], key: string, order: string[]) {
  const tickets: number[] = [];
  for (const { id, b } of joined) {
    const f: Frame = await b.request({ type: 'status' }, 'queued');
    expect(Number.isInteger(f.ticket), JSON.stringify(f)).toBe(true);
    expect(order[f.ticket - 1], `buyer ${id} at ticket ${f.ticket}`).toBe(score(key, id));
    tickets.push(f.ticket);
  }
  return tickets;
}

describe('the verifiable pre-queue', () => {
  it('commitment from creation; at the start the key and the order, where every buyer finds their score at their ticket', async () => {
    const sale = await createSale(stack, { stock: 20, startsAt: isoIn(2500) });
    // Paused: nobody is admitted, so every buyer still waits with a ticket after the seal.
    expect((await stack.admin('POST', `/v1/admin/sales/${sale.id}/pause`)).status).toBe(200);
    const commitment = sale.prequeueCommitment as string;
    expect(commitment).toMatch(/^[0-9a-f]{64}$/);
    expect(sale).not.toHaveProperty('prequeueKey');
    expect(await prequeue(sale.id)).toEqual({ status: 200, body: { commitment } });
    expect((await prequeue('no-such-sale')).status).toBe(404);
    expect((await prequeue('no-such-sale')).body.error.code).toBe('sale_not_found');

    const joined = await Promise.all(Array.from({ length: 8 }, async () => {
      const id = uniqueId('pq');
      const b = await buyers.connect(sale.id, id);
      expect(b.frames[0]).toMatchObject({ type: 'sale', prequeueCommitment: commitment });
      const q = await b.request({ type: 'join' }, 'queued');
      expect(Number.isInteger(q.ticket), JSON.stringify(q)).toBe(true);
      return { id, b };
    }));
    const { key, order } = await sealedOrder(sale.id, commitment);
    expect(order).toHaveLength(8);
    expect(order).toEqual(joined.map((j) => score(key, j.id)).sort());
    const tickets = await expectTicketsVerify(joined, key, order);
    expect([...tickets].sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    // The operator API publishes the same key from then on.
    const stored = (await stack.admin('GET', `/v1/admin/sales/${sale.id}`)).body;
    expect(stored).toMatchObject({ prequeueCommitment: commitment, prequeueKey: key });
  });

  it('a lottery window: joins within it are shuffled with the pre-queue, later ones queue in arrival order', async () => {
    const startsAt = Date.now() + 1500;
    const sale = await createSale(stack, { stock: 20, startsAt: new Date(startsAt).toISOString(), lotteryWindowSeconds: 4 });
    expect(sale.lotteryWindowSeconds).toBe(4);
    expect((await stack.admin('POST', `/v1/admin/sales/${sale.id}/pause`)).status).toBe(200);
    const commitment = sale.prequeueCommitment as string;
    const join = async () => {
      const id = uniqueId('lw');
      const b = await buyers.connect(sale.id, id);
      await b.request({ type: 'join' }, 'queued');
      return { id, b };
    };
    const early = await Promise.all([join(), join(), join()]);
    await expect.poll(() => Date.now(), { timeout: 5000, interval: 50 }).toBeGreaterThanOrEqual(startsAt + 300);
    const inWindow = await Promise.all([join(), join(), join()]);
    // Started, still inside the window: no key yet (nobody can pick an identity knowing its score).
    expect(await prequeue(sale.id)).toEqual({ status: 200, body: { commitment } });
    expect((await stack.admin('GET', `/v1/admin/sales/${sale.id}`)).body).not.toHaveProperty('prequeueKey');

    const { key, order } = await sealedOrder(sale.id, commitment);
    expect(Date.now()).toBeGreaterThanOrEqual(startsAt + 4000);
    const shuffled = [...early, ...inWindow];
    expect(order).toEqual(shuffled.map((j) => score(key, j.id)).sort());
    expect((await expectTicketsVerify(shuffled, key, order)).sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6]);
    // After the window: arrival order, after everyone shuffled, and not in the published order.
    const late1 = await join();
    const late2 = await join();
    expect((await late1.b.request({ type: 'status' }, 'queued')).ticket).toBe(7);
    expect((await late2.b.request({ type: 'status' }, 'queued')).ticket).toBe(8);
    expect((await prequeue(sale.id)).body.order).toEqual(order);
  });
});
