import pg from 'pg';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { databaseUrl, uniqueId } from '../helpers/env.js';
import type { Proc, Stack } from '../helpers/stack.js';
import { killRedisConnectionsOf, terminateBackendsOf } from '../helpers/own-connections.js';
import { Buyers, createSale, expectCleanAudit, setFaults, shop, waitSettled, type ShopOptions } from '../e2e/kit.js';
import { printFigures, startChaos, type Chaos } from './chaos-kit.js';

// Issue 12: no process dies of a lost connection. Two gateways and two settlement workers serve a
// stampede while, every 500 ms for 10 s, every Postgres backend of the stack's database is terminated
// and every Redis connection of the stack's processes is killed. Afterwards every process is still the
// one that started, both gateways are ready, every buyer got an end, and the ledger, the provider's
// charges and the audit agree.
// The stack runs on a private Redis (chaos-kit): one server, or on a Redis Cluster every node, whose
// connections of the stack's processes are killed on each node.
const CHAOS_MS = 10_000;
const EVERY_MS = 500;
const BUYERS = 60;
const STOCK = 40;

let c: Chaos | undefined;
let stack: Stack;
let buyers: Buyers;
let pgAdmin: pg.Client;

beforeAll(async () => {
  c = await startChaos({
    gateways: 2,
    workers: 2,
    // Leftovers of a cut payment are reconciliation's: short thresholds so they are found in seconds.
    workerEnv: { PAYMENT_LOCK_MS: '2000', RECONCILE_AFTER_MS: '2000', RECONCILE_INTERVAL_MS: '500', DEAD_LETTER_RELEASE_MS: '2000' },
    webhooks: true,
  });
  stack = c.stack;
  buyers = new Buyers(stack);
  pgAdmin = new pg.Client({ connectionString: databaseUrl() });
  await pgAdmin.connect();
}, 120_000);
afterAll(async () => {
  await buyers?.closeAll();
  await pgAdmin?.end();
  await c?.close();
}, 60_000);

/** CLIENT KILL of every connection of `pids` on every server of the private Redis; their names. */
async function killRedisConnections(pids: number[]): Promise<string[]> {
  const ports = await c!.redis.serverPorts();
  return (await Promise.all(ports.map((port) => killRedisConnectionsOf(c!.redis.server(port), port, pids)))).flat();
}

/**
 * Buyers as a client app that follows the contract behaves: an `error` means the last frame was
 * refused, so a join or pay refused as `unavailable` or `internal` is sent again a moment later, as is
 * a pay after a retryable failure.
 */
const REFUSED_FOR_NOW = ['unavailable', 'internal'];
const CONTRACT_CLIENT: ShopOptions = { timeoutMs: 120_000, repayOn: REFUSED_FOR_NOW, rejoinOn: REFUSED_FOR_NOW, retryAfterMs: 250 };

const processes = (): Proc[] => [...stack.gateways, ...stack.workers];

it('every process survives its connections being killed under load, and every buyer, order and charge adds up', async () => {
  const pids = processes().map((p) => p.child.pid!);
  const sale = await createSale(stack, { stock: STOCK, pools: 2, admitPerSecond: 6, maxActiveHolds: 20, holdSeconds: 30 });
  // Payments stay in flight long enough for the cuts to land in the middle of them.
  await setFaults(stack, { latencyMs: 100 });
  const sockets = await Promise.all(Array.from({ length: BUYERS }, (_, i) => buyers.connect(sale.id, uniqueId('cut'), i % 2)));
  const shopping = Promise.all(sockets.map((b) => shop(b, CONTRACT_CLIENT)));

  const cuts = { rounds: 0, pgBackends: 0, redisConnections: 0, names: new Set<string>() };
  const began = Date.now();
  while (Date.now() < began + CHAOS_MS) {
    const [backends, names] = await Promise.all([terminateBackendsOf(pgAdmin, stack.databaseUrl), killRedisConnections(pids)]);
    cuts.rounds++;
    cuts.pgBackends += backends;
    cuts.redisConnections += names.length;
    for (const n of names) cuts.names.add(n);
    // One round every EVERY_MS (on a busy machine a round itself can take most of that).
    await new Promise((r) => setTimeout(r, Math.max(0, began + cuts.rounds * EVERY_MS - Date.now())));
  }
  await setFaults(stack, null);
  // The cuts really happened, to both kinds of connection, request and blocking/subscriber alike.
  expect(cuts.pgBackends).toBeGreaterThan(cuts.rounds);
  expect(cuts.redisConnections).toBeGreaterThan(cuts.rounds * pids.length);
  expect([...cuts.names]).toEqual(expect.arrayContaining(['gateway', 'gateway-sub', 'settlement']));

  // No process died (none was restarted behind the test's back: the same child, still running);
  // checked now, to fail at once, and again once every buyer is done.
  const allAlive = () => {
    const stderr = processes().map((p, i) => `--- process ${i} (pid ${pids[i]})\n${p.stderr().slice(-3000)}`).join('\n');
    for (const p of processes()) expect({ exitCode: p.child.exitCode, signal: p.child.signalCode }, stderr).toEqual({ exitCode: null, signal: null });
  };
  allAlive();
  const outcomes = await shopping;
  allAlive();
  for (const g of [0, 1]) expect((await fetch(stack.url('/readyz', g))).status, `gateway ${g}`).toBe(200);

  const ends = outcomes.map((o) => o.end);
  const stuck = outcomes.flatMap((o, i) => (o.end === 'stuck' ? [{ buyer: o.buyer, frames: sockets[i]!.frames }] : []));
  expect(stuck, JSON.stringify((await stack.admin('GET', `/v1/admin/sales/${sale.id}`)).body.stats)).toEqual([]);
  allAlive();
  await waitSettled(stack, sale.id, 90_000);
  const db = new pg.Client({ connectionString: stack.databaseUrl });
  await db.connect();
  try {
    const orders = await db.query<{ hold_id: string }>('SELECT hold_id FROM orders WHERE sale_id = $1', [sale.id]);
    const charged = stack.standIn.charges().filter((c) => c.metadata.saleId === sale.id);
    expect(charged).toHaveLength(orders.rowCount!);
    expect(new Set(charged.map((c) => c.metadata.holdId))).toEqual(new Set(orders.rows.map((o) => o.hold_id)));
    expect(orders.rowCount).toBe(ends.filter((e) => e === 'order_confirmed').length);
    expect(orders.rowCount).toBeLessThanOrEqual(STOCK);
  } finally {
    await db.end();
  }
  await expectCleanAudit(stack, sale.id);
  printFigures({
    case: `connection-kills/${c!.redis.mode}`,
    rounds: cuts.rounds, chaosMs: CHAOS_MS, pgBackends: cuts.pgBackends, redisConnections: cuts.redisConnections, names: [...cuts.names].sort(),
    ends: Object.fromEntries(['order_confirmed', 'sold_out', 'hold_expired'].map((e) => [e, ends.filter((x) => x === e).length])),
    errors: outcomes.flatMap((o) => o.errors).length,
  });
}, 240_000);
