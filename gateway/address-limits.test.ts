import { describe, expect, it } from 'vitest';
import { addressKey, LoginThrottle, UpgradeLimiter } from './address-limits.js';

describe('addressKey', () => {
  it.each([
    ['127.0.0.1', '127.0.0.1'],
    ['0000:0000:0000:0000:0000:ffff:7f00:0001', '127.0.0.1'],
    ['::ffff:10.1.2.3', '10.1.2.3'],
    ['0000:0000:0000:0000:0000:0000:0000:0001', '0:0:0:0::/64'],
    ['2001:0db8:0001:0002:aaaa:bbbb:cccc:dddd', '2001:db8:1:2::/64'],
    ['2001:db8:1:2::1', '2001:db8:1:2::/64'],
    ['2001:DB8:1:2:ffff::9', '2001:db8:1:2::/64'],
  ])('%s -> %s', (text, key) => expect(addressKey(text)).toBe(key));

  it('two addresses of one IPv6 /64 share a key; another /64 does not', () => {
    expect(addressKey('2001:db8:1:2::1')).toBe(addressKey('2001:0db8:0001:0002:dead:beef:0:7'));
    expect(addressKey('2001:db8:1:3::1')).not.toBe(addressKey('2001:db8:1:2::1'));
  });
});

describe('UpgradeLimiter (token bucket per address)', () => {
  it('allows the burst at once, then perSecond, per address', () => {
    const l = new UpgradeLimiter(2, 5);
    const t = 1_000_000;
    for (let i = 0; i < 5; i++) expect(l.take('a', t)).toBe(0);
    expect(l.take('a', t)).toBeCloseTo(0.5);
    expect(l.take('b', t), 'another address has its own bucket').toBe(0);
    expect(l.take('a', t + 499)).toBeGreaterThan(0);
    expect(l.take('a', t + 500)).toBe(0);
    expect(l.take('a', t + 500)).toBeCloseTo(0.5);
    // Idle long enough, the bucket is full again, not fuller.
    for (let i = 0; i < 5; i++) expect(l.take('a', t + 60_000)).toBe(0);
    expect(l.take('a', t + 60_000)).toBeGreaterThan(0);
  });

  it('perSecond 0 is off', () => {
    const l = new UpgradeLimiter(0, 1);
    for (let i = 0; i < 1000; i++) expect(l.take('a', 1)).toBe(0);
    expect(l.size).toBe(0);
  });

  it('memory is bounded: full buckets are swept, and past the cap the oldest address goes', () => {
    const l = new UpgradeLimiter(10, 10, 1000);
    for (let i = 0; i < 5000; i++) l.take(`10.0.${i >> 8}.${i & 255}`, 1_000);
    expect(l.size).toBe(1000);
    // 11 s later every bucket has refilled; the next take sweeps them all but its own.
    l.take('192.0.2.1', 12_000);
    expect(l.size).toBe(1);
  });

  it('an address touched recently is not the one evicted at the cap', () => {
    const l = new UpgradeLimiter(1, 2, 3);
    l.take('a', 0); l.take('a', 0);
    l.take('b', 0); l.take('c', 0);
    expect(l.take('a', 0), 'a is empty').toBeGreaterThan(0); // touching `a` makes `b` the oldest
    l.take('d', 0);
    expect(l.take('a', 0), 'a kept its empty bucket').toBeGreaterThan(0);
  });
});

describe('LoginThrottle (failed operator logins per address, fixed window)', () => {
  it('after `limit` failures the address waits for the end of the window that began with its first failure', () => {
    const th = new LoginThrottle(3, 60_000);
    const t = 5_000_000;
    th.failed('a', t);
    th.failed('a', t + 10_000);
    expect(th.blockedFor('a', t + 10_000)).toBe(0);
    th.failed('a', t + 20_000);
    expect(th.blockedFor('a', t + 20_000)).toBe(40);
    expect(th.blockedFor('b', t + 20_000), 'other addresses are not affected').toBe(0);
    expect(th.blockedFor('a', t + 59_999)).toBeGreaterThan(0);
    expect(th.blockedFor('a', t + 60_000)).toBe(0);
    // A new window: two failures are not enough again.
    th.failed('a', t + 60_000);
    th.failed('a', t + 60_001);
    expect(th.blockedFor('a', t + 60_001)).toBe(0);
  });

  it('failures in separate windows never add up', () => {
    const th = new LoginThrottle(2, 1000);
    for (let i = 0; i < 100; i++) {
      th.failed('a', i * 1000);
      expect(th.blockedFor('a', i * 1000)).toBe(0);
    }
  });

  it('limit 0 is off', () => {
    const th = new LoginThrottle(0);
    for (let i = 0; i < 100; i++) th.failed('a', 1);
    expect(th.blockedFor('a', 1)).toBe(0);
  });

  it('memory is bounded: ended windows are swept, and past the cap the oldest address goes', () => {
    const th = new LoginThrottle(5, 1000, 500);
    for (let i = 0; i < 2000; i++) th.failed(`a${i}`, 0);
    expect(th.size).toBe(500);
    th.failed('late', 20_000);
    expect(th.size).toBe(1);
  });
});
