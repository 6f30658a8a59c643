import { fork, type ChildProcess } from 'node:child_process';
import { hostname } from 'node:os';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { createRedis } from '../shared/redis.js';
import { redisUrl, services, silentLog, type Services } from '../tests/helpers/env.js';
import { sampleHolds } from '../tests/helpers/hold-sampler.js';
import { sleep } from '../inventory/lua-test-support.js';
import { Admitter } from './admitter.js';
import { salesIndexKey } from './keys.js';
import { joinAll, makeSale, record, type TestSale } from './lua-test-support.js';
import type { FromPausedAdmitter } from './paused-admitter.js';

// Two admitters on one sale, one of them in a child process that freezes its whole event loop past
// its lease at a chosen step of a tick (paused-admitter.ts), the other in this process. A third
// Redis client samples the pools all along: held + paying never goes above maxActiveHolds and no
// unit is ever handed out twice, whatever the woken admitter still has in hand.

const TICK_MS = 50;
const LEASE_MS = 500;
const FREEZE_MS = 2500;
const MAX_ACTIVE = 5;

interface Paused {
  child: ChildProcess;
  next<T extends FromPausedAdmitter['type']>(type: T, timeoutMs?: number): Promise<Extract<FromPausedAdmitter, { type: T }>>;
  /** Whether a message of this type has arrived. */
  got(type: FromPausedAdmitter['type']): boolean;
  stop(): Promise<void>;
}

function startPausedAdmitter(s: Services, freezeAt: 'admit' | 'take'): Paused {
  const child = fork(fileURLToPath(new URL('./paused-admitter.ts', import.meta.url)), [], {
    execArgv: ['--import', 'tsx'],
    env: {
      PATH: process.env.PATH, HOME: process.env.HOME, NODE_ENV: 'test', REDIS_URL: redisUrl(), REDIS_PREFIX: s.prefix,
      FREEZE_AT: freezeAt, FREEZE_MS: String(FREEZE_MS), TICK_MS: String(TICK_MS), LEASE_MS: String(LEASE_MS),
    },
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
  });
  let err = '';
  child.stderr?.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-10_000)));
  const inbox: FromPausedAdmitter[] = [];
  child.on('message', (m: FromPausedAdmitter) => inbox.push(m));
  return {
    child,
    got: (type) => inbox.some((m) => m.type === type),
    next: async (type, timeoutMs = 20_000) => {
      await expect.poll(() => inbox.some((x) => x.type === type) || child.exitCode !== null, { timeout: timeoutMs, interval: 10, message: `no ${type} from the paused admitter; stderr: ${err}` }).toBe(true);
      const m = inbox.find((x) => x.type === type);
      if (!m) throw new Error(`paused admitter exited (${child.exitCode}): ${err}`);
      return m as never;
    },
    stop: () => new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.send({ cmd: 'exit' });
      setTimeout(() => child.kill('SIGKILL'), 5000).unref();
    }),
  };
}

const cleanup: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

/** A sale of its own key prefix (so no other test's sale is ticked), with 30 waiters, in the admitters' index. */
async function crowdedSale(): Promise<{ s: Services; sale: TestSale }> {
  const s = services();
  cleanup.push(() => s.close());
  const sale = await makeSale(s, { stock: 20, pools: 2, maxActiveHolds: MAX_ACTIVE, admitPerSecond: 50, holdSeconds: 60, takeLease: false });
  await joinAll(s, sale, Array.from({ length: 30 }, (_, i) => `w${i + 1}`));
  await s.redis.sadd(salesIndexKey(s.prefix), sale.id);
  return { s, sale };
}

function sampler(s: Services, sale: TestSale) {
  const redis = createRedis(redisUrl(), { name: 'test-sampler' });
  cleanup.push(async () => redis.disconnect());
  return sampleHolds(redis, s.inventory, sale.id, sale.pools);
}

function secondAdmitter(s: Services): Admitter {
  const b = new Admitter(s.redis, s.prefix, s.inventory, { tickMs: TICK_MS, leaseMs: LEASE_MS, batch: 1000, log: silentLog });
  cleanup.push(() => b.stop());
  return b;
}

const held = async (s: Services, sale: TestSale) => (await s.inventory.stats(sale.id, sale.pools)).held;

/** A crowded sale, a sampler on it, and an admitter in a child process, up, that will freeze at `freezeAt`. */
async function frozenAdmitterOnCrowdedSale(freezeAt: 'admit' | 'take') {
  const { s, sale } = await crowdedSale();
  const sampling = sampler(s, sale);
  const a = startPausedAdmitter(s, freezeAt);
  cleanup.push(() => a.stop());
  await a.next('up');
  return { s, sale, sampling, a };
}

/** The second admitter, in this process, takes the lease once the frozen one's expires and fills the cap before it wakes. */
async function otherFillsTheCapDuringTheFreeze(s: Services, sale: TestSale, frozen: Paused): Promise<Admitter> {
  const b = secondAdmitter(s);
  b.start();
  await expect.poll(() => held(s, sale), { timeout: FREEZE_MS, interval: 10 }).toBe(MAX_ACTIVE);
  expect(frozen.got('thawed'), 'the other admitter filled the cap before the frozen one woke').toBe(false);
  return b;
}

/** After the woken admitter's tick and a few more of both: the sampler never saw the cap passed nor a unit handed out twice. */
async function expectTheCapHeldThroughout(sampling: ReturnType<typeof sampler>) {
  await sleep(20 * TICK_MS);
  const seen = await sampling.stop();
  expect(seen.samples).toBeGreaterThan(100);
  expect(seen.broken).toEqual([]);
  expect(seen.maxActive).toBe(MAX_ACTIVE);
  expect(seen.minAvailable).toBeGreaterThanOrEqual(0);
}

/** The end every scenario must reach: the cap's worth of holds, every one a buyer's, nothing left admitting. */
async function expectSettled(s: Services, sale: TestSale) {
  await expect.poll(() => s.redis.hlen(sale.k.admitting), { timeout: 5000, interval: 25 }).toBe(0);
  const holds = (await s.inventory.listHolds(sale.id, sale.pools)).filter((h) => h.state === 'held');
  expect(holds).toHaveLength(MAX_ACTIVE);
  for (const h of holds) expect(await record(s, sale.k, h.buyer)).toMatchObject({ state: 'holding', holdId: h.holdId });
  expect(await s.redis.hget(sale.k.sale, 'admitted')).toBe(String(MAX_ACTIVE));
}

describe('an admitter frozen past its lease (the fencing token)', () => {
  it('woken with a maxNew it read before the freeze, it admits nobody: admit-8 answers -7', async () => {
    const { s, sale, sampling, a } = await frozenAdmitterOnCrowdedSale('admit');
    // It takes the lease first; its first tick computes maxNew = 5 and freezes just before admit-8.
    await expect.poll(() => s.redis.get(sale.k.lease), { timeout: 20_000, interval: 10 }).toMatch(new RegExp(`^${hostname()}:${a.child.pid}:`));
    const b = await otherFillsTheCapDuringTheFreeze(s, sale, a);
    expect((await s.redis.get(sale.k.lease))!.startsWith(`${b.owner}:`)).toBe(true);

    expect(await a.next('thawed')).toMatchObject({ maxNew: MAX_ACTIVE });
    const woken = await a.next('admitted-after-thaw');
    await expectTheCapHeldThroughout(sampling);
    expect(woken.reply).toBe(-7);
    await expectSettled(s, sale);
  });

  it('woken between admit-8 and its takes, it cannot push held + paying over the cap; the lease holder finishes its admissions', async () => {
    const { s, sale, sampling, a } = await frozenAdmitterOnCrowdedSale('take');
    // It admits (its bucket fills after its first tick) and freezes before the first take of that tick.
    await expect.poll(() => s.redis.hlen(sale.k.admitting), { timeout: 20_000, interval: 5 }).toBeGreaterThan(0);
    expect((await s.redis.get(sale.k.lease))!.startsWith(`${hostname()}:${a.child.pid}:`)).toBe(true);
    await otherFillsTheCapDuringTheFreeze(s, sale, a);

    await a.next('thawed');
    await expectTheCapHeldThroughout(sampling);
    await expectSettled(s, sale);
  });
});
