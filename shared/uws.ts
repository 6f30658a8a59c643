import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { HttpResponse } from 'uWebSockets.js';

export type Uws = typeof import('uWebSockets.js');

export class NativeUwsError extends Error {
  override name = 'NativeUwsError';
}

/**
 * Loads the native uWebSockets.js binary and nothing else. The package quietly falls back to a slow
 * pure-JS server when its binary does not load; a flash-sale gateway on that would fall over at the
 * first stampede, so we refuse to start instead, saying why. In shared/ because two processes serve
 * HTTP with it (the gateway and the Stripe stand-in), and the stand-in may import only shared/.
 */
export function loadNativeUws(env: NodeJS.ProcessEnv = process.env, abi = process.versions.modules): Uws {
  if (/^(1|true)$/i.test(env.UWS_USE_FALLBACK ?? '')) {
    throw new NativeUwsError('UWS_USE_FALLBACK is set: this process runs only on the native uWebSockets.js build; unset UWS_USE_FALLBACK');
  }
  const require = createRequire(import.meta.url);
  const pkgDir = dirname(require.resolve('uWebSockets.js/package.json'));
  const binary = join(pkgDir, 'binaries', `uws_${process.platform}_${process.arch}_${abi}.node`);
  try {
    return require(binary) as Uws;
  } catch (err) {
    throw new NativeUwsError(
      `the native uWebSockets.js binary did not load (${binary}: ${(err as Error).message.split('\n')[0]}). `
        + 'Use Node 20 (ABI 115) with the package alias in package.json; the pure-JS fallback is refused.',
    );
  }
}

export class BodyTooLarge extends Error {
  override name = 'BodyTooLarge';
}

/**
 * A request's whole body, copied out of the buffers uWS reuses; rejects with BodyTooLarge past `limit`
 * bytes and keeps nothing more. Call it in the handler's synchronous part: uWS hands the body only to a
 * handler registered then.
 */
export function collectBody(res: HttpResponse, limit: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    res.onData((chunk, isLast) => {
      if (size > limit) return;
      size += chunk.byteLength;
      if (size > limit) return reject(new BodyTooLarge());
      // uWS reuses the chunk's memory once this callback returns: copy it.
      chunks.push(Buffer.from(chunk.slice(0)));
      if (isLast) resolve(Buffer.concat(chunks));
    });
  });
}
