import { z } from 'zod';
import { REDIS_DEFAULTS } from './redis.js';

/**
 * Development defaults of the secrets, used only with NODE_ENV=development (`npm start` sets it when it
 * is unset). Any other process started without a secret it needs exits naming it (contract: "Running it"):
 * a server that forgot NODE_ENV must not accept `dev-admin-token` or let anyone mint buyer tokens.
 */
const DEV_SECRETS = {
  ADMIN_TOKEN: 'dev-admin-token',
  BUYER_JWT_SECRET: 'dev-buyer-secret',
  STRIPE_SECRET_KEY: 'sk_test_local',
  STRIPE_WEBHOOK_SECRET: 'whsec_dev',
} as const;

export type SecretName = keyof typeof DEV_SECRETS;
export const SECRET_NAMES = Object.keys(DEV_SECRETS) as SecretName[];

/**
 * The secrets each process reads; it is given no others (a worker's config holds no admin token).
 * `start` runs the gateway and the worker as children with its own environment, so it needs theirs.
 */
export const PROCESS_SECRETS = {
  gateway: SECRET_NAMES,
  worker: ['STRIPE_SECRET_KEY'],
  start: SECRET_NAMES,
  none: [],
} as const satisfies Record<string, readonly SecretName[]>;

/** HS256 wants a key at least as long as its hash (RFC 7518 §3.2): 32 bytes. */
const MIN_PRODUCTION_JWT_SECRET_BYTES = 32;

// Digits only: z.coerce.number() reads '' and ' ' as 0, and port 0 is a random port.
const int = (min: number, max: number) =>
  z.string().regex(/^\d+$/, 'must be a whole number').transform(Number).pipe(z.number().int().min(min).max(max));
const port = int(0, 65535);

const schema = z.object({
  /** Unset is not development: the development defaults are opt-in. */
  NODE_ENV: z.enum(['development', 'production', 'test']).optional(),
  PORT: port.default(9001),
  HOST: z.string().default('0.0.0.0'),
  REDIS_URL: z.string().url().default('redis://127.0.0.1:6379'),
  REDIS_PREFIX: z.string().regex(/^[a-zA-Z0-9:_-]*$/).default(''),
  /**
   * A Redis request unanswered this long fails (the buyer is told `unavailable`, a step is retried)
   * instead of waiting on a connection that died silently. Not for blocking or pub/sub clients.
   */
  REDIS_COMMAND_TIMEOUT_MS: int(100, 60_000).default(REDIS_DEFAULTS.commandTimeoutMs),
  DATABASE_URL: z.string().url().default('postgres://postgres@127.0.0.1:5432/test'),
  ADMIN_TOKEN: z.string().min(8).optional(),
  BUYER_JWT_SECRET: z.string().min(8).optional(),
  STRIPE_SECRET_KEY: z.string().min(3).optional(),
  STRIPE_API_URL: z.string().url().optional(),
  STRIPE_WEBHOOK_SECRET: z.string().min(8).optional(),
  /** Per provider call; a slower answer counts as a timeout and the job retries with the same key. */
  STRIPE_TIMEOUT_MS: int(100, 120_000).default(10_000),
  STAND_IN_PORT: port.default(12111),
  /** Where the stand-in's own process (settlement/stripe-stand-in/main.ts) listens. */
  STAND_IN_HOST: z.string().min(1).default('127.0.0.1'),
  METRICS_PORT: port.optional(),
  /**
   * Payment jobs one settlement worker runs at once. A job spends most of its time waiting for the
   * provider (two calls of a few hundred ms each against the real Stripe), so this, not CPU, caps a
   * worker: 200 in flight at ~0.5 s a payment is ~400 payments/s. Group commit keeps the Postgres
   * connections a worker needs far below it (its pool stays at 40).
   */
  WORKER_CONCURRENCY: int(1, 1000).default(200),
  /** How often reconciliation looks for payments that did not finish. */
  RECONCILE_INTERVAL_MS: int(50, 600_000).default(2000),
  /** A payment, hold or capture untouched this long is reconciliation's to finish. */
  RECONCILE_AFTER_MS: int(200, 3_600_000).default(10_000),
  /** A dead-lettered payment that never reached the provider waits this long for an operator's replay, then its hold is given back. */
  DEAD_LETTER_RELEASE_MS: int(0, 86_400_000).default(120_000),
  /** A payment job's lock; a worker killed mid-payment gives its job up to another after this. */
  PAYMENT_LOCK_MS: int(1000, 600_000).default(10_000),
  OUTBOX_POLL_MS: int(10, 60_000).default(250),
  /** How often every process compares Redis with the ledger (a lost or stale Redis is healed within about this). */
  REDIS_GUARD_MS: int(100, 60_000).default(1000),
  TICK_MS: int(10, 5000).default(100),
  /** `0`: this gateway never takes an admitter lease. */
  RUN_ADMITTER: z.enum(['0', '1']).default('1').transform((v) => v === '1'),
  /**
   * Origins (`scheme://host[:port]`, comma list) whose pages may open a buyer WebSocket or call the
   * operator API; a request with an `Origin` header not listed is refused `403 forbidden_origin`. Unset:
   * only the gateway's own origin. A request without `Origin` (apps, k6, curl) is not affected.
   */
  ALLOWED_ORIGINS: z.string()
    .transform((v) => v.split(',').map((o) => o.trim()).filter((o) => o !== ''))
    .pipe(z.array(z.string().regex(/^https?:\/\/[^/\s]+$/, 'each origin is scheme://host[:port], no path')).min(1))
    .optional(),
  /** Open buyer sockets per buyer (`sub`) per gateway; one more is refused `429 too_many_connections`. */
  MAX_SOCKETS_PER_BUYER: int(1, 1000).default(4),
  /** When set, a buyer token's `iss` / `aud` must match (else the upgrade is refused `401`). */
  BUYER_JWT_ISSUER: z.string().min(1).optional(),
  BUYER_JWT_AUDIENCE: z.string().min(1).optional(),
  /** When set, `/metrics` (the gateway's and a worker's on METRICS_PORT) asks for `Authorization: Bearer <METRICS_TOKEN>`. */
  METRICS_TOKEN: z.string().min(16).optional(),
  /**
   * Wrong or missing admin tokens one remote address may send in a minute; after that every operator
   * request from it is refused `429 too_many_auth_failures` (even with the right token) until the minute
   * that began with its first failure is over. `0`: off. Per gateway process (docs/security.md).
   */
  ADMIN_AUTH_FAILURES_PER_MINUTE: int(0, 1_000_000).default(20),
  /**
   * WebSocket upgrades one remote address may start, a token bucket: this many a second sustained, up
   * to UPGRADE_BURST_PER_ADDRESS at once; more are refused `429 rate_limited`. Generous because buyers
   * behind a carrier NAT share an address. `0`: off (behind a reverse proxy every buyer has the
   * proxy's address: limit there instead). Per gateway process.
   */
  UPGRADES_PER_ADDRESS_PER_SECOND: int(0, 1_000_000).default(50),
  UPGRADE_BURST_PER_ADDRESS: int(1, 1_000_000).default(500),
  MAX_FRAME_BYTES: int(256, 65536).default(4096),
  MAX_BODY_BYTES: int(1024, 1048576).default(65536),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

/** Every variable the zod schema reads (deployment files are checked against this list). */
export const CONFIG_KEYS = Object.keys(schema.shape) as (keyof typeof schema.shape)[];

type Parsed = z.infer<typeof schema>;
/** The configuration of a process that needs the secrets `S` (by default all four: the gateway's). */
export type Config<S extends SecretName = SecretName> = Omit<Parsed, SecretName> & { [K in S]: string };

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/**
 * An empty (or blank) variable is unset: `PORT=` in a shell or `PORT: ""` in a compose file means "the
 * default", as an absent one does, never port 0 or an empty secret.
 */
function givenOnly(env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined && v.trim() !== '') out[k] = v;
  return out;
}

/**
 * Parses the environment once at start. Every problem is found before any is reported: the one
 * ConfigError names each wrong or missing variable, so a deployment is fixed in one go.
 */
export function loadConfig<S extends SecretName = SecretName>(
  env: NodeJS.ProcessEnv = process.env,
  secrets: readonly S[] = SECRET_NAMES as S[],
): Config<S> {
  const given = givenOnly(env);
  const parsed = schema.safeParse(given);
  const problems = parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
  // Read from the raw environment too, so a wrong PORT and a missing secret are reported together.
  const nodeEnv = parsed.success ? parsed.data.NODE_ENV : given.NODE_ENV;
  const dev = nodeEnv === 'development';
  const missing = dev ? [] : secrets.filter((name) => given[name] === undefined);
  if (missing.length > 0) {
    problems.push(`${missing.join(', ')} must be set (NODE_ENV is ${nodeEnv ?? 'unset'}; the development defaults apply only with NODE_ENV=development, as under npm start)`);
  }
  if (nodeEnv === 'production') {
    for (const name of secrets) {
      if (given[name] === DEV_SECRETS[name]) problems.push(`${name} is its development default, refused when NODE_ENV=production`);
    }
    const jwt = given.BUYER_JWT_SECRET;
    if ((secrets as readonly SecretName[]).includes('BUYER_JWT_SECRET') && jwt !== undefined && Buffer.byteLength(jwt) < MIN_PRODUCTION_JWT_SECRET_BYTES) {
      problems.push(`BUYER_JWT_SECRET has ${Buffer.byteLength(jwt)} bytes; NODE_ENV=production wants at least ${MIN_PRODUCTION_JWT_SECRET_BYTES}`);
    }
  }
  if (!parsed.success || problems.length > 0) throw new ConfigError(`invalid environment: ${problems.join('; ')}`);
  const c = parsed.data;
  const out: Record<string, unknown> = { ...c };
  // A process holds only the secrets it uses.
  for (const name of SECRET_NAMES) delete out[name];
  for (const name of secrets) out[name] = c[name] ?? DEV_SECRETS[name];
  // In development the SDK talks to the local stand-in unless told otherwise; anywhere else an unset
  // STRIPE_API_URL is the real Stripe API.
  if (out.STRIPE_API_URL === undefined && dev) out.STRIPE_API_URL = `http://127.0.0.1:${c.STAND_IN_PORT}`;
  return out as Config<S>;
}

/** The variables the Stripe stand-in's own process reads, from the same schema (it needs no secret). */
export const STAND_IN_KEYS = ['STAND_IN_PORT', 'STAND_IN_HOST', 'LOG_LEVEL'] as const;
const standInSchema = schema.pick({ STAND_IN_PORT: true, STAND_IN_HOST: true, LOG_LEVEL: true });

export function loadStandInConfig(env: NodeJS.ProcessEnv = process.env): z.infer<typeof standInSchema> {
  const parsed = standInSchema.safeParse(givenOnly(env));
  if (!parsed.success) throw new ConfigError(`invalid environment: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  return parsed.data;
}
