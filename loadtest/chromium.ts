import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

/**
 * The headless Chromium of the page tests and of loadtest/console-watch.ts, driven by playwright-core
 * (which downloads nothing). The browser is, in this order: `CHROMIUM_PATH` when set; Debian's `/usr/bin/chromium` when installed;
 * else the one the npm package `@sparticuz/chromium` (a devDependency, so `npm ci` brings it) unpacks
 * into the temp dir. Only where none of them can start does the run fail, saying so.
 */
export const CHROMIUM = '/usr/bin/chromium';
const ARGS = ['--headless', '--no-sandbox', '--disable-background-networking'];

export interface ChromiumChoice {
  path: string;
  from: 'CHROMIUM_PATH' | 'system' | '@sparticuz/chromium';
}

/** Which Chromium the tests use (see above); `env` and `systemPath` only for tests of the choice itself. */
export async function resolveChromium(env: NodeJS.ProcessEnv = process.env, systemPath = CHROMIUM): Promise<ChromiumChoice> {
  const given = env.CHROMIUM_PATH;
  if (given) {
    if (!existsSync(given)) throw new Error(`CHROMIUM_PATH=${given} does not exist`);
    return { path: given, from: 'CHROMIUM_PATH' };
  }
  if (existsSync(systemPath)) return { path: systemPath, from: 'system' };
  try {
    const { default: packaged } = await import('@sparticuz/chromium');
    return { path: await packaged.executablePath(), from: '@sparticuz/chromium' };
  } catch (err) {
    throw new Error(
      `no Chromium to run the page tests: set CHROMIUM_PATH, install the Debian package (apt-get install -y chromium), or run npm ci (the @sparticuz/chromium devDependency): ${(err as Error).message}`,
      { cause: err },
    );
  }
}

export async function launchChromium(choice?: ChromiumChoice): Promise<Browser> {
  const { path, from } = choice ?? (await resolveChromium());
  try {
    return await chromium.launch({ executablePath: path, args: ARGS });
  } catch (err) {
    throw new Error(`Chromium at ${path} (from ${from}) did not start: ${(err as Error).message}`, { cause: err });
  }
}
