/**
 * The import rules of docs/architecture.md, checked by tests/architecture/boundaries.test.ts in
 * `npm test` and drawn by `npm run graph`.
 *
 * Layers, upper to lower (an upper may import a lower, never the reverse):
 *   bin (composition roots) > gateway > admission > settlement > inventory > shared
 * settlement/stripe-stand-in is a process of its own (a stand-in for Stripe): it imports shared/ only.
 *
 * Not checked: tests (`*.test.ts`, `tests/`), the test-support files (`*-test-support.ts`: fixtures that,
 * like a process's main, wire the layers together) and loadtest/. They may import anything, and are left
 * out of the graph (options.exclude), so a fixture's wiring does not show as an upward arrow.
 */

/** Settlement files that modules above it may import: its functions, not its queues' or tables' insides. */
const SETTLEMENT_PUBLIC = '^settlement/(client|ledger|buyer-outcomes|payment-job|payments|webhook)[.]ts$';
const SETTLEMENT_CORE = '^settlement/(?!stripe-stand-in/)';
const STAND_IN = '^settlement/stripe-stand-in/';

module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'A cycle makes two modules one: neither can be read, tested or changed alone.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'nothing-imports-bin',
      severity: 'error',
      comment: 'bin/ holds the composition roots (processes, tools): the top of the graph.',
      from: { pathNot: '^bin/' },
      to: { path: '^bin/' },
    },
    {
      name: 'admission-below-gateway',
      severity: 'error',
      comment: 'admission must not know the gateway (sockets, HTTP, frames on the wire).',
      from: { path: '^admission/' },
      to: { path: '^gateway/' },
    },
    {
      name: 'settlement-below-admission',
      severity: 'error',
      comment: 'settlement reaches the buyer through its BuyerOutcomes port, which admission implements; it never imports admission or gateway.',
      from: { path: SETTLEMENT_CORE },
      to: { path: '^(gateway|admission)/' },
    },
    {
      name: 'inventory-below-settlement',
      severity: 'error',
      comment: 'inventory (pools and holds) knows nothing of the modules that use it.',
      from: { path: '^inventory/' },
      to: { path: '^(gateway|admission|settlement)/' },
    },
    {
      name: 'shared-is-the-floor',
      severity: 'error',
      comment: 'shared/ is imported by every module and imports none of them.',
      from: { path: '^shared/' },
      to: { path: '^(gateway|admission|settlement|inventory|grafana)/' },
    },
    {
      name: 'stand-in-imports-only-shared',
      severity: 'error',
      comment: 'The Stripe stand-in is a separate process: shared/ and its own folder only.',
      from: { path: STAND_IN },
      to: { path: '^(gateway|admission|inventory|grafana)/|' + SETTLEMENT_CORE },
    },
    {
      name: 'only-bin-starts-the-stand-in',
      severity: 'error',
      comment: 'Product code talks to the stand-in as to Stripe, over HTTP; only bin/start.ts (and tests) start it.',
      from: { pathNot: '^bin/|' + STAND_IN },
      to: { path: STAND_IN },
    },
    {
      name: 'settlement-public-functions-only',
      severity: 'error',
      comment: 'Above settlement, only its public files: the client (queues), the ledger reads and fence, the BuyerOutcomes port, payment jobs and payments, webhook verification. Never its stores (SQL on its tables) or workers.',
      from: { path: '^(gateway|admission)/' },
      to: { path: SETTLEMENT_CORE, pathNot: SETTLEMENT_PUBLIC },
    },
    {
      name: 'gateway-never-imports-bullmq',
      severity: 'error',
      comment: 'Queues are settlement\'s: the gateway calls settlement/client.ts functions.',
      from: { path: '^gateway/' },
      to: { path: '(^|/)node_modules/bullmq/' },
    },
    {
      name: 'no-pg-in-inventory-or-admission-outside-its-store',
      severity: 'error',
      comment: 'inventory is Redis only; in admission only its own table store (sale-store.ts, sales and restocks) and the healer, which holds a transaction, touch pg.',
      from: { path: '^inventory/|^admission/(?!sale-store[.]ts$|sale-healer[.]ts$)' },
      to: { path: '(^|/)node_modules/pg/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    // node_modules may be a symlink (worktrees): name packages as node_modules/<name>, not by the link's target.
    preserveSymlinks: true,
    exclude: { path: '[.]test[.]ts$|-test-support[.]ts$|^tests/|^loadtest/' },
    // Type-only imports are couplings too: an `import type` upward is still an upward arrow.
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'require', 'node', 'default', 'types'], extensions: ['.ts', '.js', '.mjs', '.cjs', '.d.ts'] },
    reporterOptions: {
      text: { highlightFocused: false },
    },
  },
};
