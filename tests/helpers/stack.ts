import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startStandIn, type StandIn, type StandInOptions } from '../../settlement/stripe-stand-in/server.js';
import { isolatedDatabase, redisUrl, testPrefix } from './env.js';

export const ADMIN_TOKEN = 'test-admin-token';
export const BUYER_SECRET = 'test-buyer-secret';
export const WEBHOOK_SECRET = 'whsec_test_stack';

/** One pino JSON line a process wrote (stdout or stderr), as parsed: `time` is epoch ms, `msg` the message. */
export interface LogLine {
  time: number;
  level: number;
  msg: string;
  [k: string]: unknown;
}

export interface Proc {
  child: ChildProcess;
  port: number;
  stderr: () => string;
  /** The process's last JSON log lines (at most LOG_KEEP), oldest first. */
  logs: LogLine[];
  /** Resolves with the first log line from index `from` on (default: any so far or later) matching `pred`. */
  waitLog(pred: (l: LogLine) => boolean, timeoutMs?: number, from?: number): Promise<LogLine>;
  /** Still running (not exited, not killed). */
  alive(): boolean;
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
  /** Starts one more gateway (appended to `gateways`); `env` adds to the stack's gateway env. */
  addGateway(env?: Record<string, string>): Promise<Proc>;
  /** A URL on gateway `gateway`, by default on the first one still running. */
  url: (path?: string, gateway?: number) => string;
  wsUrl(saleId: string, token: string, gateway?: number): string;
  admin(method: string, path: string, body?: unknown): Promise<{ status: number; body: any }>;
  close(): Promise<void>;
}

function baseEnv(prefix: string, standInUrl: string, redis: string, extra: Record<string, string>): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH, HOME: process.env.HOME,
    NODE_ENV: 'test', LOG_LEVEL: 'warn', HOST: '127.0.0.1', PORT: '0',
    REDIS_URL: redis, REDIS_PREFIX: prefix,
    ADMIN_TOKEN, BUYER_JWT_SECRET: BUYER_SECRET, STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET, STRIPE_SECRET_KEY: 'sk_test_stack', STRIPE_API_URL: standInUrl,
    // Tests open thousands of sockets from 127.0.0.1; tests/security/upgrade-flood.test.ts sets a limit.
    TICK_MS: '50', UPGRADES_PER_ADDRESS_PER_SECOND: '0', ...extra,
  };
}

const LOG_KEEP = 20_000;

/** Calls `onLine` with each JSON line (pino) a stream writes; other output is skipped. */
function readJsonLines(stream: NodeJS.ReadableStream | null, onLine: (l: LogLine) => void): void {
  let partial = '';
  stream?.on('data', (d: Buffer) => {
    const lines = (partial + d.toString()).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      if (!line.startsWith('{')) continue;
      let parsed: LogLine;
      try {
        parsed = JSON.parse(line) as LogLine;
      } catch {
        continue;
      }
      onLine(parsed);
    }
  });
}

/**
 * Starts one of our entry points as a real child process; resolves when it says it is ready. Its
 * stdout and stderr are read (pino writes JSON lines to stdout), so a test can wait for a log line.
 */
export function startProcess(script: string, env: NodeJS.ProcessEnv): Promise<Proc> {
  const child = fork(fileURLToPath(new URL(script, import.meta.url)), [], { execArgv: ['--import', 'tsx'], env, stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
  let err = '';
  const logs: LogLine[] = [];
  let waiters: { pred: (l: LogLine) => boolean; resolve: (l: LogLine) => void }[] = [];
  const onLine = (l: LogLine) => {
    logs.push(l);
    if (logs.length > LOG_KEEP) logs.splice(0, logs.length - LOG_KEEP);
    if (waiters.length > 0) waiters = waiters.filter((w) => (w.pred(l) ? (w.resolve(l), false) : true));
  };
  readJsonLines(child.stdout, onLine);
  readJsonLines(child.stderr, onLine);
  child.stderr?.on('data', (d: Buffer) => {
    err += d.toString();
    if (err.length > 20_000) err = err.slice(-20_000);
  });
  const alive = () => child.exitCode === null && child.signalCode === null;
  return new Promise((resolve, reject) => {
    const onExit = (code: number | null) => reject(new Error(`${script} exited (${code}) before ready: ${err}`));
    child.once('exit', onExit);
    child.once('message', (m: { port?: number }) => {
      child.off('exit', onExit);
      resolve({
        child,
        port: m.port ?? 0,
        stderr: () => err,
        logs,
        alive,
        waitLog: (pred, timeoutMs = 15_000, from = 0) => {
          const seen = logs.slice(from).find(pred);
          if (seen) return Promise.resolve(seen);
          return new Promise((res, rej) => {
            const t = setTimeout(() => {
              waiters = waiters.filter((w) => w.resolve !== done);
              rej(new Error(`${script} (pid ${child.pid}): no matching log line in ${timeoutMs} ms`));
            }, timeoutMs);
            const done = (l: LogLine) => {
              clearTimeout(t);
              res(l);
            };
            waiters.push({ pred, resolve: done });
          });
        },
        // A process that does not stop on SIGTERM within 10 s (e.g. stuck on a dead link) is killed.
        kill: (signal = 'SIGTERM') => new Promise<void>((r) => {
          if (!alive()) return r();
          const force = setTimeout(() => child.kill('SIGKILL'), 10_000);
          child.once('exit', () => {
            clearTimeout(force);
            r();
          });
          child.kill(signal);
        }),
      });
    });
  });
}

export interface StackOptions {
  gateways?: number;
  workers?: number;
  /** The Redis every process uses (default: the run's shared one, under the stack's own prefix). */
  redisUrl?: string;
  /**
   * Maps the stack's own database URL to the one its processes are given (e.g. through a TcpProxy);
   * `Stack.databaseUrl` stays the direct one, for the test's own checks.
   */
  processDatabaseUrl?: (direct: string) => string;
  /** Environment for every process. */
  env?: Record<string, string>;
  /** Environment added for the gateways only. */
  gatewayEnv?: Record<string, string>;
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
  const env = baseEnv(prefix, standIn.url, opts.redisUrl ?? redisUrl(), { DATABASE_URL: opts.processDatabaseUrl?.(database) ?? database, ...opts.env });
  const workerEnv = { ...env, ...opts.workerEnv };
  const gatewayEnv = { ...env, ...opts.gatewayEnv };
  const gateways = await Promise.all(Array.from({ length: opts.gateways ?? 1 }, () => startProcess('../../gateway/main.ts', gatewayEnv)));
  const workers = await Promise.all(Array.from({ length: opts.workers ?? 1 }, () => startProcess('../../bin/worker.ts', workerEnv)));
  // By default the first gateway still running (a test may have killed some).
  const url = (path = '', g = Math.max(0, gateways.findIndex((p) => p.alive()))) => `http://127.0.0.1:${gateways[g]!.port}${path}`;
  if (opts.webhooks) standIn.webhooks.configure({ url: url('/v1/stripe/webhook'), secret: WEBHOOK_SECRET });
  return {
    prefix, standIn, gateways, workers, url, databaseUrl: database,
    addWorker: async (extra = {}) => {
      const p = await startProcess('../../bin/worker.ts', { ...workerEnv, ...extra });
      workers.push(p);
      return p;
    },
    addGateway: async (extra = {}) => {
      const p = await startProcess('../../gateway/main.ts', { ...gatewayEnv, ...extra });
      gateways.push(p);
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
