import Stripe from 'stripe';
import type { Logger } from 'pino';
import { z } from 'zod';
import { stripeId } from './ids.js';
import type { IntentEventType, PaymentIntent } from './intent-model.js';

export const webhookConfigSchema = z.object({ url: z.string().url(), secret: z.string().min(8) }).strict();
export type WebhookConfig = z.infer<typeof webhookConfigSchema>;

export type { IntentEventType } from './payment-intents.js';

const TRIES = 5;

/**
 * Sends Stripe-shaped events to one endpoint, signed like Stripe does (`Stripe-Signature: t=…,v1=…`,
 * made with the SDK's own signer), delivered at least once: non-2xx answers and network errors are
 * retried with backoff, as Stripe retries.
 */
export class WebhookSender {
  private config: WebhookConfig | null = null;
  private readonly signer = new Stripe('sk_test_stand_in_signer');
  private readonly inFlight = new Set<Promise<void>>();
  private delivered = 0;
  private failed = 0;

  constructor(private readonly log: Logger, private readonly signal: AbortSignal) {}

  configure(c: WebhookConfig | null): void {
    this.config = c;
  }

  status(): { url: string | null; delivered: number; failed: number; inFlight: number } {
    return { url: this.config?.url ?? null, delivered: this.delivered, failed: this.failed, inFlight: this.inFlight.size };
  }

  emit(type: IntentEventType, pi: PaymentIntent): void {
    const c = this.config;
    if (!c) return;
    const event = {
      id: stripeId('evt'), object: 'event', api_version: null, created: Math.floor(Date.now() / 1000),
      livemode: false, pending_webhooks: 1, request: { id: null, idempotency_key: null }, type,
      data: { object: structuredClone(pi) },
    };
    const p = this.deliver(c, JSON.stringify(event)).finally(() => this.inFlight.delete(p));
    this.inFlight.add(p);
  }

  /** Resolves once every event emitted so far was delivered or given up. */
  async idle(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  private async deliver(c: WebhookConfig, payload: string): Promise<void> {
    for (let attempt = 1; attempt <= TRIES && !this.signal.aborted; attempt++) {
      try {
        const header = this.signer.webhooks.generateTestHeaderString({ payload, secret: c.secret });
        const res = await fetch(c.url, { method: 'POST', body: payload, headers: { 'content-type': 'application/json', 'stripe-signature': header }, signal: this.signal });
        await res.arrayBuffer();
        if (res.ok) {
          this.delivered++;
          return;
        }
        this.log.debug({ status: res.status, attempt }, 'webhook refused; will retry');
      } catch (err) {
        if (this.signal.aborted) return;
        this.log.debug({ err: (err as Error).message, attempt }, 'webhook delivery failed; will retry');
      }
      await new Promise((r) => setTimeout(r, 100 * 2 ** attempt * (0.5 + Math.random() / 2)));
    }
    this.failed++;
  }
}
