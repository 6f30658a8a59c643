import { mkdirSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, expect } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { launchChromium } from '../../loadtest/chromium.js';

/** Real-browser helpers for the page tests; which Chromium and how it starts: loadtest/chromium.ts. */
export { CHROMIUM, launchChromium, resolveChromium, type ChromiumChoice } from '../../loadtest/chromium.js';
export const PHONE = { width: 390, height: 844 };
export const DESKTOP = { width: 1280, height: 800 };
const ARTIFACTS = new URL('../../test-artifacts/', import.meta.url);

/** A page whose script errors and failed loads are collected, so a test can insist there were none. */
export interface WatchedPage {
  page: Page;
  context: BrowserContext;
  errors: string[];
}

export async function openPage(browser: Browser, viewport = DESKTOP): Promise<WatchedPage> {
  const context = await browser.newContext({ viewport });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  // Refusals of the operator API (400, 401...) are answers the pages show, not errors; the browser
  // still logs them as failed loads, so those are left out and every other failed load is kept.
  page.on('console', (m) => { if (m.type() === 'error' && !m.text().startsWith('Failed to load resource')) errors.push(`console: ${m.text()}`); });
  page.on('response', (r) => { if (r.status() >= 400 && !new URL(r.url()).pathname.startsWith('/v1/')) errors.push(`${r.status()} ${r.url()}`); });
  return { page, context, errors };
}

/**
 * One Chromium per test file; `open` gives a fresh watched page, and after each test every page it
 * opened is closed and must have run without a script error or a failed load.
 */
export function usePages(): { open: (viewport?: { width: number; height: number }) => Promise<Page> } {
  let browser: Browser | undefined;
  const pages: WatchedPage[] = [];
  beforeAll(async () => { browser = await launchChromium(); });
  afterEach(async () => {
    for (const p of pages.splice(0)) {
      await p.context.close();
      expect(p.errors).toEqual([]);
    }
  });
  afterAll(async () => { await browser?.close(); });
  return {
    async open(viewport = DESKTOP) {
      const p = await openPage(browser!, viewport);
      pages.push(p);
      return p.page;
    },
  };
}

/** Saves a full-page screenshot under test-artifacts/ (git-ignored) and returns its path. */
export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(ARTIFACTS, { recursive: true });
  const path = new URL(`${name}.png`, ARTIFACTS).pathname;
  await page.screenshot({ path, fullPage: true });
  return path;
}

/**
 * The stack of the page tests runs as `npm start` does, with NODE_ENV=development: the buyer page's
 * made-up-buyer form, test cards and its token route (`/dev/buyer-token`) exist only there. A shop's
 * `?token=` link, the production way in, has its own test (buyer-page.test.ts).
 */
export const DEMO_STACK = { env: { NODE_ENV: 'development' } };

/** Signs in on the buyer page of `saleId` as a made-up buyer (the development token route). */
export async function buyerPage(page: Page, base: string, saleId: string, buyer: string): Promise<void> {
  await page.goto(`${base}/s/${saleId}`);
  await page.getByLabel('Buyer name').fill(buyer);
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.locator('#conn[data-conn="open"]').waitFor();
}

export const headline = (page: Page, text: string | RegExp) => page.locator('#headline', { hasText: text }).waitFor();

export async function consolePage(page: Page, base: string, token: string): Promise<void> {
  await page.goto(`${base}/console`);
  await page.getByLabel('Admin token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
}
