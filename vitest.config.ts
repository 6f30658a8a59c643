import { defineConfig } from 'vitest/config';

/**
 * Two projects over one pool of two workers. "redis" runs every test against a single Redis, as
 * production's smallest deployment does. "cluster" runs the tests whose behaviour a Redis Cluster
 * changes against a 3-master Cluster (tests/helpers/global-setup.ts says where it comes from): every
 * script must keep its keys in one slot (CROSSSLOT otherwise), pub/sub spreads over nodes, and BullMQ
 * and MULTI run on a Cluster client. Tests tell the two apart with `inject('redisMode')`.
 *
 * The cluster list is a choice, not "everything twice": the rest (pure logic, Postgres-only, the
 * browser, deploy, load-test tooling, files that start a private single Redis of their own) would
 * behave the same and only add minutes on two cores.
 */

/** Lua scripts and the services that call them: each script's keys must share a slot. */
const CLUSTER_SCRIPTS_AND_SERVICES = [
  'admission/**/*.test.ts',
  'inventory/**/*.test.ts',
  // Settlement files that drive Redis (holds settled/released by the saga, reconciliation, the
  // outbox stream; the audit's read of pools is admission/sale-audit.test.ts, above). Not:
  // keyed-plans, payment-retry, statement-batcher, stock-fence (Postgres or pure logic),
  // outbox-redis-loss (its own private single Redis), stripe-stand-in/ (no Redis).
  'settlement/outbox-relay.test.ts',
  'settlement/reconciler.test.ts',
  'settlement/saga.test.ts',
  'settlement/settle-payment.test.ts',
];

/**
 * Gateway files whose Redis use differs on a Cluster: context (the request and BullMQ clients built
 * from a `?cluster=1` URL), health-metrics (/readyz pings the Cluster), admin-actions (operator
 * actions published to the sale's topic over Redis pub/sub, stats read from every pool).
 */
const CLUSTER_GATEWAY = [
  'gateway/context.test.ts',
  'gateway/health-metrics.test.ts',
  'gateway/admin-actions.test.ts',
];

/** The races: the oversell and per-buyer guarantees must hold with pools spread over nodes. */
const CLUSTER_RACES = ['tests/race/*.test.ts'];

/** A buyer's whole path through gateways, admitter, sweeper and settlement, with its faults. */
const CLUSTER_E2E = [
  'tests/e2e/buyer-path.test.ts',
  'tests/e2e/sold-out.test.ts',
  'tests/e2e/payment-faults.test.ts',
  'tests/e2e/settlement-crashes.test.ts',
  'tests/e2e/payment-declined.test.ts',
  'tests/e2e/hold-expiry.test.ts',
];

/**
 * Chaos cases (Redis lost, stale, cut; processes killed or paused). The chaos kit decides which Redis
 * a case breaks (a private one of its own, a private Cluster under redisMode 'cluster'); trim this
 * list, not the kit, if the cluster project gets too slow.
 */
const CLUSTER_CHAOS = ['tests/chaos/*.test.ts'];

export const CLUSTER_TESTS = [...CLUSTER_SCRIPTS_AND_SERVICES, ...CLUSTER_GATEWAY, ...CLUSTER_RACES, ...CLUSTER_E2E, ...CLUSTER_CHAOS];

/** What both projects share (inline projects do not inherit the root's `test` options). */
const common = {
  exclude: ['node_modules/**', 'test-artifacts/**'],
  globalSetup: ['tests/helpers/global-setup.ts'],
  testTimeout: 60_000,
  hookTimeout: 60_000,
  pool: 'forks' as const,
};

export default defineConfig({
  test: {
    // The root's own global setup makes the run's Postgres database once for both projects; each
    // project's (the same file) brings its Redis.
    globalSetup: ['tests/helpers/global-setup.ts'],
    // Suites start real gateways and workers; on 2 cores more than two files at once only adds noise.
    // One pool for both projects: the cap holds for the whole run, not per project.
    maxWorkers: 2,
    projects: [
      { test: { ...common, name: 'redis', include: ['**/*.test.ts'] } },
      { test: { ...common, name: 'cluster', include: CLUSTER_TESTS } },
    ],
  },
});
