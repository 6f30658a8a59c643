import { z } from 'zod';
import { REDIS_DEFAULTS } from './redis.js';

// Development defaults that must never reach production: with NODE_ENV=production each of these has
// to be given explicitly, or the process exits naming the variable (contract: "Running it").
const DEV_SECRETS = {
  ADMIN_TOKEN: 'dev-admin-token',
  BUYER_JWT_SECRET: 'dev-buyer-secret',
  STRIPE_SECRET_KEY: 'sk_test_local',
  STRIPE_WEBHOOK_SECRET: 'whsec_dev',
} as const;

const port = z.coerce.number().int().min(0).max(65535);

const schema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  PORT: port.default(9001),
  HOST: z.string().default('0.0.0.0'),
  REDIS_URL: z.string().url().default('redis://127.0.0.1:6379'),
  REDIS_PREFIX: z.string().regex(/^[a-zA-Z0-9:_-]*$/).default(''),
  /**
   * A Redis request unanswered this long fails (the buyer is told `unavailable`, a step is retried)
   * instead of waiting on a connection that died silently. Not for blocking or pub/sub clients.
   */
  REDIS_COMMAND_TIMEOUT_MS: z.coerce.number().int().min(100).max(60_000).default(REDIS_DEFAULTS.commandTimeoutMs),
  DATABASE_URL: z.string().url().default('postgres://postgres@127.0.0.1:5432/test'),
  ADMIN_TOKEN: z.string().min(8).optional(),
  BUYER_JWT_SECRET: z.string().min(8).optional(),
  STRIPE_SECRET_KEY: z.string().min(3).optional(),
  STRIPE_API_URL: z.string().url().optional(),
  STRIPE_WEBHOOK_SECRET: z.string().min(8).optional(),
  /** Per provider call; a slower answer counts as a timeout and the job retries with the same key. */
  STRIPE_TIMEOUT_MS: z.coerce.number().int().min(100).max(120_000).default(10_000),
  STAND_IN_PORT: port.default(12111),
  METRICS_PORT: port.optional(),
  /**
   * Payment jobs one settlement worker runs at once. A job spends most of its time waiting for the
   * provider (two calls of a few hundred ms each against the real Stripe), so this, not CPU, caps a
   * worker: 200 in flight at ~0.5 s a payment is ~400 payments/s. Group commit keeps the Postgres
   * connections a worker needs far below it (its pool stays at 40).
   */
  WORKER_CONCURRENCY: z.coerce.number().int().min(1).max(1000).default(200),
  /** How often reconciliation looks for payments that did not finish. */
  RECONCILE_INTERVAL_MS: z.coerce.number().int().min(50).max(600_000).default(2000),
  /** A payment, hold or capture untouched this long is reconciliation's to finish. */
  RECONCILE_AFTER_MS: z.coerce.number().int().min(200).max(3_600_000).default(10_000),
  /** A dead-lettered payment that never reached the provider waits this long for an operator's replay, then its hold is given back. */
  DEAD_LETTER_RELEASE_MS: z.coerce.number().int().min(0).max(86_400_000).default(120_000),
  /** A payment job's lock; a worker killed mid-payment gives its job up to another after this. */
  PAYMENT_LOCK_MS: z.coerce.number().int().min(1000).max(600_000).default(10_000),
  OUTBOX_POLL_MS: z.coerce.number().int().min(10).max(60_000).default(250),
  /** How often every process compares Redis with the ledger (a lost or stale Redis is healed within about this). */
  REDIS_GUARD_MS: z.coerce.number().int().min(100).max(60_000).default(1000),
  TICK_MS: z.coerce.number().int().min(10).max(5000).default(100),
  MAX_FRAME_BYTES: z.coerce.number().int().min(256).max(65536).default(4096),
  MAX_BODY_BYTES: z.coerce.number().int().min(1024).max(1048576).default(65536),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

/** Every variable the zod schema reads (deployment files are checked against this list). */
export const CONFIG_KEYS = Object.keys(schema.shape) as (keyof typeof schema.shape)[];

export type Config = Omit<z.infer<typeof schema>, keyof typeof DEV_SECRETS> & {
  [K in keyof typeof DEV_SECRETS]: string;
};

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/** Parses the environment once at start; throws a ConfigError naming the variable that is wrong. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    throw new ConfigError(`invalid environment: ${lines.join('; ')}`);
  }
  const c = parsed.data;
  const out = { ...c } as { -readonly [K in keyof Config]: Config[K] };
  for (const [name, dev] of Object.entries(DEV_SECRETS) as [keyof typeof DEV_SECRETS, string][]) {
    const given = c[name];
    if (given === undefined || given === '') {
      if (c.NODE_ENV === 'production') {
        throw new ConfigError(`${name} must be set when NODE_ENV=production (the development default is refused)`);
      }
      out[name] = dev;
    } else {
      if (c.NODE_ENV === 'production' && given === dev) {
        throw new ConfigError(`${name} must be set when NODE_ENV=production (the development default is refused)`);
      }
      out[name] = given;
    }
  }
  // Outside production the SDK talks to the local stand-in unless told otherwise.
  if (out.STRIPE_API_URL === undefined && c.NODE_ENV !== 'production') {
    out.STRIPE_API_URL = `http://127.0.0.1:${c.STAND_IN_PORT}`;
  }
  return out;
}
