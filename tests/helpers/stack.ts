import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startStandIn, type StandIn, type StandInOptions } from '../../settlement/stripe-stand-in/server.js';
import { isolatedDatabase, redisUrl, testPrefix } from './env.js';

export const ADMIN_TOKEN = 'test-admin-token';
export const BUYER_SECRET = 'test-buyer-secret';
export const WEBHOOK_SECRET = 'whsec_test_stack';

export interface Proc {
  child: ChildProcess;
  port: number;
  stderr: () => string;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

export interface Stack {
  prefix: string;
  /** The stack's own database (every process of the stack uses it). */
  databaseUrl: string;
  standIn: StandIn;
  gateways: Proc[];
  workers: Proc[];
  /** Starts one more settlement worker (e.g. to replace one killed by a test); `env` adds to the stack's. */
  addWorker(env?: Record<string, string>): Promise<Proc>;
  url(path?: string, gateway?: number): string;
  wsUrl(saleId: string, token: string, gateway?: number): string;
  admin(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }>;
  close(): Promise<void>;
}

function baseEnv(prefix: string, standInUrl: string, extra: Record<string, string>): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH, HOME: process.env.HOME,
    NODE_ENV: 'test', LOG_LEVEL: 'warn', HOST: '127.0.0.1', PORT: '0',
    REDIS_URL: redisUrl(), REDIS_PREFIX: prefix,
    ADMIN_TOKEN, BUYER_JWT_SECRET: BUYER_SECRET, STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET, STRIPE_SECRET_KEY: 'sk_test_stack', STRIPE_API_URL: standInUrl,
    TICK_MS: '50', ...extra,
  };
}

/** Starts one of our entry points as a real child process; resolves when it says it is ready. */
export function startProcess(script: string, env: NodeJS.ProcessEnv): Promise<Proc> {
  const child = fork(fileURLToPath(new URL(script, import.meta.url)), [], { execArgv: ['--import', 'tsx'], env, stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
  let err = '';
  child.stderr?.on('data', (d: Buffer) => {
    err += d.toString();
    if (err.length > 20_000) err = err.slice(-20_000);
  });
  return new Promise((resolve, reject) => {
    const onExit = (code: number | null) => reject(new Error(`${script} exited (${code}) before ready: ${err}`));
    child.once('exit', onExit);
    child.once('message', (m: { port?: number }) => {
      child.off('exit', onExit);
      resolve({
        child,
        port: m.port ?? 0,
        stderr: () => err,
        kill: (signal = 'SIGTERM') => new Promise<void>((r) => {
          if (child.exitCode !== null || child.signalCode !== null) return r();
          child.once('exit', () => r());
          child.kill(signal);
        }),
      });
    });
  });
}

export interface StackOptions {
  gateways?: number;
  workers?: number;
  /** Environment for every process. */
  env?: Record<string, string>;
  /** Environment added for the settlement workers only (e.g. a DATABASE_URL through a proxy). */
  workerEnv?: Record<string, string>;
  standIn?: StandInOptions;
  /** The stand-in sends signed webhooks to gateway 0's `POST /v1/stripe/webhook`. */
  webhooks?: boolean;
}

export async function startStack(opts: StackOptions = {}): Promise<Stack> {
  const prefix = testPrefix();
  const standIn = await startStandIn({ port: 0, ...opts.standIn });
  const database = await isolatedDatabase();
  const env = baseEnv(prefix, standIn.url, { DATABASE_URL: database, ...opts.env });
  const workerEnv = { ...env, ...opts.workerEnv };
  const gateways = await Promise.all(Array.from({ length: opts.gateways ?? 1 }, () => startProcess('../../gateway/main.ts', env)));
  const workers = await Promise.all(Array.from({ length: opts.workers ?? 1 }, () => startProcess('../../settlement/main.ts', workerEnv)));
  const url = (path = '', g = 0) => `http://127.0.0.1:${gateways[g]!.port}${path}`;
  if (opts.webhooks) standIn.webhooks.configure({ url: url('/v1/stripe/webhook'), secret: WEBHOOK_SECRET });
  return {
    prefix, standIn, gateways, workers, url, databaseUrl: database,
    addWorker: async (extra = {}) => {
      const p = await startProcess('../../settlement/main.ts', { ...workerEnv, ...extra });
      workers.push(p);
      return p;
    },
    wsUrl: (saleId, token, g = 0) => `ws://127.0.0.1:${gateways[g]!.port}/v1/sales/${saleId}/ws?token=${encodeURIComponent(token)}`,
    admin: async (method, path, body) => {
      const res = await fetch(url(path), {
        method,
        headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await res.text();
      return { status: res.status, body: text ? JSON.parse(text) : null };
    },
    close: async () => {
      await Promise.all([...gateways, ...workers].map((p) => p.kill()));
      await standIn.close();
    },
  };
}
