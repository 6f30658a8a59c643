import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Stripe from 'stripe';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startStandIn, type StandIn } from './server.js';

// Webhooks the stand-in sends, checked with the real SDK's verifier, and the SDK's own retries
// riding through a dropped answer.
const SECRET = 'whsec_stand_in_test';
let rolls: number[] = [];
let standIn: StandIn;
let receiver: Server;
let received: { event: Stripe.Event; signature: string }[] = [];
let refuseNext = 0;
const verifier = new Stripe('sk_test_verifier');

beforeAll(async () => {
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const signature = String(req.headers['stripe-signature']);
      if (refuseNext > 0) {
        refuseNext--;
        return void res.writeHead(503).end();
      }
      try {
        received.push({ event: verifier.webhooks.constructEvent(body, signature, SECRET), signature });
        res.writeHead(200).end();
      } catch {
        res.writeHead(400).end();
      }
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  standIn = await startStandIn({ port: 0, random: () => rolls.shift() ?? 0.999999 });
});
afterAll(async () => {
  await standIn.close();
  receiver.close();
});
beforeEach(async () => {
  rolls = [];
  received = [];
  refuseNext = 0;
  await fetch(`${standIn.url}/_stand-in/reset`, { method: 'POST' });
  const res = await fetch(`${standIn.url}/_stand-in/webhooks`, {
    method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ url: `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`, secret: SECRET }),
  });
  expect(res.status).toBe(200);
});

const sdk = (maxNetworkRetries = 0) => new Stripe('sk_test_hooks', { host: '127.0.0.1', port: standIn.port, protocol: 'http', maxNetworkRetries });
const pay = (stripe: Stripe, pm: string, capture: 'manual' | 'automatic', key: string) => stripe.paymentIntents.create(
  { amount: 700, currency: 'eur', payment_method: pm, confirm: true, capture_method: capture, automatic_payment_methods: { enabled: true, allow_redirects: 'never' }, metadata: { idempotencyKey: key } },
  { idempotencyKey: key },
);
const types = () => received.map((r) => `${r.event.type}:${(r.event.data.object as Stripe.PaymentIntent).status}`);

describe('stand-in webhooks', () => {
  it('signs each payment step like Stripe: authorised, captured, declined, canceled (verified by the SDK)', async () => {
    const stripe = sdk();
    const held = await pay(stripe, 'pm_card_visa', 'manual', 'wh-1');
    await stripe.paymentIntents.capture(held.id);
    const other = await pay(stripe, 'pm_card_visa', 'manual', 'wh-2');
    await stripe.paymentIntents.cancel(other.id);
    await pay(stripe, 'pm_card_chargeDeclined', 'manual', 'wh-3').catch(() => {});
    await standIn.webhooks.idle();
    expect(types()).toEqual([
      'payment_intent.amount_capturable_updated:requires_capture', 'payment_intent.succeeded:succeeded',
      'payment_intent.amount_capturable_updated:requires_capture', 'payment_intent.canceled:canceled',
      'payment_intent.payment_failed:requires_payment_method',
    ]);
    expect(received[0]!.signature).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/);
    expect((received[4]!.event.data.object as Stripe.PaymentIntent).last_payment_error).toMatchObject({ decline_code: 'generic_decline' });
    // A replayed request is not a new event.
    await pay(stripe, 'pm_card_visa', 'manual', 'wh-1');
    await standIn.webhooks.idle();
    expect(received).toHaveLength(5);
  });

  it('redelivers an event the endpoint refused, with the same event id', async () => {
    refuseNext = 2;
    const before = standIn.webhooks.status();
    await pay(sdk(), 'pm_card_visa', 'automatic', 'wh-retry');
    await standIn.webhooks.idle();
    expect(types()).toEqual(['payment_intent.succeeded:succeeded']);
    expect(standIn.webhooks.status()).toMatchObject({ delivered: before.delivered + 1, failed: before.failed });
  });

  it('refuses a bad webhook configuration and stops sending once deleted', async () => {
    for (const body of [{ url: 'not a url', secret: SECRET }, { url: 'http://127.0.0.1:1/x', secret: 'short' }, { url: 'http://127.0.0.1:1/x', secret: SECRET, extra: 1 }]) {
      const res = await fetch(`${standIn.url}/_stand-in/webhooks`, { method: 'POST', body: JSON.stringify(body) });
      expect(res.status).toBe(400);
    }
    expect((await fetch(`${standIn.url}/_stand-in/webhooks`, { method: 'DELETE' })).status).toBe(200);
    await pay(sdk(), 'pm_card_visa', 'automatic', 'wh-off');
    await standIn.webhooks.idle();
    expect(received).toEqual([]);
  });
});

describe("the SDK's own retries", () => {
  it('a dropped answer after the charge: the SDK retries with its key, gets the replay, one charge', async () => {
    await fetch(`${standIn.url}/_stand-in/faults`, { method: 'POST', body: JSON.stringify({ dropAfterChargeRate: 0.5 }) });
    rolls = [0.1, 0.9]; // the first answer is dropped, the retry's is not
    const stripe = sdk(2);
    let requests = 0;
    stripe.on('request', () => requests++);
    const pi = await pay(stripe, 'pm_card_visa', 'automatic', 'sdk-drop');
    expect(requests).toBe(2);
    expect(pi.lastResponse.headers['idempotent-replayed']).toBe('true');
    expect(standIn.charges()).toMatchObject([{ paymentIntent: pi.id, idempotencyKey: 'sdk-drop' }]);
  }, 15_000);
});
