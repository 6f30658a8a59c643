import Stripe from 'stripe';

/**
 * The stripe SDK, pointed at `apiUrl` when given (the local stand-in), else at the real API. The SDK's
 * own network retries stay off: the payment job is the one retry layer (payment-retry.ts), and SDK
 * retries under it would multiply its tries (4 × (1 + n) requests per step) with a backoff the job's
 * budget and dead-letter decision cannot see (settlement/retry-layers.test.ts fails if they come back).
 * Telemetry is off: it would add a header of the previous request's latency to every call, CPU spent
 * per payment for Stripe's dashboards, not ours (ours: fs_payment_provider_latency_seconds).
 */
export function createStripe(secretKey: string, apiUrl?: string, timeoutMs = 10_000): Stripe {
  const opts: ConstructorParameters<typeof Stripe>[1] = { maxNetworkRetries: 0, timeout: timeoutMs, telemetry: false };
  if (apiUrl) {
    const u = new URL(apiUrl);
    Object.assign(opts, { host: u.hostname, port: Number(u.port || (u.protocol === 'https:' ? 443 : 80)), protocol: u.protocol.replace(':', '') as 'http' | 'https' });
  }
  return new Stripe(secretKey, opts);
}
