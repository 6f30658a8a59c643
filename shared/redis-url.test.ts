import { Cluster, Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { createRedis, keySlot, parseRedisUrl } from './redis.js';
import { silentLog } from '../tests/helpers/env.js';

// Nothing listens on this port (the helper's private range): the clients are only built and inspected.
const NOBODY = '127.0.0.1:7199';

describe('REDIS_URL', () => {
  it('a single server: host, port, database; no Cluster, no TLS', () => {
    expect(parseRedisUrl('redis://10.0.0.5:6380/2')).toEqual({ cluster: false, host: '10.0.0.5', port: 6380, username: undefined, password: undefined, tls: false, db: 2 });
    expect(parseRedisUrl('redis://localhost')).toMatchObject({ host: 'localhost', port: 6379, db: undefined });
  });

  it('?cluster=1 names a Cluster seed node; rediss:// asks for TLS; user and password are decoded', () => {
    expect(parseRedisUrl('rediss://app:p%40ss%3Aword@redis.internal:7001?cluster=1')).toEqual({
      cluster: true, host: 'redis.internal', port: 7001, username: 'app', password: 'p@ss:word', tls: true, db: undefined,
    });
    expect(parseRedisUrl('redis://:secret@127.0.0.1:7001?cluster=1')).toMatchObject({ cluster: true, username: undefined, password: 'secret', tls: false });
  });

  it('refuses what cannot work: another scheme, a database on a Cluster', () => {
    expect(() => parseRedisUrl('http://127.0.0.1:6379')).toThrow(/redis:\/\/ or rediss:\/\//);
    expect(() => parseRedisUrl('redis://127.0.0.1:7001/3?cluster=1')).toThrow(/only database 0/);
  });

  it('a Cluster client gives every node the password, the user and TLS, and autopipelines request clients', () => {
    const c = createRedis(`rediss://app:pw@${NOBODY}?cluster=1`, { name: 'url-test', log: silentLog });
    try {
      expect(c).toBeInstanceOf(Cluster);
      const o = (c as Cluster).options;
      expect(o.redisOptions).toMatchObject({ username: 'app', password: 'pw', tls: {}, connectionName: 'url-test' });
      expect(o.enableAutoPipelining).toBe(true);
    } finally {
      c.disconnect();
    }
    const sub = createRedis(`redis://:pw@${NOBODY}?cluster=1`, { subscriber: true, log: silentLog });
    try {
      const o = (sub as Cluster).options;
      expect(o.enableAutoPipelining).toBe(false);
      expect(o.redisOptions).toMatchObject({ password: 'pw', maxRetriesPerRequest: null });
      expect(o.redisOptions).not.toHaveProperty('tls');
    } finally {
      sub.disconnect();
    }
  });

  it('a single-server client keeps the password, user, database and TLS', () => {
    const c = createRedis(`rediss://app:pw@${NOBODY}/4`, { log: silentLog });
    try {
      expect(c).toBeInstanceOf(Redis);
      expect((c as Redis).options).toMatchObject({ username: 'app', password: 'pw', db: 4, tls: {}, port: 7199 });
    } finally {
      c.disconnect();
    }
  });

  it('keySlot agrees with Redis: the hash tag decides, an empty tag does not count', () => {
    // Values from CLUSTER KEYSLOT on Redis 7.
    expect(keySlot('foo')).toBe(12182);
    expect(keySlot('{user1000}.following')).toBe(keySlot('{user1000}.followers'));
    expect(keySlot('{}foo')).toBe(9500);
  });
});
