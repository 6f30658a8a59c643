/**
 * A child process of admitter-fencing.test.ts (not a test itself): one Admitter whose whole process
 * freezes once, at a chosen step of a tick, for FREEZE_MS, as SIGSTOP or a long GC pause would, but
 * at a known point of the tick:
 *   FREEZE_AT=admit  maxNew is computed from its reads of the pools; the freeze comes just before
 *                    admit-8 is called with it
 *   FREEZE_AT=take   admit-8 has admitted; the freeze comes just before the first take of the tick
 * The freeze blocks the event loop (Atomics.wait), so no timer, renewal or reply runs meanwhile.
 *
 * Env: REDIS_URL, REDIS_PREFIX, FREEZE_AT, FREEZE_MS, TICK_MS, LEASE_MS.
 * To the parent: {type: 'up'}; {type: 'thawed', maxNew?}; with FREEZE_AT=admit also
 * {type: 'admitted-after-thaw', reply} (what admit-8 answered the woken admitter).
 */
import { createRedis } from '../shared/redis.js';
import { createLogger } from '../shared/logger.js';
import { Inventory } from '../inventory/inventory-service.js';
import { Admitter } from './admitter.js';
import { AdmissionScripts } from './scripts.js';

export type FromPausedAdmitter =
  | { type: 'up' }
  | { type: 'thawed'; maxNew?: number }
  | { type: 'admitted-after-thaw'; reply: unknown };

const env = (name: string) => {
  const v = process.env[name];
  if (v === undefined) throw new Error(`paused-admitter: ${name} is not set`);
  return v;
};
const freezeAt = env('FREEZE_AT');
const freezeMs = Number(env('FREEZE_MS'));
const prefix = env('REDIS_PREFIX');
const send = (m: FromPausedAdmitter) => process.send?.(m);
const freeze = () => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, freezeMs);
let frozen = false;

if (freezeAt === 'admit') {
  // eslint-disable-next-line @typescript-eslint/unbound-method -- the original, called back with .call(this)
  const admit = AdmissionScripts.prototype.admit;
  AdmissionScripts.prototype.admit = async function (this: AdmissionScripts, k, lease, maxNew, ...rest) {
    if (frozen || maxNew <= 0) return admit.call(this, k, lease, maxNew, ...rest);
    frozen = true;
    freeze();
    send({ type: 'thawed', maxNew });
    const reply = await admit.call(this, k, lease, maxNew, ...rest);
    send({ type: 'admitted-after-thaw', reply });
    return reply;
  };
} else if (freezeAt === 'take') {
  // eslint-disable-next-line @typescript-eslint/unbound-method -- the original, called back with .apply(this)
  const take = Inventory.prototype.take;
  Inventory.prototype.take = async function (this: Inventory, ...args) {
    if (!frozen) {
      frozen = true;
      freeze();
      send({ type: 'thawed' });
    }
    return take.apply(this, args);
  };
} else {
  throw new Error(`paused-admitter: FREEZE_AT must be admit or take, not ${freezeAt}`);
}

const redis = createRedis(env('REDIS_URL'), { name: 'paused-admitter' });
const admitter = new Admitter(redis, prefix, new Inventory(redis, prefix), {
  tickMs: Number(env('TICK_MS')), leaseMs: Number(env('LEASE_MS')), batch: 1000, log: createLogger('paused-admitter', 'silent'),
});
admitter.start();
send({ type: 'up' });
process.on('message', (m: { cmd?: string }) => {
  if (m.cmd !== 'exit') return;
  // A failed stop ends the child too (non-zero), as the unhandled rejection it used to be did.
  admitter.stop().then(() => {
    redis.disconnect();
    process.exit(0);
  }, (err: unknown) => {
    console.error(err);
    process.exit(1);
  });
});
