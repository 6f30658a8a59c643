/**
 * Property tests of the waiting room (issue 16): random interleavings of join, leave, the admitter's
 * tick (seal, sweep, admit, finish admissions), an explicit seal in small chunks, the sale's start,
 * restock, paying (begin-pay, settle with its order, a declined payment) and a hold's deadline
 * passing, against the real Redis, through the production code (WaitingRoom, Admitter, Inventory).
 * Some steps run several of these at once on two connections (joins and leaves racing a tick).
 *
 * Invariants checked after every step (DESIGN.md "Invariants" 1, 3, 4 and the waiting-room rules):
 * - the pool equation after every inventory script call (checkEveryStep), and held + paying never
 *   above maxActiveHolds;
 * - a buyer has at most one place: one record; a 'p' record iff in the pre-queue; a 'w' record iff
 *   exactly one live entry (line or re-queued) with that ticket; the sale's `waiting` count equals the
 *   'w' records; an 'a' record iff its admission is listed unfinished (and none are left after a tick);
 * - tickets: unique among buyers with a place, never above the sale's seq; the line is in ticket
 *   order and every ticket in it is above `served`; the pre-queue is in keyed-hash order, and the seal
 *   gives tickets in exactly that order;
 * - nobody admitted twice: a ticket is admitted into one hold only, ever; every live hold (held or
 *   paying) is the one its buyer's record points at (no leaked unit, no buyer with two), and a buyer
 *   waiting or left has none; orders per buyer never above perBuyerLimit;
 * - admission order: a tick admits waiters in ticket order: after it, every ticket it admitted is
 *   below every ticket still waiting;
 * - sold out is flagged only while nothing is free, held or paying (never undersell);
 * - at the end, after ticks until nothing changes: nobody waits while a unit is free and holds may
 *   be added (no buyer waits forever).
 *
 * A failure prints the shrunk list of steps and `{ seed, path }`; replay that case with
 *   FC_SEED=<seed> FC_PATH=<path> npx vitest run --project redis admission/waiting-room-properties.test.ts
 * (--project cluster for a case the cluster project found). FC_RUNS=<n> and FC_TIME_MS=<ms> change the
 * number of runs and the time budget (tests/helpers/property.ts).
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedis, type RedisClient } from '../shared/redis.js';
import { redisMode, redisUrl, services, silentLog, type Services } from '../tests/helpers/env.js';
import { propertyParams, replaying } from '../tests/helpers/property.js';
import { checkEveryStep } from '../inventory/lua-test-support.js';
import { Inventory, sumStats } from '../inventory/inventory-service.js';
import { InventoryError } from '../inventory/errors.js';
import { poolOfHold } from '../inventory/keys.js';
import { Admitter } from './admitter.js';
import { AdmissionError } from './errors.js';
import { hashOrder, makeSale, type TestSale } from './lua-test-support.js';
import { recordOrder, WaitingRoom } from './waiting-room.js';

/**
 * Runs per `npm test`: NUM_RUNS or as many as TIME_MS allows, whichever comes first (a tick alone is
 * a dozen round trips; a loaded machine's cost ten times an idle one's). The "cluster" project checks
 * that every step stays in its slot, the logic being the same: a shorter budget there.
 */
const CLUSTER = redisMode() === 'cluster';
const NUM_RUNS = CLUSTER ? 200 : 1000;
const TIME_MS = CLUSTER ? 10_000 : 30_000;
const MIN_RUNS = CLUSTER ? 10 : 30;
const BUYERS = 5;
const buyerOf = (b: number) => `b${b}`;

type Act =
  | { op: 'join'; buyer: number }
  | { op: 'leave'; buyer: number }
  | { op: 'tick' }
  | { op: 'pay'; buyer: number }
  | { op: 'settle'; buyer: number }
  | { op: 'declined'; buyer: number }
  | { op: 'lapse'; buyer: number };
/** `slowTick`: a tick that stalls after admit-8 while `acts` run (a slow admitter, a long network delay). */
type Step = Act | { op: 'seal' } | { op: 'start' } | { op: 'restock'; units: number } | { op: 'par'; acts: Act[] } | { op: 'slowTick'; acts: Act[] };

// Biased to the first buyers, so that a buyer's join, admission, payment and settlement line up in
// one run often enough (uniform choices rarely take one buyer that far).
const buyer = fc.oneof({ weight: 3, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.constant(1) }, { weight: 2, arbitrary: fc.nat({ max: BUYERS - 1 }) });
const act: fc.Arbitrary<Act> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ op: fc.constant('join' as const), buyer }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('leave' as const), buyer }) },
  { weight: 5, arbitrary: fc.constant({ op: 'tick' as const }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('pay' as const), buyer }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('settle' as const), buyer }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('declined' as const), buyer }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('lapse' as const), buyer }) },
);
const step: fc.Arbitrary<Step> = fc.oneof(
  { weight: 12, arbitrary: act },
  { weight: 1, arbitrary: fc.constant({ op: 'seal' as const }) },
  { weight: 2, arbitrary: fc.constant({ op: 'start' as const }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('restock' as const), units: fc.integer({ min: 1, max: 3 }) }) },
  { weight: 3, arbitrary: fc.record({ op: fc.constant('par' as const), acts: fc.array(act, { minLength: 1, maxLength: 4 }) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('slowTick' as const), acts: fc.array(act.filter((a) => a.op !== 'tick'), { minLength: 1, maxLength: 3 }) }) },
);
const scenario = fc
  .record({
    stock: fc.integer({ min: 1, max: 5 }),
    pools: fc.integer({ min: 1, max: 3 }),
    maxActiveHolds: fc.integer({ min: 1, max: 4 }),
    perBuyerLimit: fc.integer({ min: 1, max: 2 }),
    started: fc.nat({ max: 3 }).map((x) => x < 3),
    steps: fc.array(step, { minLength: 1, maxLength: 20, size: 'medium' }),
  })
  // Every pool has at least one unit (the admitter reads a pool of stock 0 as one Redis lost).
  .map((s) => ({ ...s, pools: Math.min(s.pools, s.stock) }));

const LAPSE = `if redis.call('HGET', KEYS[1], 'state') ~= 'held' then return 0 end
redis.call('HSET', KEYS[1], 'deadline', 1)
redis.call('ZADD', KEYS[2], 'XX', 1, ARGV[1])
return 1`;

const expectedError = (e: unknown) => {
  if (e instanceof AdmissionError || e instanceof InventoryError) return e.code;
  throw e;
};

interface Snapshot {
  sale: Record<string, string>;
  records: Record<string, string>;
  pre: string[];
  line: string[];
  requeued: [string, number][];
  admitting: Record<string, string>;
  orders: number[];
  pools: { stock: number; available: number; held: number; paying: number; sold: number }[];
  /** hold id -> state, every hold of every pool. */
  holds: Record<string, string>;
}

describe('waiting room under random interleavings (property)', () => {
  let s: Services;
  let other: RedisClient;
  let rooms: WaitingRoom[];
  let admitter: Admitter;
  /** Run by the admitter's next take, before it takes (slowTick). */
  let midTick: (() => Promise<unknown>) | null = null;
  const reports: ReturnType<typeof checkEveryStep>[] = [];

  beforeAll(() => {
    s = services();
    reports.push(checkEveryStep(s.inventory));
    other = createRedis(redisUrl(), { name: 'test-prop-room' });
    const inv2 = new Inventory(other, s.prefix);
    reports.push(checkEveryStep(inv2));
    rooms = [s.room, new WaitingRoom(other, s.prefix, inv2)];
    // The admitter's own Inventory, so that a slow tick stalls its takes only.
    const inv3 = new Inventory(s.redis, s.prefix);
    reports.push(checkEveryStep(inv3));
    const take = inv3.take.bind(inv3);
    inv3.take = async (...args) => {
      const stall = midTick;
      midTick = null;
      if (stall) await stall();
      return take(...args);
    };
    admitter = new Admitter(s.redis, s.prefix, inv3, { tickMs: 100, leaseMs: 60_000, batch: 100, log: silentLog });
  });
  afterAll(async () => {
    other.disconnect();
    await s.close();
  });

  async function snapshot(sale: TestSale): Promise<Snapshot> {
    const { k } = sale;
    let tx = s.redis.multi().hgetall(k.sale).hgetall(k.buyers).zrange(k.pre, 0, -1).lrange(k.line, 0, -1)
      .zrange(k.requeued, 0, -1, 'WITHSCORES').hgetall(k.admitting);
    for (let b = 0; b < BUYERS; b++) tx = tx.scard(k.orders(buyerOf(b)));
    const r = await tx.exec();
    if (!r) throw new Error('snapshot: transaction aborted');
    for (const [err] of r) if (err) throw err;
    const v = r.map(([, x]) => x);
    const rq = v[4] as string[];
    const requeued: [string, number][] = [];
    for (let i = 0; i < rq.length; i += 2) requeued.push([rq[i]!, Number(rq[i + 1])]);
    const snaps = await s.inventory.snapshot(sale.id, sale.pools);
    const holds: Record<string, string> = {};
    for (const p of snaps) for (const h of p.holds) holds[h.holdId] = h.state;
    return {
      sale: v[0] as Record<string, string>, records: v[1] as Record<string, string>, pre: v[2] as string[], line: v[3] as string[],
      requeued, admitting: v[5] as Record<string, string>, orders: v.slice(6) as number[], pools: snaps.map((p) => p.stats), holds,
    };
  }

  /** Everything the file's header lists, on one snapshot. `admittedEver`: ticket -> hold id, across the run. */
  function checkInvariants(sale: TestSale, x: Snapshot, admittedEver: Map<number, string>, where: string) {
    const fail = (msg: string): never => {
      throw new Error(`${where}: ${msg}\n${JSON.stringify(x)}`);
    };
    const seq = Number(x.sale.seq ?? 0);
    const served = Number(x.sale.served ?? 0);
    const parsed = Object.entries(x.records).map(([buyer, rec]) => {
      const m = /^([pwahl]):?(\d*):?(.*)$/.exec(rec) ?? fail(`bad record ${buyer}=${rec}`);
      return { buyer, st: m[1]!, ticket: m[2] ? Number(m[2]) : null, holdId: m[3] ?? '' };
    });
    const byState = (st: string) => parsed.filter((r) => r.st === st);

    // Pre-queue: exactly the 'p' records, in keyed-hash order.
    expect([...x.pre].sort(), `${where}: pre-queue == 'p' records`).toEqual(byState('p').map((r) => r.buyer).sort());
    expect(x.pre, `${where}: pre-queue in keyed-hash order`).toEqual(hashOrder(sale.prequeueKey, x.pre));

    // The line: ticket order, every ticket above served; live entries are those of 'w' records.
    const entries = x.line.map((e) => {
      const at = e.indexOf(':');
      return { ticket: Number(e.slice(0, at)), buyer: e.slice(at + 1) };
    });
    entries.forEach((e, i) => {
      if (i > 0 && e.ticket <= entries[i - 1]!.ticket) fail(`line out of ticket order at ${i}`);
      if (e.ticket <= served) fail(`line entry ${e.ticket}:${e.buyer} not above served ${served}`);
    });
    const waiting = byState('w');
    for (const w of waiting) {
      const live = entries.filter((e) => e.buyer === w.buyer && e.ticket === w.ticket).length
        + x.requeued.filter(([b, t]) => b === w.buyer && t === w.ticket).length;
      if (live !== 1) fail(`waiter ${w.buyer} with ticket ${w.ticket} has ${live} live entries`);
    }
    for (const [b] of x.requeued) if (!waiting.some((w) => w.buyer === b)) fail(`re-queued ${b} is not waiting`);
    expect(Number(x.sale.waiting ?? 0), `${where}: sale.waiting == 'w' records`).toBe(waiting.length);

    // Tickets: one per place, never above seq.
    const tickets = parsed.filter((r) => r.st === 'w' || r.st === 'a' || r.st === 'h').map((r) => r.ticket!);
    if (new Set(tickets).size !== tickets.length) fail(`a ticket is given twice: ${tickets}`);
    if (tickets.some((t) => t < 1 || t > seq)) fail(`a ticket outside 1..${seq}`);

    // Admissions in progress are exactly the 'a' records.
    expect(Object.entries(x.admitting).map(([h, b]) => `${b}=${h}`).sort(), `${where}: unfinished admissions == 'a' records`)
      .toEqual(byState('a').map((r) => `${r.buyer}=${r.holdId}`).sort());

    // Holds: each ticket admitted into one hold ever; live holds are exactly those their buyers hold.
    for (const r of [...byState('a'), ...byState('h'), ...byState('l')]) {
      // Only holds of a unit count (a void hold id, given up when no pool had a unit, is not one).
      if (!r.holdId || r.ticket === null || !(r.holdId in x.holds)) continue;
      const before = admittedEver.get(r.ticket);
      if (before !== undefined && before !== r.holdId) fail(`ticket ${r.ticket} admitted twice: ${before} and ${r.holdId}`);
      admittedEver.set(r.ticket, r.holdId);
      if (!new RegExp(`^hold_\\d+_${r.ticket}_`).test(r.holdId)) fail(`hold ${r.holdId} is not of ticket ${r.ticket}`);
    }
    const live = Object.entries(x.holds).filter(([, st]) => st === 'held' || st === 'paying').map(([h]) => h).sort();
    const pointed = byState('h').filter((r) => x.holds[r.holdId] === 'held' || x.holds[r.holdId] === 'paying').map((r) => r.holdId).sort();
    // While an admission is unfinished its unit may already be taken (admit-8 counted it).
    const admittingIds = new Set(Object.keys(x.admitting));
    expect(live.filter((h) => !admittingIds.has(h)), `${where}: every live hold is its buyer's one place`).toEqual(pointed);
    for (const r of byState('h')) if (!(r.holdId in x.holds)) fail(`${r.buyer} holds ${r.holdId}, which its pool does not have`);

    // Limits.
    const total = sumStats(x.pools.map((p) => ({ ...p, expired: 0, released: 0 })));
    if (total.held + total.paying > sale.maxActiveHolds) fail(`held ${total.held} + paying ${total.paying} > maxActiveHolds ${sale.maxActiveHolds}`);
    x.orders.forEach((n, b) => {
      if (n > sale.perBuyerLimit) fail(`${buyerOf(b)} has ${n} orders > perBuyerLimit ${sale.perBuyerLimit}`);
    });
    const sold = Object.values(x.holds).filter((st) => st === 'sold').length;
    if (sold !== total.sold || sold !== x.orders.reduce((a, n) => a + n, 0)) fail(`sold ${total.sold}, sold holds ${sold}, orders ${x.orders}`);
    if (x.sale.soldOut === '1' && total.available + total.held + total.paying > 0) fail('sold out flagged while units may still be bought');
  }

  it('every invariant holds after every step', async () => {
    let runs = 0;
    let ticks = 0;
    let admitted = 0;
    let raced = 0;
    /** What the runs reached (hold states and records at the end of each run), printed. */
    const seen = { held: 0, paying: 0, sold: 0, expired: 0, released: 0, left: 0, waitingAtEnd: 0, soldOut: 0 };
    const began = Date.now();
    await fc.assert(
      fc.asyncProperty(scenario, async (sc) => {
        runs++;
        const now = Date.now();
        const sale = await makeSale(s, {
          stock: sc.stock, pools: sc.pools, maxActiveHolds: sc.maxActiveHolds, perBuyerLimit: sc.perBuyerLimit,
          admitPerSecond: 1_000_000, holdSeconds: 60, takeLease: false,
          ...(sc.started ? {} : { startsAt: now + 3600_000, endsAt: now + 7200_000 }),
        });
        // The sale has been open a while: its token bucket is full (a new one starts empty and fills
        // in real time), so admissions are bounded by maxActiveHolds and free units, not by the clock.
        await s.redis.hset(sale.k.bucket, 'tokens', 1_000_000, 'ts', 0);
        const admittedEver = new Map<number, string>();
        const holdOf = async (b: number) => {
          const rec = await s.redis.hget(sale.k.buyers, buyerOf(b));
          return rec?.startsWith('h:') ? rec.slice(rec.indexOf(':', 2) + 1) : null;
        };
        const doAct = async (a: Act, room: WaitingRoom, alone: boolean): Promise<void> => {
          const buyer = 'buyer' in a ? buyerOf(a.buyer) : '';
          try {
            switch (a.op) {
              case 'join': {
                const v = await room.join(sale.id, buyer);
                // Idempotent: asking again at once changes nothing.
                if (alone && (v.kind === 'waiting' || v.kind === 'pre' || v.kind === 'held')) expect(await room.status(sale.id, buyer)).toEqual(v);
                return;
              }
              case 'leave':
                await room.leave(sale.id, buyer);
                return;
              case 'tick':
                ticks++;
                await admitter.tickSale(sale.id);
                return;
              case 'pay': {
                const h = await holdOf(a.buyer);
                if (h) await room.inventory.beginPay(sale.id, h, buyer);
                return;
              }
              case 'settle': {
                // What settlement does: the order is recorded first, then the hold is marked sold.
                const h = await holdOf(a.buyer);
                if (h && (await room.inventory.getHold(sale.id, h))?.state === 'paying') {
                  await recordOrder(room.redis, s.prefix, sale.id, buyer, h);
                  await room.inventory.settle(sale.id, h, `ord_${h}`).catch(async (e: unknown) => {
                    // A declined answer won the race: the order is not kept (the saga's compensation).
                    if (e instanceof InventoryError && e.code === 'hold_not_paying') await room.redis.srem(sale.k.orders(buyer), h);
                    throw e;
                  });
                }
                return;
              }
              case 'declined': {
                const h = await holdOf(a.buyer);
                const hold = h ? await room.inventory.getHold(sale.id, h) : null;
                if (hold?.state === 'paying') await room.inventory.payFailed(sale.id, hold.holdId, hold.attempts);
                return;
              }
              case 'lapse': {
                const h = await holdOf(a.buyer);
                if (h) {
                  const pk = room.inventory.keys(sale.id, poolOfHold(h)!);
                  await room.redis.eval(LAPSE, 2, pk.hold(h), pk.deadlines, h);
                }
                return;
              }
            }
          } catch (e) {
            // Refusals are answers (sold out, paying, not yours, …); anything else fails the run.
            expectedError(e);
          }
        };

        try {
          let before = await snapshot(sale);
          checkInvariants(sale, before, admittedEver, 'start');
          for (const [n, st] of sc.steps.entries()) {
            const where = `step ${n} ${JSON.stringify(st)}`;
            if (st.op === 'par') {
              // Joins and leaves of one event-loop turn go out batched; half on another connection.
              await Promise.all(st.acts.map((a, i) => doAct(a, rooms[i % 2]!, false)));
              if (st.acts.some((a) => a.op === 'tick') && st.acts.some((a) => a.op !== 'tick')) raced++;
            } else if (st.op === 'slowTick') {
              midTick = () => Promise.all(st.acts.map((a, i) => doAct(a, rooms[i % 2]!, false)));
              ticks++;
              await admitter.tickSale(sale.id);
              // No admission this tick: the acts run now.
              if (midTick) await midTick();
              else raced++;
              midTick = null;
            } else if (st.op === 'seal') {
              await s.room.scripts.seal(sale.k, 2);
            } else if (st.op === 'start') {
              await s.room.scripts.putSale(sale.k, 'update', { startsAt: Date.now() - 1 });
            } else if (st.op === 'restock') {
              // SaleService.restock after its ledger write: the pools grow, then the flag is cleared.
              await s.inventory.restock(sale.id, sale.pools, st.units);
              await s.redis.hset(sale.k.sale, 'soldOut', '0');
            } else {
              await doAct(st, s.room, true);
            }
            const after = await snapshot(sale);
            checkInvariants(sale, after, admittedEver, where);
            // A tick: the seal gave tickets in pre-queue order, and admissions followed ticket order.
            if (st.op === 'tick' || st.op === 'slowTick') {
              expect(Object.keys(after.admitting), `${where}: a tick finishes its admissions`).toEqual([]);
              const newly = Object.entries(after.records)
                .filter(([b, r]) => r.startsWith('h:') && before.records[b] !== r)
                .map(([, r]) => Number(r.split(':')[1]));
              const stillWaiting = Object.values(after.records).filter((r) => r.startsWith('w:')).map((r) => Number(r.slice(2)));
              for (const t of newly) for (const w of stillWaiting) if (w < t) throw new Error(`${where}: ticket ${t} admitted before waiting ticket ${w}`);
            }
            // A seal (a tick's or a seal step's) gives the next tickets in pre-queue order. A buyer who
            // left during the step may have joined again after the seal: a new place at the line's end,
            // not a ticket of the seal.
            const acts: Act[] = st.op === 'par' || st.op === 'slowTick' ? st.acts : [st as Act];
            const leftNow = new Set(acts.flatMap((a) => (a.op === 'leave' ? [buyerOf(a.buyer)] : [])));
            const sealed = before.pre.filter((b) => !leftNow.has(b)).map((b) => after.records[b]).filter((r) => r !== undefined && /^[wah]:/.test(r)).map((r) => Number(r!.split(':')[1]));
            expect(sealed, `${where}: the seal gives tickets in pre-queue order`).toEqual([...sealed].sort((a, b) => a - b));
            if (sealed.some((t) => t <= Number(before.sale.seq ?? 0))) throw new Error(`${where}: the seal reused a ticket`);
            before = after;
          }
          // Liveness: ticks until nothing changes; then nobody waits while a unit could be held.
          let last = '';
          for (let i = 0; i < 8; i++) {
            await admitter.tickSale(sale.id);
            const x = await snapshot(sale);
            checkInvariants(sale, x, admittedEver, `final tick ${i}`);
            const key = JSON.stringify([x.records, x.pools]);
            if (key === last) break;
            last = key;
          }
          const end = await snapshot(sale);
          for (const st of Object.values(end.holds)) if (st in seen) seen[st as keyof typeof seen]++;
          seen.left += Object.values(end.records).filter((r) => r.startsWith('l')).length;
          seen.waitingAtEnd += Object.values(end.records).filter((r) => r.startsWith('w')).length;
          if (end.sale.soldOut === '1') seen.soldOut++;
          const total = sumStats(end.pools.map((p) => ({ ...p, expired: 0, released: 0 })));
          const waiters = Object.values(end.records).filter((r) => r.startsWith('w:')).length;
          if (end.sale.sealed === '1' && waiters > 0) {
            expect(Math.min(total.available, sale.maxActiveHolds - total.held - total.paying), 'a buyer waits while a unit could be held').toBe(0);
          }
          admitted += admittedEver.size;
        } finally {
          await cleanup(s.redis, sale);
        }
      }),
      propertyParams(NUM_RUNS, TIME_MS),
    );
    console.info(`waiting-room properties: ${runs} runs, ${ticks} ticks, ${admitted} admissions, ${raced} steps racing a tick, in ${Date.now() - began} ms; reached ${JSON.stringify(seen)}`);
    for (const r of reports) expect(r.violations).toEqual([]);
    if (!replaying()) {
      expect(runs).toBeGreaterThanOrEqual(Math.min(MIN_RUNS, Number(process.env.FC_RUNS || MIN_RUNS)));
      expect(admitted).toBeGreaterThan(0);
      expect(raced).toBeGreaterThan(0);
    }
  }, TIME_MS + 40_000);
});

/** Deletes every key of the sale (its slot's, then each pool's), so thousands of runs leave nothing behind. */
async function cleanup(redis: RedisClient, sale: TestSale): Promise<void> {
  const { k } = sale;
  await redis.del(k.sale, k.buyers, k.pre, k.line, k.requeued, k.bucket, k.admitting, k.admittingSince, k.lease, k.leaseToken,
    ...Array.from({ length: BUYERS }, (_, b) => k.orders(buyerOf(b))));
  const inv = new Inventory(redis, sale.k.sale.slice(0, sale.k.sale.indexOf('fs:{')));
  await Promise.all(Array.from({ length: sale.pools }, async (_, p) => {
    const pk = inv.keys(sale.id, p);
    const ids = await redis.smembers(pk.holds);
    await redis.del(pk.pool, pk.holds, pk.deadlines, pk.paying, ...ids.map((id) => pk.hold(id)));
  }));
}
