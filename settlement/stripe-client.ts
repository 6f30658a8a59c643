import Stripe from 'stripe';

/**
 * The stripe SDK, pointed at `apiUrl` when given (the local stand-in), else at the real API. The SDK's
 * own network retries are off: BullMQ retries the job with the same idempotency key and backoff.
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
