/**
 * A stampede against a running stack (`npm start`), written only against the contract: N buyers
 * connect and join at once, then behave like a crowd — most pay, some are declined and retry, some
 * abandon their hold, some leave. At the end it checks what buyers saw against the audit and the
 * stand-in's charges, and prints one JSON summary.
 *
 *   npm run stampede -- --buyers 2000 --stock 500 --pools 4 --rate 500
 */
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import { mintBuyerToken } from '../shared/buyer-token.js';

const { values: a } = parseArgs({
  options: {
    url: { type: 'string', default: 'http://127.0.0.1:9001' },
    'stand-in': { type: 'string', default: 'http://127.0.0.1:12111' },
    'admin-token': { type: 'string', default: process.env.ADMIN_TOKEN ?? 'dev-admin-token' },
    secret: { type: 'string', default: process.env.BUYER_JWT_SECRET ?? 'dev-buyer-secret' },
    buyers: { type: 'string', default: '1000' },
    stock: { type: 'string', default: '200' },
    pools: { type: 'string', default: '4' },
    rate: { type: 'string', default: '200' },
    'max-holds': { type: 'string', default: '1000' },
    'hold-seconds': { type: 'string', default: '5' },
    decline: { type: 'string', default: '0.15' },
    abandon: { type: 'string', default: '0.1' },
    leave: { type: 'string', default: '0.05' },
    timeout: { type: 'string', default: '120' },
  },
});
const N = Number(a.buyers);
const admin = { authorization: `Bearer ${a['admin-token']}`, 'content-type': 'application/json' };

type Outcome = 'confirmed' | 'sold_out' | 'expired' | 'left' | 'ended' | 'stuck';
interface Buyer { id: string; outcome?: Outcome; confirmations: Set<string>; declines: number; reconnects: number; connectMs: number; joinMs?: number; frames: string[]; closeCode?: number }

const saleId = `stampede-${Date.now().toString(36)}`;
const created = await fetch(`${a.url}/v1/admin/sales`, {
  method: 'POST', headers: admin,
  body: JSON.stringify({
    id: saleId, name: 'Stampede', sku: 'STAMPEDE', price: { amount: 5000, currency: 'eur' }, stock: Number(a.stock), pools: Number(a.pools),
    admitPerSecond: Number(a.rate), maxActiveHolds: Number(a['max-holds']), holdSeconds: Number(a['hold-seconds']), perBuyerLimit: 1,
  }),
});
if (created.status !== 201) throw new Error(`could not create the sale: ${created.status} ${await created.text()}`);

const rand = () => Math.random();
const started = Date.now();
const buyers: Buyer[] = Array.from({ length: N }, (_, i) => ({ id: `sb-${i}-${saleId}`, confirmations: new Set(), declines: 0, reconnects: 0, connectMs: 0, frames: [] }));

/**
 * One buyer's session; a dropped socket (a reset under load, a gateway restart) is reopened with
 * backoff and jitter, as the buyer page does, and the buyer's state comes back with it.
 */
async function run(b: Buyer, token: string): Promise<void> {
  for (let attempt = 0; attempt < 6 && !b.outcome; attempt++) {
    if (attempt > 0) {
      b.reconnects++;
      await new Promise((r) => setTimeout(r, Math.min(8000, 250 * 2 ** attempt) * (0.5 + Math.random())));
    }
    await session(b, token, attempt === 0);
  }
}

const plans = new Map<string, number>();

function session(b: Buyer, token: string, first: boolean): Promise<void> {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const ws = new WebSocket(`${a.url.replace('http', 'ws')}/v1/sales/${saleId}/ws?token=${token}`);
    const plan = plans.get(b.id) ?? rand();
    plans.set(b.id, plan);
    const finish = (o: Outcome) => {
      if (!b.outcome || b.outcome === 'expired') b.outcome = o;
      if (o !== 'confirmed' || b.confirmations.size > 0) {
        ws.close();
        resolve();
      }
    };
    let joinedAt = 0;
    ws.on('open', () => {
      if (first) b.connectMs = Date.now() - t0;
      joinedAt = Date.now();
      ws.send(JSON.stringify({ type: 'join' }));
    });
    ws.on('message', (data) => {
      const f = JSON.parse(String(data));
      b.frames.push(f.type);
      if (f.type === 'queued' && b.joinMs === undefined) b.joinMs = Date.now() - joinedAt;
      if (f.type === 'admitted') {
        if (b.joinMs === undefined) b.joinMs = Date.now() - joinedAt;
        if (plan < Number(a.abandon)) return; // walks away: the hold must expire and go to someone else
        if (plan < Number(a.abandon) + Number(a.leave)) return void ws.send(JSON.stringify({ type: 'leave' }));
        const declineFirst = plan < Number(a.abandon) + Number(a.leave) + Number(a.decline);
        ws.send(JSON.stringify({ type: 'pay', holdId: f.holdId, paymentMethod: declineFirst ? 'pm_card_chargeDeclined' : 'pm_card_visa' }));
      }
      if (f.type === 'payment_failed') {
        b.declines++;
        if (f.retryable) ws.send(JSON.stringify({ type: 'pay', holdId: f.holdId, paymentMethod: 'pm_card_visa' }));
      }
      if (f.type === 'order_confirmed') {
        b.confirmations.add(f.orderId);
        finish('confirmed');
      }
      if (f.type === 'sold_out') finish('sold_out');
      if (f.type === 'hold_expired') finish('expired');
      if (f.type === 'left') finish('left');
      if (f.type === 'sale' && f.state === 'ended') finish('ended');
    });
    ws.on('error', () => {});
    ws.on('close', (code) => {
      b.closeCode = code;
      resolve();
    });
  });
}

const tokens = await Promise.all(buyers.map((b) => mintBuyerToken(a.secret!, b.id)));
let done = 0;
const progress = setInterval(() => process.stderr.write(`\r${done}/${N} buyers finished, ${Math.round((Date.now() - started) / 1000)} s`), 1000);
const all = Promise.all(buyers.map((b, i) => run(b, tokens[i]!).then(() => done++)));
await Promise.race([all, new Promise((r) => setTimeout(r, Number(a.timeout) * 1000))]);
clearInterval(progress);
const seconds = (Date.now() - started) / 1000;
for (const b of buyers) b.outcome ??= 'stuck';

// Settlement may still be writing the last orders: wait until nothing is paying (bounded).
let audit: any;
for (let i = 0; i < 60; i++) {
  audit = await (await fetch(`${a.url}/v1/admin/sales/${saleId}/audit`, { headers: admin })).json();
  if (audit.paying === 0) break;
  await new Promise((r) => setTimeout(r, 500));
}
const charges = ((await (await fetch(`${a['stand-in']}/_stand-in/charges`)).json()) as { charges: { metadata: { saleId?: string } }[] }).charges
  .filter((c) => c.metadata.saleId === saleId);
const count = (o: Outcome) => buyers.filter((b) => b.outcome === o).length;
const confirmations = buyers.reduce((n, b) => n + b.confirmations.size, 0);
const pct = (xs: number[], p: number) => xs.sort((x, y) => x - y)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))] ?? 0;
const joins = buyers.map((b) => b.joinMs).filter((x): x is number => x !== undefined);
const summary = {
  sale: saleId, buyers: N, stock: Number(a.stock), seconds: Math.round(seconds * 10) / 10,
  confirmed: count('confirmed'), soldOut: count('sold_out'), expired: count('expired'), left: count('left'), ended: count('ended'), stuck: count('stuck'),
  declinedAttempts: buyers.reduce((n, b) => n + b.declines, 0),
  reconnects: buyers.reduce((n, b) => n + b.reconnects, 0),
  confirmationsSeen: confirmations, ordersInPostgres: audit.orders, sold: audit.sold, chargesAtStandIn: charges.length,
  buyersWithTwoOrders: buyers.filter((b) => b.confirmations.size > 1).length,
  joinToFirstFrameMs: { p50: pct(joins, 50), p99: pct(joins, 99) },
  connectMs: { p50: pct(buyers.map((b) => b.connectMs), 50), p99: pct(buyers.map((b) => b.connectMs), 99) },
  auditOk: audit.ok, problems: audit.problems,
};
for (const b of buyers.filter((x) => x.outcome === 'stuck').slice(0, 10)) {
  console.error(`stuck: ${b.id} frames=${b.frames.join(',')} close=${b.closeCode ?? 'open'} connectMs=${b.connectMs}`);
}
const ok = summary.auditOk && summary.stuck === 0 && summary.confirmationsSeen === summary.ordersInPostgres && summary.chargesAtStandIn === summary.ordersInPostgres && summary.buyersWithTwoOrders === 0 && summary.sold <= summary.stock;
console.log(JSON.stringify({ ...summary, ok }));
process.exit(ok ? 0 : 1);
