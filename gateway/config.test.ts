import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../shared/config.js';

const SECRETS = ['ADMIN_TOKEN', 'BUYER_JWT_SECRET', 'STRIPE_SECRET_KEY', 'STRIPE_WEBHOOK_SECRET'] as const;
const GOOD = { ADMIN_TOKEN: 'a-real-admin-token', BUYER_JWT_SECRET: 'a-real-buyer-secret', STRIPE_SECRET_KEY: 'sk_live_real', STRIPE_WEBHOOK_SECRET: 'whsec_real_secret' };
const DEV = { ADMIN_TOKEN: 'dev-admin-token', BUYER_JWT_SECRET: 'dev-buyer-secret', STRIPE_SECRET_KEY: 'sk_test_local', STRIPE_WEBHOOK_SECRET: 'whsec_dev' };

function refusal(env: NodeJS.ProcessEnv): Error {
  try {
    loadConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as Error;
  }
  throw new Error(`loadConfig accepted ${JSON.stringify(env)}`);
}

describe('configuration', () => {
  it('NODE_ENV=production with nothing set is refused, naming ADMIN_TOKEN', () => {
    expect(refusal({ NODE_ENV: 'production' }).message).toContain('ADMIN_TOKEN');
  });

  it.each(SECRETS)('production without %s is refused, naming it', (name) => {
    const env: NodeJS.ProcessEnv = { NODE_ENV: 'production', ...GOOD };
    delete env[name];
    expect(refusal(env).message).toContain(name);
    expect(refusal({ ...env, [name]: '' }).message).toContain(name);
  });

  it.each(SECRETS)('production given the development default of %s is refused, naming it', (name) => {
    expect(refusal({ NODE_ENV: 'production', ...GOOD, [name]: DEV[name] }).message).toContain(name);
  });

  it('production with all four set starts, and talks to the real Stripe API', () => {
    const c = loadConfig({ NODE_ENV: 'production', ...GOOD });
    expect(c).toMatchObject(GOOD);
    expect(c.STRIPE_API_URL).toBeUndefined();
  });

  it('outside production the development defaults and the contract defaults apply', () => {
    const c = loadConfig({});
    expect(c).toMatchObject({
      ...DEV, PORT: 9001, REDIS_URL: 'redis://127.0.0.1:6379', DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/test',
      STRIPE_API_URL: 'http://127.0.0.1:12111', MAX_FRAME_BYTES: 4096, MAX_BODY_BYTES: 65536, REDIS_COMMAND_TIMEOUT_MS: 2000,
    });
  });

  it.each([
    ['PORT', 'not-a-port'],
    ['PORT', '70000'],
    ['REDIS_URL', 'not a url'],
    ['NODE_ENV', 'staging'],
    ['MAX_FRAME_BYTES', '10'],
    ['REDIS_COMMAND_TIMEOUT_MS', '0'],
    ['REDIS_COMMAND_TIMEOUT_MS', 'soon'],
  ])('a wrong %s (%s) is refused, naming it', (name, value) => {
    expect(refusal({ [name]: value }).message).toContain(name);
  });
});
