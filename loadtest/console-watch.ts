/**
 * Watches a running stack (`npm start`) the way a person would, in headless Chromium: the operator
 * console on a sale (phone and desktop) and that sale's buyer page, with screenshots into
 * test-artifacts/ and a one-line-per-second timeline of what the console showed. Run it beside a
 * stampede to see the console keep up:
 *
 *   npx tsx loadtest/console-watch.ts --sale-prefix stampede- --seconds 120 &
 *   npx tsx loadtest/stampede.ts --buyers 2000 --stock 500
 */
import { mkdirSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { Page } from 'playwright-core';
import { launchChromium } from './chromium.js';

const { values: a } = parseArgs({
  options: {
    url: { type: 'string', default: 'http://127.0.0.1:9001' },
    'admin-token': { type: 'string', default: process.env.ADMIN_TOKEN ?? 'dev-admin-token' },
    sale: { type: 'string' },
    'sale-prefix': { type: 'string', default: 'stampede-' },
    seconds: { type: 'string', default: '120' },
    out: { type: 'string', default: 'test-artifacts' },
    help: { type: 'boolean', default: false },
  },
});
if (a.help) {
  console.log('npx tsx loadtest/console-watch.ts [--url URL] [--admin-token T] [--sale ID | --sale-prefix P] [--seconds N] [--out DIR]');
  process.exit(0);
}
mkdirSync(a.out, { recursive: true });
// Sales created from this moment on are the ones a --sale-prefix watch is waiting for.
const watchFrom = Date.now() - 2000;
const shot = (page: Page, name: string) => page.screenshot({ path: `${a.out}/${name}.png`, fullPage: true });

const browser = await launchChromium();
const desktop = await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
const phone = await (await browser.newContext({ viewport: { width: 390, height: 844 } })).newPage();
for (const p of [desktop, phone]) p.on('pageerror', (e) => console.error(`page error: ${e.message}`));

async function signIn(page: Page): Promise<void> {
  await page.goto(`${a.url}/console`);
  await page.getByLabel('Admin token').fill(a['admin-token']);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.locator('#live', { hasText: /^Live$/ }).waitFor({ timeout: 15_000 });
}
await Promise.all([signIn(desktop), signIn(phone)]);

// The sale to watch: named, or the first one whose id starts with the prefix (the stampede's).
// With a prefix, only a sale created after the watcher started counts (the next stampede's), found
// through the operator API by its start time, so a slow browser start cannot miss or mistake it.
const until = Date.now() + Number(a.seconds) * 1000;
async function findSale(): Promise<string> {
  if (a.sale) return a.sale;
  while (Date.now() < until) {
    const res = await fetch(`${a.url}/v1/admin/sales`, { headers: { authorization: `Bearer ${a['admin-token']}` } });
    const { sales } = (await res.json()) as { sales: { id: string; startsAt: string }[] };
    const fresh = sales.filter((s) => s.id.startsWith(a['sale-prefix']) && Date.parse(s.startsAt) >= watchFrom);
    if (fresh[0]) return fresh[0].id;
    await new Promise((r) => setTimeout(r, 500));
  }
  throw new Error(`no sale starting with ${a['sale-prefix']} appeared in ${a.seconds} s`);
}
const found = await findSale();
const row = desktop.locator(`#sales tbody tr[data-id="${found}"]`);
await row.waitFor({ timeout: 30_000 });
const saleId = (await row.getAttribute('data-id'))!;
for (const p of [desktop, phone]) {
  await p.locator(`#sales tbody tr[data-id="${saleId}"]`).click();
  await p.locator('#d-name', { hasText: `(${saleId})` }).waitFor();
}
console.error(`watching sale ${saleId}`);

// A string, not a function: tsx's name-keeping helpers do not exist inside the page.
const READ = `(() => {
  const t = (id) => document.getElementById(id)?.textContent ?? '';
  return { state: t('d-state'), waiting: t('k-waiting'), admittedPerS: t('k-rate'), soldPerS: t('k-soldrate'), available: t('k-available'),
    held: t('k-held'), paying: t('k-paying'), sold: t('k-sold'), sellOut: t('k-sellout'), live: t('live') };
})()`;
interface Shown { state: string; waiting: string; admittedPerS: string; soldPerS: string; available: string; held: string; paying: string; sold: string; sellOut: string; live: string }
const read = (page: Page) => page.evaluate<Shown>(READ);
const num = (s: string) => Number(s.replace(/[^\d.]/g, '')) || 0;

const timeline: Shown[] = [];
let peakWaiting = -1;
let shotBuyers = false;
const started = Date.now();
while (Date.now() < until) {
  const now = await read(desktop);
  timeline.push(now);
  console.log(JSON.stringify({ t: Math.round((Date.now() - started) / 1000), ...now }));
  if (num(now.waiting) > peakWaiting && now.state !== 'sold out') {
    peakWaiting = num(now.waiting);
    await Promise.all([shot(desktop, 'stampede-console-desktop'), shot(phone, 'stampede-console-phone')]);
  }
  // A late buyer during the stampede: the page shows a place in line (or sold out).
  if (!shotBuyers && num(now.waiting) > 0) {
    shotBuyers = true;
    await Promise.all([buyerShot({ width: 390, height: 844 }, 'phone'), buyerShot({ width: 1280, height: 800 }, 'desktop')]);
  }
  if (now.state === 'sold out' && num(now.paying) === 0 && num(now.held) === 0) break;
  await desktop.waitForTimeout(1000);
}
await Promise.all([shot(desktop, 'stampede-console-end-desktop'), shot(phone, 'stampede-console-end-phone')]);

async function buyerShot(viewport: { width: number; height: number }, name: string): Promise<void> {
  const page = await (await browser.newContext({ viewport })).newPage();
  page.on('pageerror', (e) => console.error(`buyer page error: ${e.message}`));
  await page.goto(`${a.url}/s/${saleId}`);
  await page.getByLabel('Buyer name').fill(`watcher-${name}-${Date.now().toString(36)}`);
  await page.getByRole('button', { name: 'Continue' }).click();
  await page.locator('#sale-state:not([data-state="unknown"])').waitFor({ timeout: 15_000 });
  const join = page.getByRole('button', { name: 'Join the queue' });
  if (await join.isVisible()) await join.click();
  await page.locator('body[data-phase="queued"], body[data-phase="admitted"], body[data-phase="sold_out"]').waitFor({ timeout: 15_000 });
  await shot(page, `stampede-buyer-${name}`);
}

const last = timeline[timeline.length - 1];
console.error(JSON.stringify({ sale: saleId, seconds: Math.round((Date.now() - started) / 1000), peakWaiting, final: last, stale: timeline.filter((x) => x.live !== 'Live').length }));
await browser.close();
