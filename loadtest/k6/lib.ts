/**
 * What the k6 scenarios share, written only against the contract (shared/CONTRACT.md): buyer JWTs
 * minted here from BUYER_JWT_SECRET (HS256, sub, exp), the operator calls, one buyer's session on
 * the WebSocket, and the metrics the thresholds read.
 */
import { check, sleep } from 'k6';
import http from 'k6/http';
import { hmac, sha256 } from 'k6/crypto';
import encoding from 'k6/encoding';
import { Counter, Rate, Trend } from 'k6/metrics';
import { clearTimeout, setTimeout } from 'k6/timers';
import { WebSocket } from 'k6/websockets';

export const BASE_URL = __ENV.BASE_URL || 'http://127.0.0.1:9001';
export const WS_URL = BASE_URL.replace(/^http/, 'ws');
const ADMIN_TOKEN = __ENV.ADMIN_TOKEN || 'dev-admin-token';
const BUYER_JWT_SECRET = __ENV.BUYER_JWT_SECRET || 'dev-buyer-secret';

export const num = (name: string, dflt: number): number => (__ENV[name] ? Number(__ENV[name]) : dflt);
/** The sale's joinChallengeBits (proof-of-work per join); 0 = off. */
export const CHALLENGE_BITS = num('CHALLENGE_BITS', 0);

export const joinToQueued = new Trend('join_to_queued', true);
export const admittedToConfirmed = new Trend('admitted_to_confirmed', true);
export const outcomes = new Counter('buyer_outcomes');
export const stuck = new Counter('buyers_stuck');
export const oversold = new Counter('oversold_units');
export const auditProblems = new Counter('audit_problems');
export const auditRead = new Rate('audit_read');
export const stateRestored = new Rate('state_restored_after_drop');

/** HS256 JWT as a shop's backend mints it: base64url(header).base64url(payload).signature. */
export function buyerToken(sub: string, ttlSeconds = 3600): string {
  const now = Math.floor(Date.now() / 1000);
  const b64 = (o: object) => encoding.b64encode(JSON.stringify(o), 'rawurl');
  const input = `${b64({ alg: 'HS256', typ: 'JWT' })}.${b64({ sub, iat: now, exp: now + ttlSeconds })}`;
  return `${input}.${hmac('sha256', BUYER_JWT_SECRET, input, 'base64rawurl')}`;
}

function admin(method: 'GET' | 'POST', path: string, body?: object) {
  return http.request(method, `${BASE_URL}${path}`, body ? JSON.stringify(body) : null, {
    headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
  });
}

/** Creates the sale of this run (setup()); its id goes to every VU. */
export function createSale(label: string, stock: number, admitPerSecond: number, holdSeconds = 10): string {
  const id = `k6-${label}-${Date.now().toString(36)}`;
  const res = admin('POST', '/v1/admin/sales', {
    id, name: `k6 ${label}`, sku: 'K6', price: { amount: 5000, currency: 'eur' }, stock, pools: Math.min(4, stock),
    admitPerSecond, maxActiveHolds: Math.max(stock, 1000), holdSeconds, perBuyerLimit: 1, joinChallengeBits: CHALLENGE_BITS,
  });
  if (res.status !== 201) throw new Error(`could not create the sale: ${res.status} ${String(res.body)}`);
  return id;
}

/**
 * The closing check: waits until nothing is paying, then reads the audit. Thresholds on
 * oversold_units and audit_problems (count == 0) fail the run when anything was oversold.
 */
export function checkAudit(saleId: string): void {
  let audit: { ok: boolean; stock: number; sold: number; orders: number; paying: number; problems: string[] } | undefined;
  for (let i = 0; i < 60; i++) {
    const res = admin('GET', `/v1/admin/sales/${saleId}/audit`);
    if (res.status !== 200) continue;
    audit = res.json() as unknown as typeof audit;
    if (audit!.paying === 0) break;
    sleep(0.5);
  }
  auditRead.add(audit !== undefined);
  if (!audit) return;
  oversold.add(Math.max(0, audit.sold - audit.stock, audit.orders - audit.stock));
  auditProblems.add(audit.ok ? 0 : Math.max(1, audit.problems.length));
  console.log(`audit of ${saleId}: ok=${audit.ok} stock=${audit.stock} sold=${audit.sold} orders=${audit.orders} problems=${JSON.stringify(audit.problems)}`);
}

/** Leading zero bits of a hex digest. */
function hexZeroBits(hex: string): number {
  let n = 0;
  for (let i = 0; i < hex.length; i++) {
    const v = parseInt(hex.charAt(i), 16);
    if (v === 0) {
      n += 4;
      continue;
    }
    return n + (v >= 8 ? 0 : v >= 4 ? 1 : v >= 2 ? 2 : 3);
  }
  return n;
}

/** A proof for the gateway's `challenge`: SHA-256(nonce + proof) starts with `bits` zero bits. */
export function solveChallenge(nonce: string, bits: number): string {
  for (let i = 0; ; i++) {
    if (hexZeroBits(sha256(nonce + String(i), 'hex')) >= bits) return String(i);
  }
}

export type Plan = 'pay' | 'decline' | 'abandon' | 'leave';

/** A crowd's mix: most pay, some are declined first, some abandon the hold, some leave. */
export function planFor(n: number): Plan {
  const u = (n * 0.6180339887498949) % 1;
  return u < 0.1 ? 'abandon' : u < 0.15 ? 'leave' : u < 0.3 ? 'decline' : 'pay';
}

type Frame = { type: string; holdId?: string; orderId?: string; retryable?: boolean; state?: string; nonce?: string; bits?: number; code?: string };

export interface SessionOptions {
  saleId: string;
  buyer: string;
  plan: Plan;
  /** Give up (a stuck buyer) after this many ms. */
  timeoutMs: number;
  /** reconnect-storm: epoch ms at which the socket is dropped and opened again within a second. */
  dropAt?: number;
}

/** One buyer from connect to an outcome (order, sold_out, hold_expired, left, ended). */
export function buyerSession(o: SessionOptions): void {
  const url = `${WS_URL}/v1/sales/${o.saleId}/ws?token=${buyerToken(o.buyer)}`;
  let done = false;
  let declined = false;
  let joinSentAt = 0;
  let admittedAt = 0;
  let before = '';
  /** The buyer's state when its socket was dropped ('' if it had none yet: it joins after the reconnect). */
  let stateAtDrop = '';
  let dropped = false;
  let checkedAfterDrop = false;
  let current: WebSocket | undefined;
  /** This socket's proof ('' without a challenge); a join is sent on the sale frame (a challenge comes before it). */
  let proof = '';
  let joinOnSale = false;
  let answered = false;

  let joinHadProof = false;
  const join = (ws: WebSocket): void => {
    joinSentAt = Date.now();
    joinHadProof = proof !== '';
    ws.send(JSON.stringify(proof ? { type: 'join', proof } : { type: 'join' }));
  };

  const open = (): void => {
    const ws = new WebSocket(url);
    current = ws;
    proof = '';
    joinOnSale = false;
    ws.onopen = () => {
      // After a reconnect the gateway sends the buyer's state by itself; a buyer who had none joins.
      if (dropped && stateAtDrop !== '') return;
      joinOnSale = true;
    };
    ws.onmessage = (e) => {
      // A socket being dropped may still deliver a frame before its close: it is not the buyer's
      // state after the reconnect (counting it would skip the reconnect altogether).
      if (ws !== current) return;
      const f = JSON.parse(String(e?.data)) as Frame;
      if (dropped && stateAtDrop !== '' && !checkedAfterDrop && f.type !== 'sale' && f.type !== 'challenge') {
        checkedAfterDrop = true;
        stateRestored.add(stateAtDrop === 'queued' ? ['queued', 'admitted', 'sold_out'].includes(f.type) : f.holdId === stateAtDrop);
      }
      onFrame(ws, f);
    };
    ws.onclose = () => {
      if (dropped && !done && !checkedAfterDrop) setTimeout(() => open(), Math.random() * 1000);
    };
    if (o.dropAt !== undefined) {
      setTimeout(() => {
        if (done || dropped) return;
        dropped = true;
        stateAtDrop = before;
        current = undefined;
        ws.close();
      }, Math.max(0, o.dropAt - Date.now()));
    }
  };

  let stuckTimer: ReturnType<typeof setTimeout> | undefined;
  const finish = (ws: WebSocket, outcome: string) => {
    if (done) return;
    done = true;
    outcomes.add(1, { outcome });
    // Nothing left pending in this VU: its iteration ends now, not at the stuck timer.
    if (stuckTimer !== undefined) clearTimeout(stuckTimer);
    ws.close();
  };

  const onFrame = (ws: WebSocket, f: Frame) => {
    if (f.type === 'challenge') {
      proof = solveChallenge(String(f.nonce), Number(f.bits));
      check(proof, { 'challenge solved': (p) => p !== '' });
      // A challenge after a refused join (the bits were raised after this socket opened): join now.
      if (!joinOnSale && !answered && !(dropped && stateAtDrop !== '')) join(ws);
      return;
    }
    if (f.type === 'sale' && joinOnSale) {
      joinOnSale = false;
      if (f.state !== 'ended') join(ws);
    }
    // A sale frame published for a state change may overtake the connect's challenge: a join sent on it
    // carries no proof and is refused, and the challenge (always before that refusal) joins again with one.
    // Only a refused proof is a failure.
    if (f.type === 'error') check(f, { 'join not refused for its proof': (x) => x.code !== 'challenge_failed' || !joinHadProof });
    if ((f.type === 'queued' || f.type === 'admitted' || f.type === 'sold_out') && joinSentAt > 0) {
      if (!answered) check(f, { 'join answered': () => true });
      answered = true;
      joinToQueued.add(Date.now() - joinSentAt);
      joinSentAt = 0;
    }
    if (f.type === 'queued') before = 'queued';
    if (f.type === 'admitted' && f.holdId) {
      before = f.holdId;
      if (admittedAt === 0) admittedAt = Date.now();
      if (o.plan === 'abandon') return;
      if (o.plan === 'leave') return ws.send(JSON.stringify({ type: 'leave' }));
      const pm = o.plan === 'decline' && !declined ? 'pm_card_chargeDeclined' : 'pm_card_visa';
      return ws.send(JSON.stringify({ type: 'pay', holdId: f.holdId, paymentMethod: pm }));
    }
    if (f.type === 'payment_failed' && f.retryable) {
      declined = true;
      return ws.send(JSON.stringify({ type: 'pay', holdId: f.holdId, paymentMethod: 'pm_card_visa' }));
    }
    if (f.type === 'order_confirmed') {
      if (admittedAt > 0) admittedToConfirmed.add(Date.now() - admittedAt);
      return finish(ws, 'confirmed');
    }
    if (f.type === 'sold_out' || f.type === 'hold_expired' || f.type === 'left') return finish(ws, f.type);
    if (f.type === 'sale' && f.state === 'ended') return finish(ws, 'ended');
  };

  open();
  stuckTimer = setTimeout(() => {
    if (done) return;
    done = true;
    stuck.add(1);
    current?.close();
  }, o.timeoutMs);
}

/** Thresholds every scenario shares: pass/fail is decided here, not by reading the output. */
export function thresholds(p99JoinMs: number): Record<string, string[]> {
  return {
    oversold_units: ['count==0'],
    audit_problems: ['count==0'],
    audit_read: ['rate==1'],
    buyers_stuck: ['count==0'],
    join_to_queued: [`p(99)<${p99JoinMs}`],
  };
}
