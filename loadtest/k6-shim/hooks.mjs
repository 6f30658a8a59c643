// Module hooks of the k6 shim: k6's built-in modules ('k6', 'k6/http', ...) resolve to the shim's
// own files under modules/ (TypeScript, loaded by tsx, which is registered before these hooks).
const MODULES = new Map([
  ['k6', 'k6.ts'],
  ['k6/http', 'http.ts'],
  ['k6/crypto', 'crypto.ts'],
  ['k6/encoding', 'encoding.ts'],
  ['k6/metrics', 'metrics.ts'],
  ['k6/timers', 'timers.ts'],
  ['k6/execution', 'execution.ts'],
  ['k6/websockets', 'websockets.ts'],
  ['k6/experimental/websockets', 'websockets.ts'],
]);

export async function resolve(specifier, context, next) {
  const file = MODULES.get(specifier);
  // Passed on to tsx's resolve (registered before), which marks the file as TypeScript for its load.
  if (file) return next(new URL(`./modules/${file}`, import.meta.url).href, context);
  if (specifier.startsWith('k6/')) throw new Error(`the k6 shim has no module ${specifier} (loadtest/k6-shim/hooks.mjs lists the ones it has)`);
  return next(specifier, context);
}
