import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { z } from 'zod';

/**
 * Flags of the stampede runner, validated once with zod so a typo stops the run with the flag's name
 * instead of a NaN somewhere in the middle of ten thousand sockets.
 */
const share = z.coerce.number().min(0).max(1);
const count = z.coerce.number().int().positive();
/**
 * `--url A,B,C`: the gateways buyers are spread over (round-robin by buyer number); the first one that
 * answers also serves the operator calls (create the sale, read the audit). Given as one string or a list.
 */
const gatewayUrls = z.union([z.string(), z.array(z.string())])
  .transform((v) => (Array.isArray(v) ? v : v.split(',')).map((u) => u.trim().replace(/\/+$/, '')).filter((u) => u !== ''))
  .pipe(z.array(z.string().url()).min(1, 'at least one gateway URL'));

export const crowdOptions = z.object({
  scenario: z.enum(['stampede', 'soak', 'reconnect-storm']).default('stampede'),
  url: gatewayUrls.default(['http://127.0.0.1:9001']),
  standIn: z.string().url().default('http://127.0.0.1:12111'),
  adminToken: z.string().min(1).default(process.env.ADMIN_TOKEN ?? 'dev-admin-token'),
  secret: z.string().min(1).default(process.env.BUYER_JWT_SECRET ?? 'dev-buyer-secret'),
  buyers: count.default(1000),
  stock: count.default(200),
  pools: count.default(4),
  rate: count.default(500),
  maxHolds: count.default(1000),
  holdSeconds: count.default(5),
  decline: share.default(0.15),
  abandon: share.default(0.1),
  leave: share.default(0.05),
  /** The sale's joinChallengeBits: each buyer solves a proof-of-work of this many bits before joining. */
  challengeBits: z.coerce.number().int().min(0).max(24).default(0),
  /**
   * A pre-queue of this many seconds: the sale starts that long after the first arrival, so buyers
   * arriving before it are drawn (verifiable pre-queue) and each buyer's place is checked at the end.
   */
  prequeueSeconds: z.coerce.number().int().min(0).max(600).default(0),
  /** The sale's lotteryWindowSeconds: arrivals this long after the start join the same draw. */
  lotterySeconds: z.coerce.number().int().min(0).max(3600).default(0),
  /** stampede and reconnect-storm: every buyer joins within this many ms (a crowd at 18:00:00). */
  rampMs: z.coerce.number().int().min(0).default(1000),
  /** soak: joins are spread evenly over this many seconds. */
  duration: count.default(120),
  /** reconnect-storm: seconds after the last join before every socket is dropped. */
  stormAfter: z.coerce.number().min(0).default(2),
  timeout: count.default(180),
  threads: count.max(64).default(Math.max(1, Math.min(4, cpus().length))),
  /** Loopback source addresses 127.0.0.1 .. 127.0.0.N: ~28k ephemeral ports each towards one server port. */
  sources: count.max(250).default(4),
  json: z.boolean().default(false),
  progress: z.boolean().default(true),
});

export type CrowdOptions = z.infer<typeof crowdOptions>;

const FLAGS = {
  scenario: 'scenario', url: 'url', 'stand-in': 'standIn', 'admin-token': 'adminToken', secret: 'secret', buyers: 'buyers', stock: 'stock',
  pools: 'pools', rate: 'rate', 'max-holds': 'maxHolds', 'hold-seconds': 'holdSeconds', decline: 'decline', abandon: 'abandon', leave: 'leave',
  'challenge-bits': 'challengeBits', 'prequeue-seconds': 'prequeueSeconds', 'lottery-seconds': 'lotterySeconds',
  'ramp-ms': 'rampMs', duration: 'duration', 'storm-after': 'stormAfter', timeout: 'timeout', threads: 'threads', sources: 'sources',
} as const;

/** `--help`: every flag with its default, from the one schema. */
export function crowdUsage(): string {
  const defaults = crowdOptions.parse({}) as Record<string, unknown>;
  // Secrets may come from the environment: name where they come from, never print them.
  const secretFrom: Record<string, string> = { adminToken: 'ADMIN_TOKEN or the development default', secret: 'BUYER_JWT_SECRET or the development default' };
  const shown = (v: unknown) => (Array.isArray(v) ? `${v.join(',')} (a comma list: buyers spread round-robin)` : JSON.stringify(v));
  const lines = Object.entries(FLAGS).map(([flag, key]) => `  --${flag.padEnd(13)} ${secretFrom[key] ?? shown(defaults[key])}`);
  return ['usage: npm run stampede -- [flags]', ...lines, '  --json          one JSON summary instead of the table', '  --no-progress   no progress bar'].join('\n');
}

/** Parses argv (`--buyers 10000 --json`), naming the flag that is wrong. */
export function parseCrowdArgs(argv: string[]): CrowdOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      ...Object.fromEntries(Object.keys(FLAGS).map((f) => [f, { type: 'string' as const }])),
      json: { type: 'boolean' },
      'no-progress': { type: 'boolean' },
    },
    strict: true,
  });
  const given = values as Record<string, string | boolean | undefined>;
  const raw: Record<string, unknown> = {};
  for (const [flag, key] of Object.entries(FLAGS)) if (given[flag] !== undefined) raw[key] = given[flag];
  raw.json = values.json === true;
  raw.progress = values['no-progress'] !== true;
  const parsed = crowdOptions.safeParse(raw);
  if (!parsed.success) {
    const back = Object.fromEntries(Object.entries(FLAGS).map(([f, k]) => [k, f]));
    throw new Error(`invalid flags: ${parsed.error.issues.map((i) => `--${back[String(i.path[0])] ?? String(i.path[0])}: ${i.message}`).join('; ')}`);
  }
  if (parsed.data.abandon + parsed.data.leave + parsed.data.decline > 1) throw new Error('invalid flags: --abandon + --leave + --decline must be at most 1');
  return parsed.data;
}

/** The loopback addresses sockets are spread over (the whole of 127/8 is the loopback on Linux). */
export function sourceAddresses(n: number): string[] {
  return Array.from({ length: n }, (_, i) => `127.0.0.${i + 1}`);
}
