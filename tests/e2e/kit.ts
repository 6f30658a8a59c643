import { afterAll, afterEach, beforeAll, expect } from 'vitest';
import type { SaleInput, SaleStats } from '../../admission/sale-schema.js';
import { BuyerSocket, type Frame } from '../helpers/buyer.js';
import { saleInput, uniqueId } from '../helpers/env.js';
import { freePort } from '../../loadtest/bench/infra.js';
import { startStack, type Proc, type Stack, type StackOptions } from '../helpers/stack.js';

/**
 * Small steps shared by the end-to-end files (not a test file itself): create a sale, open buyers,
 * read stats, wait on the admitter, and the closing audit every scenario ends with.
 */

export type { Frame };

export async function createSale(stack: Stack, over: Partial<SaleInput> = {}): Promise<{ id: string; [k: string]: any }> {
  // Two pools by default, one when the stock is a single unit (pools may not exceed stock).
  const pools = over.pools ?? Math.min(2, over.stock ?? 2);
  const r = await stack.admin('POST', '/v1/admin/sales', saleInput({ pools, ...over }));
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  return r.body;
}

/**
 * A sale's stats, read as an operator's tool does: a `503 unavailable` (a Redis or Postgres connection
 * lost under the request, e.g. right after a chaos case killed them) is asked again for up to 10 s, as
 * the contract says; any other status, or 503 for longer, fails.
 */
export async function stats(stack: Stack, saleId: string): Promise<SaleStats> {
  const end = Date.now() + 10_000;
  for (;;) {
    const r = await stack.admin('GET', `/v1/admin/sales/${saleId}`);
    if (r.status === 503 && Date.now() < end) {
      await new Promise((res) => setTimeout(res, 200));
      continue;
    }
    expect(r.status, JSON.stringify(r.body)).toBe(200);
    return r.body.stats as SaleStats;
  }
}

async function admitterTicks(stack: Stack): Promise<number> {
  const text = await (await fetch(stack.url('/metrics'))).text();
  const m = /^fs_admitter_ticks_total (\d+)/m.exec(text);
  return m ? Number(m[1]) : 0;
}

/**
 * Waits until the gateway's admitter has run at least `n` more sale ticks: the way to give it the
 * chance to do something it must not do (admit while paused, send sold_out too early) without a sleep.
 */
export async function waitAdmitterTicks(stack: Stack, n = 10, timeoutMs = 10_000): Promise<void> {
  const start = await admitterTicks(stack);
  const until = Date.now() + timeoutMs;
  while ((await admitterTicks(stack)) < start + n) {
    if (Date.now() > until) throw new Error(`the admitter did not tick ${n} times in ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** The closing check of every scenario: the audit of the contract is clean. */
export async function expectCleanAudit(stack: Stack, saleId: string, expected: Record<string, unknown> = {}): Promise<any> {
  const r = await stack.admin('GET', `/v1/admin/sales/${saleId}/audit`);
  expect(r.status).toBe(200);
  expect(r.body, JSON.stringify(r.body)).toMatchObject({ ok: true, problems: [], ...expected });
  return r.body;
}

/** Opens buyer sockets and remembers them so a file can close them all afterwards. */
export class Buyers {
  private readonly open: BuyerSocket[] = [];
  constructor(private readonly stack: Stack) {}

  async connect(saleId: string, buyer = uniqueId('buyer'), gateway = 0): Promise<BuyerSocket> {
    const b = await BuyerSocket.open((t) => this.stack.wsUrl(saleId, t, gateway), buyer);
    this.open.push(b);
    await b.next('sale');
    return b;
  }

  /** Connects, joins and waits for the hold. */
  async holding(saleId: string, buyer?: string): Promise<{ b: BuyerSocket; holdId: string; expiresAt: string }> {
    const b = await this.connect(saleId, buyer);
    const from = b.frames.length;
    b.send({ type: 'join' });
    const a = await b.next('admitted', 15_000, from);
    return { b, holdId: a.holdId, expiresAt: a.expiresAt };
  }

  /** Connects and joins; resolves on the `queued` answer (fails if admitted instead). */
  async queued(saleId: string, buyer?: string): Promise<{ b: BuyerSocket; position: number }> {
    const b = await this.connect(saleId, buyer);
    const f = await b.request({ type: 'join' }, (x) => x.type === 'queued' || x.type === 'admitted' || x.type === 'error');
    expect(f.type, JSON.stringify(b.frames)).toBe('queued');
    return { b, position: f.position };
  }

  async closeAll(): Promise<void> {
    await Promise.all(this.open.splice(0).filter((b) => b.ws.readyState !== b.ws.CLOSED).map((b) => b.close()));
  }
}

/** Pays and waits for the outcome frame of this payment (after payment_pending). */
export async function pay(b: BuyerSocket, holdId: string, paymentMethod: string, timeoutMs = 20_000): Promise<Frame> {
  const from = b.frames.length;
  b.send({ type: 'pay', holdId, paymentMethod });
  return b.next((f) => (f.type === 'order_confirmed' || f.type === 'payment_failed' || f.type === 'error') && (f.type === 'error' || f.holdId === holdId), timeoutMs, from);
}

export async function setFaults(stack: Stack, faults: Record<string, number> | null): Promise<void> {
  const res = await fetch(`${stack.standIn.url}/_stand-in/faults`, {
    method: faults ? 'POST' : 'DELETE',
    headers: { 'content-type': 'application/json' },
    body: faults ? JSON.stringify(faults) : undefined,
  });
  expect(res.status).toBe(200);
}

/**
 * One stack per test file (started before its tests, stopped after), with every buyer socket a test
 * opened closed after each test. `use` receives them once the stack is up, and may finish setting up
 * (add a worker, open a pool) before the first test; the stack is closed even if it throws. What `use`
 * returns is only awaited (it is `unknown`, not `void | Promise<void>`, because the files' one-liner
 * `(s, b) => ((stack = s), (buyers = b))` returns the buyers).
 */
export function useStack(use: (stack: Stack, buyers: Buyers) => unknown, opts?: StackOptions): void {
  let stack: Stack | undefined;
  let buyers: Buyers | undefined;
  beforeAll(async () => {
    const started = await startStack(opts);
    stack = started;
    buyers = new Buyers(started);
    await use(started, buyers);
  });
  afterEach(async () => {
    await buyers?.closeAll();
  });
  afterAll(async () => {
    await stack?.close();
  });
}

export interface ShopOutcome {
  buyer: string;
  end: 'order_confirmed' | 'sold_out' | 'hold_expired' | 'stuck';
  orderId?: string;
  holdId?: string;
  pays: number;
  errors: string[];
}

export interface ShopOptions {
  paymentMethod?: string;
  /** `stuck` if no terminal frame came in this time. */
  timeoutMs?: number;
  /** The first pay waits for this (so a test can keep the holds full for a while). */
  payGate?: Promise<void>;
  /** `error` codes on which a buyer holding a unit sends its pay again. */
  repayOn?: readonly string[];
  /** `error` codes on which a buyer not holding yet sends its join again. */
  rejoinOn?: readonly string[];
  /** How long a buyer waits before a second try (after a retryable failure or a refused frame); 0: at once. */
  retryAfterMs?: number;
}

/**
 * A buyer as a real shopper behaves: joins, pays when admitted, pays again after a retryable failure
 * (and, as `opts` say, after a refused pay or join), and stops at a terminal frame. It never polls.
 */
export async function shop(b: BuyerSocket, opts: ShopOptions = {}): Promise<ShopOutcome> {
  const { paymentMethod = 'pm_card_visa', timeoutMs = 120_000, payGate, repayOn = ['unavailable'], rejoinOn = [], retryAfterMs = 0 } = opts;
  const out: ShopOutcome = { buyer: b.buyer, end: 'stuck', pays: 0, errors: [] };
  const deadline = Date.now() + timeoutMs;
  let at = b.frames.length;
  const pay = (holdId: string) => {
    out.pays++;
    b.send({ type: 'pay', holdId, paymentMethod });
  };
  const again = (send: () => void) => {
    if (retryAfterMs === 0) send();
    else setTimeout(() => b.ws.readyState === b.ws.OPEN && send(), retryAfterMs);
  };
  b.send({ type: 'join' });
  for (;;) {
    let f: Frame;
    try {
      f = await b.next(() => true, Math.max(1, deadline - Date.now()), at);
    } catch {
      return out;
    }
    at = b.frames.indexOf(f, at) + 1;
    switch (f.type) {
      case 'admitted':
        out.holdId = f.holdId;
        if (payGate) await payGate;
        pay(f.holdId);
        break;
      case 'payment_failed':
        if (f.retryable && f.holdId === out.holdId) again(() => pay(f.holdId));
        break;
      case 'error': {
        out.errors.push(f.code);
        const holdId = out.holdId;
        if (holdId !== undefined && repayOn.includes(f.code)) again(() => pay(holdId));
        else if (holdId === undefined && rejoinOn.includes(f.code)) again(() => b.send({ type: 'join' }));
        break;
      }
      case 'order_confirmed':
        return { ...out, end: 'order_confirmed', orderId: f.orderId, holdId: f.holdId };
      case 'sold_out':
        if (!out.holdId) return { ...out, end: 'sold_out' };
        break;
      case 'hold_expired':
        if (f.holdId === out.holdId) return { ...out, end: 'hold_expired' };
        break;
      default:
    }
  }
}

/** A free TCP port on the loopback (for a process's METRICS_PORT). */
export { freePort };

/**
 * One more settlement worker on a METRICS_PORT of its own (a worker has no gateway port to serve
 * /metrics on); `metrics()` reads that text. `env` adds to the stack's worker environment.
 */
export async function addWorkerWithMetrics(stack: Stack, env: Record<string, string> = {}): Promise<{ proc: Proc; metrics: () => Promise<string> }> {
  const port = await freePort();
  const proc = await stack.addWorker({ ...env, METRICS_PORT: String(port) });
  return { proc, metrics: async () => (await fetch(`http://127.0.0.1:${port}/metrics`)).text() };
}

/** Reads one metric (summing its series whose labels contain `labels`) from a /metrics text. */
export function metricValue(text: string, name: string, labels = ''): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name) || line.startsWith('#')) continue;
    const m = /^([a-z_]+)(\{[^}]*\})? ([0-9.e+-]+)$/.exec(line);
    if (m && m[1] === name && (m[2] ?? '').includes(labels)) sum += Number(m[3]);
  }
  return sum;
}

/**
 * Whether a sale's payments have settled now: nothing paying, no attempt pending, every order captured,
 * and as many charges at the stand-in as orders (less `seeded` orders a test wrote straight into the
 * ledger, which have no charge).
 */
export async function settledNow(stack: Stack, db: { query(sql: string, values: unknown[]): Promise<{ rows: any[] }> }, saleId: string, seeded = 0): Promise<boolean> {
  const n = async (sql: string) => Number((await db.query(sql, [saleId])).rows[0].n);
  if ((await stats(stack, saleId)).paying !== 0) return false;
  const orders = await n('SELECT count(*) AS n FROM orders WHERE sale_id = $1');
  return (await n("SELECT count(*) AS n FROM payment_attempts WHERE sale_id = $1 AND status = 'pending'")) === 0
    && (await n("SELECT count(*) AS n FROM orders WHERE sale_id = $1 AND capture_status <> 'captured'")) === 0
    && stack.standIn.charges().filter((c) => c.metadata.saleId === saleId).length === orders - seeded;
}

/**
 * Waits until a sale's payments have settled (settledNow; polls the state, there is no one event).
 */
export async function waitSettled(stack: Stack, saleId: string, timeoutMs = 60_000): Promise<void> {
  const { default: pg } = await import('pg');
  const db = new pg.Client({ connectionString: stack.databaseUrl });
  await db.connect();
  try {
    const end = Date.now() + timeoutMs;
    while (!(await settledNow(stack, db, saleId))) {
      if (Date.now() > end) throw new Error(`sale ${saleId}: payments not settled in ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    await db.end();
  }
}
