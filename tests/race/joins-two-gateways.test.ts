import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedis } from '../../shared/redis.js';
import { Inventory, splitUnits } from '../../inventory/inventory-service.js';
import { poolOfHold } from '../../inventory/keys.js';
import { WaitingRoom } from '../../admission/waiting-room.js';
import { startStack, type Stack } from '../helpers/stack.js';
import { BuyerSocket, type Frame } from '../helpers/buyer.js';
import { redisUrl, saleInput } from '../helpers/env.js';
import { assertNoOversell } from './oversell-check.js';

const BUYERS = 2000;
const GATEWAYS = 2;
const UNITS = 100;
const POOLS = 4;
/** Sockets opened at once; all of them at once would be a SYN flood against two listen queues. */
const OPEN_BATCH = 200;
const WAIT_MS = 30_000;

let stack: Stack;
beforeAll(async () => {
  stack = await startStack({ gateways: GATEWAYS, workers: 1 });
});
afterAll(async () => {
  await stack?.close();
});

/** Any frame that states the buyer's state (everything but the `sale` frame). */
const isState = (f: Frame) => f.type !== 'sale';

function within<T>(p: Promise<T>, ms: number, why: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(why())), ms)));
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

async function saleStats(saleId: string) {
  const r = await stack.admin('GET', `/v1/admin/sales/${saleId}`);
  expect(r.status).toBe(200);
  return r.body.stats as Record<string, number | string>;
}

/** What happened to one buyer's socket besides its frames, for describing a stuck buyer. */
interface Trace {
  gateway: number;
  openedAt?: number;
  closed?: { code: number; at: number };
  error?: string;
}

async function wsConnections(g: number): Promise<string> {
  const text = await fetch(stack.url('/metrics', g)).then((r) => r.text()).catch((e: Error) => e.message);
  return /^fs_ws_connections (\S+)$/m.exec(text)?.[1] ?? '?';
}

/** Everything known about buyers who got no answer: their socket, their frames, the waiting room's view. */
async function describeSilent(saleId: string, silent: BuyerSocket[], traces: Map<string, Trace>, joinsAt: number): Promise<string> {
  if (silent.length === 0) return '';
  const perGateway = Array.from({ length: GATEWAYS }, (_, g) => silent.filter((b) => traces.get(b.buyer)!.gateway === g).length);
  const open = await Promise.all(stack.gateways.map((_, g) => wsConnections(g)));
  // 'none' in the waiting room means the buyer's join never reached Redis.
  const redis = createRedis(redisUrl(), { name: 'race-diagnose' });
  const room = new WaitingRoom(redis, stack.prefix, new Inventory(redis, stack.prefix));
  const sample = await Promise.all(silent.slice(0, 5).map(async (b) => {
    const t = traces.get(b.buyer)!;
    const view = await room.status(saleId, b.buyer).catch((err: Error) => err.message);
    const opened = `opened ${Math.round((t.openedAt ?? 0) - joinsAt)} ms from the joins`;
    const closed = t.closed ? `closed ${t.closed.code} at ${Math.round(t.closed.at - joinsAt)} ms` : 'still open';
    return `${b.buyer} (gateway ${t.gateway}, ${opened}, ${closed}${t.error ? `, error ${t.error}` : ''}, room ${JSON.stringify(view)}): frames ${JSON.stringify(b.frames)}`;
  }));
  redis.disconnect();
  return `${silent.length} buyers got no state frame after join within ${WAIT_MS} ms (per gateway ${perGateway.join('/')}; `
    + `${silent.filter((b) => b.frames.length === 0).length} got no frame at all, not even 'sale'); `
    + `open sockets per gateway (fs_ws_connections) ${open.join('/')}; stats ${JSON.stringify(await saleStats(saleId))}; e.g. ${sample.join(' | ')}`;
}

describe('joins racing over two gateway processes', () => {
  it(`${BUYERS} buyers join at once on ${GATEWAYS} gateways for ${UNITS} units: exactly ${UNITS} admitted`, { timeout: 180_000 }, async ({ onTestFailed }) => {
    onTestFailed(() => stack.gateways.forEach((g, i) => console.error(`gateway ${i} stderr:\n${g.stderr() || '(empty)'}`)));
    const created = await stack.admin('POST', '/v1/admin/sales', saleInput({
      stock: UNITS, pools: POOLS, admitPerSecond: 100_000, maxActiveHolds: 100_000, holdSeconds: 600,
    }));
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const saleId = created.body.id as string;

    const openBegan = performance.now();
    const buyers: BuyerSocket[] = [];
    const traces = new Map<string, Trace>();
    for (let at = 0; at < BUYERS; at += OPEN_BATCH) {
      buyers.push(...await Promise.all(Array.from({ length: Math.min(OPEN_BATCH, BUYERS - at) }, (_, k) => {
        const n = at + k;
        const g = n % GATEWAYS;
        const t: Trace = { gateway: g };
        traces.set(`race-buyer-${n}`, t);
        return BuyerSocket.open((token) => stack.wsUrl(saleId, token, g), `race-buyer-${n}`).then((b) => {
          t.openedAt = performance.now();
          void b.closed.then((code) => (t.closed = { code, at: performance.now() }));
          b.ws.on('error', (err) => (t.error = err.message));
          return b;
        });
      })));
    }
    const openMs = Math.round(performance.now() - openBegan);

    try {
      // Every admitted frame, by buyer: a buyer may be told twice (a join answer and the tick), but
      // always of the same hold.
      const admitted = new Map<string, Set<string>>();
      let hundred!: () => void;
      const gotHundred = new Promise<void>((resolve) => (hundred = resolve));
      for (const b of buyers) {
        b.ws.on('message', (data) => {
          const f = JSON.parse(String(data)) as Frame;
          if (f.type !== 'admitted') return;
          const holds = admitted.get(b.buyer) ?? new Set<string>();
          holds.add(String(f.holdId));
          admitted.set(b.buyer, holds);
          if (admitted.size >= UNITS) hundred();
        });
      }

      const from = buyers.map((b) => b.frames.length);
      const began = performance.now();
      for (const b of buyers) b.send({ type: 'join' });

      await within(gotHundred, WAIT_MS, () => `only ${admitted.size} of ${UNITS} buyers admitted after ${WAIT_MS} ms`);
      const admittedMs = Math.round(performance.now() - began);
      // Every buyer is answered: a socket left without any state is a stuck buyer, described in full.
      const replies = await Promise.allSettled(buyers.map((b, i) => b.next(isState, WAIT_MS, from[i])));
      const silent = buyers.filter((_, i) => replies[i]!.status === 'rejected');
      expect(silent.length, await describeSilent(saleId, silent, traces, began)).toBe(0);
      const answers = replies.map((r) => (r as PromiseFulfilledResult<Frame>).value);

      // Keep listening until no admission is in flight: every unit held, every admission finished
      // (admitted counts finished ones; the waiting room holds all the others again).
      let stats = await saleStats(saleId);
      for (let i = 0; i < 200 && !(stats.held === UNITS && stats.admitted === UNITS && stats.waiting === BUYERS - UNITS); i++) {
        await delay(50);
        stats = await saleStats(saleId);
      }
      const settledMs = Math.round(performance.now() - began);
      expect(stats, 'stats once admissions settled').toMatchObject({ stock: UNITS, available: 0, held: UNITS, paying: 0, sold: 0, admitted: UNITS, waiting: BUYERS - UNITS });

      // A status round trip on every socket: each buyer is told its state again, and nobody was
      // told of a 101st hold meanwhile.
      const status = await Promise.all(buyers.map((b) => b.request({ type: 'status' }, isState, WAIT_MS)));
      expect(admitted.size, 'distinct buyers told admitted').toBe(UNITS);

      const holdOf = new Map<string, string>();
      for (const [buyer, holds] of admitted) {
        expect([...holds], `hold ids sent to ${buyer}`).toHaveLength(1);
        holdOf.set(buyer, [...holds][0]!);
      }
      const holdIds = [...holdOf.values()];
      assertNoOversell(holdIds, UNITS);
      expect(new Set(holdIds).size, 'distinct hold ids').toBe(UNITS);

      const share = splitUnits(UNITS, POOLS);
      const used = share.map(() => 0);
      for (const id of holdIds) used[poolOfHold(id)!]!++;
      used.forEach((n, p) => expect(n, `units of pool ${p} given`).toBeLessThanOrEqual(share[p]!));

      // Redis agrees: each pool within its share, its equation true, and the hold records are exactly
      // the holds the buyers were told of, each for that buyer.
      const redis = createRedis(redisUrl(), { name: 'race-check' });
      try {
        const inventory = new Inventory(redis, stack.prefix);
        const perPool = await inventory.poolStats(saleId, POOLS);
        perPool.forEach((p, i) => {
          expect(p.held, `pool ${i} held`).toBeLessThanOrEqual(share[i]!);
          expect(p.available + p.held + p.paying + p.sold, `pool ${i} equation`).toBe(p.stock);
        });
        const holds = await inventory.listHolds(saleId, POOLS);
        expect(holds.map((h) => `${h.holdId}:${h.buyer}:${h.state}`).sort())
          .toEqual([...holdOf].map(([buyer, id]) => `${id}:${buyer}:held`).sort());
      } finally {
        redis.disconnect();
      }

      const audit = await stack.admin('GET', `/v1/admin/sales/${saleId}/audit`);
      expect(audit.body).toMatchObject({ ok: true, problems: [], stock: UNITS, available: 0, held: UNITS });

      // The others wait: told `queued` (units are held and may come back), never sold_out or an error.
      const bad = buyers.filter((b) => b.frames.some((f) => f.type === 'sold_out' || f.type === 'error'));
      expect(bad.map((b) => `${b.buyer}: ${JSON.stringify(b.frames)}`).slice(0, 5)).toEqual([]);
      const waiting = buyers.filter((b) => !holdOf.has(b.buyer));
      expect(waiting).toHaveLength(BUYERS - UNITS);
      for (const [i, b] of buyers.entries()) {
        const mine = holdOf.get(b.buyer);
        if (mine) {
          expect(['queued', 'admitted'], `${b.buyer} join answer`).toContain(answers[i]!.type);
          expect(status[i], `${b.buyer} status`).toMatchObject({ type: 'admitted', holdId: mine });
        } else {
          expect(answers[i]!.type, `${b.buyer} join answer`).toBe('queued');
          expect(status[i]!.type, `${b.buyer} status`).toBe('queued');
        }
      }

      const byGateway = [...holdOf.keys()].reduce((n, b) => { n[traces.get(b)!.gateway]!++; return n; }, Array.from({ length: GATEWAYS }, () => 0));
      console.log(`race joins: buyers=${BUYERS} gateways=${GATEWAYS} units=${UNITS} pools=${POOLS} holds=${holdIds.length} `
        + `admitted_per_gateway=${byGateway.join('+')} per_pool=${used.join('/')} queued=${waiting.length} `
        + `open_ms=${openMs} elapsed_ms=${admittedMs} (joins sent -> ${UNITS} admitted) settled_ms=${settledMs}`);
    } finally {
      await Promise.all(buyers.map((b) => b.close()));
    }
  });
});
