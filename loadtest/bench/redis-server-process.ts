import { spawn, type ChildProcess } from 'node:child_process';
import { Redis } from 'ioredis';

// A test process that dies without its afterAll must not leave servers behind.
const running = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of running) c.kill('SIGKILL');
});

/**
 * Starts `redis-server` as our foreground child on 127.0.0.1:`port`, without persistence unless asked
 * (`extra` args come last and win), and resolves once it answers PING (a large RDB answers LOADING
 * first). The private single server and the private Cluster's nodes both start here.
 */
export async function startRedisServer(port: number, extra: string[]): Promise<ChildProcess> {
  const child = spawn('redis-server', [
    '--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no', '--loglevel', 'warning',
    ...extra,
  ], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr?.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-4000)));
  const spawned = await new Promise<Error | null>((r) => {
    child.once('error', (e) => r(e));
    child.once('spawn', () => r(null));
  });
  if (spawned) throw new Error(`cannot start redis-server (is it installed? apt-get install redis-server): ${spawned.message}`);
  running.add(child);
  child.once('exit', () => running.delete(child));
  for (let i = 0; i < 100; i++) {
    if (child.exitCode !== null) throw new Error(`redis-server on ${port} exited (${child.exitCode}): ${err}`);
    const probe = new Redis({ port, host: '127.0.0.1', lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
    probe.on('error', () => {});
    const ok = await probe.connect().then(() => probe.ping()).then(() => true, () => false);
    probe.disconnect();
    if (ok) return child;
    await new Promise((r) => setTimeout(r, 50));
  }
  child.kill('SIGKILL');
  throw new Error(`redis-server on ${port} did not answer PING within 5 s: ${err}`);
}
