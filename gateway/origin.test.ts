import { describe, expect, it } from 'vitest';
import { originCheck } from './origin.js';

describe('originCheck, ALLOWED_ORIGINS unset: the gateway\'s own origin only', () => {
  const ok = originCheck(undefined);

  it('no Origin header (apps, k6, curl) is allowed', () => {
    expect(ok('', 'shop.example:9001')).toBe(true);
    expect(ok('', '')).toBe(true);
  });

  it.each([
    ['http://shop.example:9001', 'shop.example:9001'],
    ['https://shop.example', 'shop.example'],
    ['http://SHOP.example:9001', 'shop.EXAMPLE:9001'],
    ['http://127.0.0.1:9001', '127.0.0.1:9001'],
    ['http://[::1]:9001', '[::1]:9001'],
    ['https://shop.example', 'shop.example:443'],
    ['http://shop.example:80', 'shop.example'],
  ])('%s with Host %s is the same origin', (origin, host) => {
    expect(ok(origin, host)).toBe(true);
  });

  it.each([
    ['http://evil.example', 'shop.example'],
    ['http://shop.example:9002', 'shop.example:9001'],
    ['http://shop.example', 'shop.example:9001'],
    ['http://shop.example.evil.example', 'shop.example'],
    ['http://evil.example/shop.example', 'shop.example'],
    ['null', 'shop.example'],
    ['http://shop.example', ''],
    ['ws://shop.example', 'shop.example'],
    ['http://shop.example', 'shop.example/x'],
    ['http://a@shop.example', 'a@shop.example'],
    ['https://shop.example:80', 'shop.example'],
  ])('%s with Host %j is refused', (origin, host) => {
    expect(ok(origin, host)).toBe(false);
  });
});

describe('originCheck, ALLOWED_ORIGINS set: exactly the list', () => {
  const ok = originCheck(['https://shop.example', 'http://Localhost:3000']);

  it('listed origins are allowed whatever the Host, case-insensitively, default port or not', () => {
    expect(ok('https://shop.example', 'gateway.internal:9001')).toBe(true);
    expect(ok('https://shop.example:443', 'gateway.internal:9001')).toBe(true);
    expect(ok('http://localhost:3000', 'x')).toBe(true);
    expect(ok('', 'x')).toBe(true);
  });

  it('the gateway\'s own origin is not added, so a rebinding name that matches Host is refused', () => {
    expect(ok('http://gateway.internal:9001', 'gateway.internal:9001')).toBe(false);
    expect(ok('http://shop.example', 'shop.example')).toBe(false);
    expect(ok('https://shop.example.evil.example', 'x')).toBe(false);
    expect(ok('http://localhost:3001', 'x')).toBe(false);
  });
});
