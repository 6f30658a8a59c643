import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { launchChromium, resolveChromium } from './browser.js';

describe('the browser the page tests drive', () => {
  it('is CHROMIUM_PATH when given, and a wrong one is an error naming it', async () => {
    await expect(resolveChromium({ CHROMIUM_PATH: '/nonexistent/chromium' })).rejects.toThrow('CHROMIUM_PATH=/nonexistent/chromium does not exist');
    expect(await resolveChromium({ CHROMIUM_PATH: process.execPath })).toEqual({ path: process.execPath, from: 'CHROMIUM_PATH' });
  });

  it('is the system Chromium when installed', async () => {
    // Any existing file stands for an installed /usr/bin/chromium: the choice only looks whether it is there.
    expect(await resolveChromium({}, process.execPath)).toEqual({ path: process.execPath, from: 'system' });
  });

  it('without a system Chromium, is the one npm ci brought (@sparticuz/chromium), and it runs', async () => {
    const choice = await resolveChromium({}, '/nonexistent/chromium');
    expect(choice.from).toBe('@sparticuz/chromium');
    expect(existsSync(choice.path)).toBe(true);
    const browser = await launchChromium(choice);
    try {
      const page = await browser.newPage();
      await page.setContent('<p id="p">ok</p>');
      expect(await page.textContent('#p')).toBe('ok');
    } finally {
      await browser.close();
    }
  });

  it('a Chromium that cannot start fails the run saying which one', async () => {
    await expect(launchChromium({ path: process.execPath, from: 'CHROMIUM_PATH' })).rejects.toThrow(`Chromium at ${process.execPath} (from CHROMIUM_PATH) did not start`);
  });
});
