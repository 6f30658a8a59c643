import { describe, expect, it } from 'vitest';
import { CHROMIUM, launchChromium } from './browser.js';

describe('the browser the page tests drive', () => {
  it('is Debian\'s Chromium at /usr/bin/chromium; without it the tests fail with how to install it', async () => {
    expect(CHROMIUM).toBe('/usr/bin/chromium');
    await expect(launchChromium('/nonexistent/chromium')).rejects.toThrow('apt-get install -y chromium');
  });
});
