import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

export type Uws = typeof import('uWebSockets.js');

export class NativeUwsError extends Error {
  override name = 'NativeUwsError';
}

/**
 * Loads the native uWebSockets.js binary and nothing else. The package quietly falls back to a slow
 * pure-JS server when its binary does not load; a flash-sale gateway on that would fall over at the
 * first stampede, so we refuse to start instead, saying why.
 */
export function loadNativeUws(env: NodeJS.ProcessEnv = process.env, abi = process.versions.modules): Uws {
  if (/^(1|true)$/i.test(env.UWS_USE_FALLBACK ?? '')) {
    throw new NativeUwsError('UWS_USE_FALLBACK is set: the gateway runs only on the native uWebSockets.js build; unset UWS_USE_FALLBACK');
  }
  const require = createRequire(import.meta.url);
  const pkgDir = dirname(require.resolve('uWebSockets.js/package.json'));
  const binary = join(pkgDir, 'binaries', `uws_${process.platform}_${process.arch}_${abi}.node`);
  try {
    return require(binary) as Uws;
  } catch (err) {
    throw new NativeUwsError(
      `the native uWebSockets.js binary did not load (${binary}: ${(err as Error).message.split('\n')[0]}). ` +
        'Use Node 20 (ABI 115) with the package alias in package.json; the pure-JS fallback is refused.',
    );
  }
}
