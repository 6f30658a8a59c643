import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, loadStandInConfig, PROCESS_SECRETS } from '../shared/config.js';

const SECRETS = ['ADMIN_TOKEN', 'BUYER_JWT_SECRET', 'STRIPE_SECRET_KEY', 'STRIPE_WEBHOOK_SECRET'] as const;
const GOOD = {
  ADMIN_TOKEN: 'a-real-admin-token', BUYER_JWT_SECRET: 'a-real-buyer-secret-of-32-bytes-or-more',
  STRIPE_SECRET_KEY: 'sk_live_real', STRIPE_WEBHOOK_SECRET: 'whsec_real_secret',
};
const DEV = { ADMIN_TOKEN: 'dev-admin-token', BUYER_JWT_SECRET: 'dev-buyer-secret', STRIPE_SECRET_KEY: 'sk_test_local', STRIPE_WEBHOOK_SECRET: 'whsec_dev' };

function refusal(env: NodeJS.ProcessEnv, secrets?: readonly (typeof SECRETS)[number][]): Error {
  try {
    loadConfig(env, secrets);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as Error;
  }
  throw new Error(`loadConfig accepted ${JSON.stringify(env)}`);
}

describe('configuration: development defaults are opt-in', () => {
  it.each([undefined, 'test', 'production'])('NODE_ENV=%s with no secret is refused in one message naming all four', (nodeEnv) => {
    const message = refusal(nodeEnv === undefined ? {} : { NODE_ENV: nodeEnv }).message;
    for (const name of SECRETS) expect(message).toContain(name);
    expect(message).toContain(`NODE_ENV is ${nodeEnv ?? 'unset'}`);
  });

  it.each(SECRETS)('without NODE_ENV, a missing or empty %s is refused, naming it and no other', (name) => {
    const env: NodeJS.ProcessEnv = { ...GOOD };
    delete env[name];
    for (const e of [env, { ...env, [name]: '' }, { ...env, [name]: '  ' }]) {
      const message = refusal(e).message;
      expect(message).toContain(name);
      for (const other of SECRETS.filter((s) => s !== name)) expect(message).not.toContain(other);
    }
  });

  it('NODE_ENV=development with nothing set takes the development defaults, the stand-in and the contract defaults', () => {
    const c = loadConfig({ NODE_ENV: 'development' });
    expect(c).toMatchObject({
      ...DEV, NODE_ENV: 'development', PORT: 9001, REDIS_URL: 'redis://127.0.0.1:6379', DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/test',
      STRIPE_API_URL: 'http://127.0.0.1:12111', MAX_FRAME_BYTES: 4096, MAX_BODY_BYTES: 65536, REDIS_COMMAND_TIMEOUT_MS: 2000, RUN_ADMITTER: true,
    });
  });

  it('NODE_ENV=development still uses a secret that is given', () => {
    expect(loadConfig({ NODE_ENV: 'development', ADMIN_TOKEN: 'given-admin-token' }).ADMIN_TOKEN).toBe('given-admin-token');
  });

  it('outside development an unset STRIPE_API_URL is the real Stripe API, not the stand-in', () => {
    expect(loadConfig({ NODE_ENV: 'test', ...GOOD }).STRIPE_API_URL).toBeUndefined();
    expect(loadConfig({ ...GOOD }).STRIPE_API_URL).toBeUndefined();
    expect(loadConfig({ NODE_ENV: 'production', ...GOOD }).STRIPE_API_URL).toBeUndefined();
  });

  it('NODE_ENV=test accepts any secret given, even a development value (tests choose their own)', () => {
    expect(loadConfig({ NODE_ENV: 'test', ...DEV })).toMatchObject(DEV);
  });
});

describe('configuration: production', () => {
  it('with all four set it starts, and talks to the real Stripe API', () => {
    const c = loadConfig({ NODE_ENV: 'production', ...GOOD });
    expect(c).toMatchObject(GOOD);
    expect(c.STRIPE_API_URL).toBeUndefined();
  });

  it.each(SECRETS)('given the development default of %s it is refused, naming it', (name) => {
    expect(refusal({ NODE_ENV: 'production', ...GOOD, [name]: DEV[name] }).message).toContain(name);
  });

  it('a BUYER_JWT_SECRET under 32 bytes is refused; 32 bytes (not characters) is enough', () => {
    expect(refusal({ NODE_ENV: 'production', ...GOOD, BUYER_JWT_SECRET: 'x'.repeat(31) }).message).toMatch(/BUYER_JWT_SECRET has 31 bytes.*at least 32/);
    expect(loadConfig({ NODE_ENV: 'production', ...GOOD, BUYER_JWT_SECRET: 'x'.repeat(32) }).BUYER_JWT_SECRET).toHaveLength(32);
    // 16 characters of two bytes each: 32 bytes.
    expect(loadConfig({ NODE_ENV: 'production', ...GOOD, BUYER_JWT_SECRET: 'é'.repeat(16) }).BUYER_JWT_SECRET).toBe('é'.repeat(16));
    // Outside production a short one is the tests' business.
    expect(loadConfig({ NODE_ENV: 'test', ...GOOD, BUYER_JWT_SECRET: 'short-secret' }).BUYER_JWT_SECRET).toBe('short-secret');
  });

  it('every problem is in the one message: a wrong PORT, a missing secret and a short JWT secret together', () => {
    const env: NodeJS.ProcessEnv = { NODE_ENV: 'production', ...GOOD, PORT: 'eighty', BUYER_JWT_SECRET: 'too-short-secret' };
    delete env.ADMIN_TOKEN;
    const message = refusal(env).message;
    expect(message).toContain('PORT');
    expect(message).toContain('ADMIN_TOKEN');
    expect(message).toContain('BUYER_JWT_SECRET has 16 bytes');
  });
});

describe('configuration: each process needs only its own secrets', () => {
  it('the settlement worker needs only STRIPE_SECRET_KEY and holds no other secret', () => {
    const c = loadConfig({ NODE_ENV: 'production', STRIPE_SECRET_KEY: 'sk_live_real', ADMIN_TOKEN: 'a-real-admin-token' }, PROCESS_SECRETS.worker);
    expect(c.STRIPE_SECRET_KEY).toBe('sk_live_real');
    expect(c).not.toHaveProperty('ADMIN_TOKEN');
    expect(c).not.toHaveProperty('BUYER_JWT_SECRET');
    const message = refusal({ NODE_ENV: 'production' }, PROCESS_SECRETS.worker).message;
    expect(message).toContain('STRIPE_SECRET_KEY');
    expect(message).not.toContain('ADMIN_TOKEN');
  });

  it('migrations need no secret', () => {
    expect(loadConfig({ NODE_ENV: 'production' }, PROCESS_SECRETS.none).DATABASE_URL).toBe('postgres://postgres@127.0.0.1:5432/test');
  });

  it('the stand-in reads its port and host from the same schema, needing no secret', () => {
    expect(loadStandInConfig({})).toMatchObject({ STAND_IN_PORT: 12111, STAND_IN_HOST: '127.0.0.1' });
    expect(loadStandInConfig({ STAND_IN_PORT: '', STAND_IN_HOST: '0.0.0.0' })).toMatchObject({ STAND_IN_PORT: 12111, STAND_IN_HOST: '0.0.0.0' });
    expect(() => loadStandInConfig({ STAND_IN_PORT: '1e3' })).toThrow(/STAND_IN_PORT/);
  });
});

describe('configuration: values', () => {
  const dev = { NODE_ENV: 'development' };

  it.each(['PORT', 'STAND_IN_PORT', 'WORKER_CONCURRENCY', 'TICK_MS', 'LOG_LEVEL', 'REDIS_URL', 'NODE_ENV'])('an empty or blank %s is unset: the default, never 0', (name) => {
    const defaults = loadConfig(dev) as unknown as Record<string, unknown>;
    for (const blank of ['', ' ']) {
      const c = loadConfig({ ...dev, ...GOOD, [name]: blank }) as unknown as Record<string, unknown>;
      if (name === 'NODE_ENV') expect(c.NODE_ENV).toBeUndefined();
      else expect(c[name]).toBe(defaults[name]);
    }
    expect(loadConfig({ ...dev, PORT: '' }).PORT).toBe(9001);
  });

  it('PORT=0 (a random port, as tests ask) is still accepted when written', () => {
    expect(loadConfig({ ...dev, PORT: '0' }).PORT).toBe(0);
  });

  it('RUN_ADMITTER=0 turns the admitter off; unset is on', () => {
    expect(loadConfig({ ...dev, RUN_ADMITTER: '0' }).RUN_ADMITTER).toBe(false);
    expect(loadConfig(dev).RUN_ADMITTER).toBe(true);
  });

  it('an unknown or misspelt variable is ignored (it belongs to someone else: PATH, HOME, npm_*)', () => {
    expect(loadConfig({ ...dev, PROT: '1', npm_config_cache: '/x' }).PORT).toBe(9001);
  });

  it.each([
    ['PORT', 'not-a-port'],
    ['PORT', '70000'],
    ['PORT', '-1'],
    ['PORT', '80.5'],
    ['PORT', '0x50'],
    ['PORT', '1e3'],
    ['REDIS_URL', 'not a url'],
    ['NODE_ENV', 'staging'],
    ['RUN_ADMITTER', 'no'],
    ['MAX_FRAME_BYTES', '10'],
    ['REDIS_COMMAND_TIMEOUT_MS', '0'],
    ['REDIS_COMMAND_TIMEOUT_MS', 'soon'],
  ])('a wrong %s (%s) is refused, naming it', (name, value) => {
    expect(refusal({ ...dev, [name]: value }).message).toContain(name);
  });
});
