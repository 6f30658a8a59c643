import { createHash } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { saleInput, services } from '../tests/helpers/env.js';
import { prequeueCommitment, prequeueScore } from './prequeue.js';
import { publicSale, salePatch } from './sale-schema.js';
import { SaleConflictError } from './sale-service.js';
import { scoreHex } from './lua-test-support.js';

const s = services();
afterAll(() => s.close());

describe('the published pre-queue order', () => {
  it('the formulas: commitment = SHA-256 of the key string, score = HMAC-SHA256 (checked against the test-side one)', () => {
    expect(prequeueCommitment('abc')).toBe(createHash('sha256').update('abc').digest('hex'));
    expect(prequeueCommitment('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    for (const buyer of ['a', 'buyer-1', 'é', '']) expect(prequeueScore('k'.repeat(32), buyer)).toBe(scoreHex('k'.repeat(32), buyer));
    expect(prequeueScore('key', 'The quick brown fox jumps over the lazy dog')).toBe('f7bc83f430538'); // the HMAC-SHA256 example value of Wikipedia's HMAC article
  });

  it('the stored sale shows the commitment from creation, the key only from the seal (start + lottery window)', async () => {
    const now = Date.now();
    const sale = await s.sales.create(saleInput({ startsAt: new Date(now - 1000).toISOString(), lotteryWindowSeconds: 60 }), now);
    const before = publicSale(sale, now);
    expect(before).toMatchObject({ prequeueCommitment: prequeueCommitment(sale.prequeueKey), lotteryWindowSeconds: 60 });
    expect(before).not.toHaveProperty('prequeueKey');
    expect(publicSale(sale, now + 59_000 - 1)).not.toHaveProperty('prequeueKey');
    expect(publicSale(sale, now + 59_000)).toMatchObject({ prequeueKey: sale.prequeueKey });
  });

  it('lotteryWindowSeconds: 0..3600, patchable until the seal (Redis gets the new seal time), refused after it', async () => {
    expect(salePatch.safeParse({ lotteryWindowSeconds: 3601 }).success).toBe(false);
    expect(salePatch.safeParse({ lotteryWindowSeconds: -1 }).success).toBe(false);
    const startsAt = Date.now() + 60_000;
    const future = await s.sales.create(saleInput({ startsAt: new Date(startsAt).toISOString() }));
    expect(future.lotteryWindowSeconds).toBe(0);
    expect((await s.sales.patch(future.id, { lotteryWindowSeconds: 30 }))!.lotteryWindowSeconds).toBe(30);
    expect((await s.sales.get(future.id))!.lotteryWindowSeconds).toBe(30);
    expect(await s.redis.hget(s.sales.keysOf(future.id).sale, 'sealAt')).toBe(String(Date.parse(future.startsAt) + 30_000));
    const started = await s.sales.create(saleInput({ startsAt: new Date(Date.now() - 1000).toISOString() }));
    await expect(s.sales.patch(started.id, { lotteryWindowSeconds: 30 })).rejects.toBeInstanceOf(SaleConflictError);
    expect((await s.sales.get(started.id))!.lotteryWindowSeconds).toBe(0);
  });

  it('is null until sealed, then copied to Postgres once: what was published stays, whatever Redis says later', async () => {
    const sale = await s.sales.create(saleInput({ startsAt: new Date(Date.now() - 1000).toISOString() }));
    const buyers = ['p1', 'p2', 'p3', 'p4', 'p5'];
    for (const b of buyers) expect((await s.room.join(sale.id, b)).kind).toBe('pre');
    expect(await s.sales.prequeueOrder(sale.id)).toBeNull();
    const k = s.sales.keysOf(sale.id);
    expect(await s.sales.scripts.seal(k, 1000)).toBe(1);
    const order = await s.sales.prequeueOrder(sale.id);
    expect(order).toEqual(buyers.map((b) => scoreHex(sale.prequeueKey, b)).sort());
    expect(await s.sales.store.prequeueOrder(sale.id)).toEqual(order);
    // Redis' copy lost and rebuilt differently: the published order does not move.
    await s.redis.del(k.order);
    await s.redis.rpush(k.order, '0000000000000');
    expect(await s.sales.prequeueOrder(sale.id)).toEqual(order);
    expect(await s.sales.store.publishPrequeueOrder(sale.id, ['0000000000000'])).toEqual(order);
    expect(await s.sales.prequeueOrder('no-such-sale')).toBeNull();
  });
});
