import { fork, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { relative } from 'node:path';
import { fileURLToPath } from 'node:url';

// The bench's child processes: our entry points started and stopped, and what a bench reads of them
// (CPU, memory, a forced GC through the inspector), plus this process's own file limit.

export interface Child {
  child: ChildProcess;
  port: number;
  pid: number;
  /** The DevTools WebSocket of a child started with `--inspect=127.0.0.1:0` (see collectGarbage). */
  inspectorUrl?: string;
  stop(): Promise<void>;
}

/**
 * Starts one of our entry points (TypeScript, through tsx) as a child process and waits for its
 * "ready" IPC message; a child that dies first fails the bench with its stderr. With BENCH_DIST=dir
 * (a `npm run build --out-dir`, e.g. dist), the product's entry points run compiled, by node alone, as
 * in the Docker image; the bench's own children stay TypeScript.
 */
const running = new Set<ChildProcess>();
// A bench that dies or times out must not leave gateways and workers behind (they hold ports,
// connections and CPU the next run would measure).
process.on('exit', () => {
  for (const c of running) c.kill('SIGKILL');
});

export function startChild(script: string, env: NodeJS.ProcessEnv, execArgv: string[] = []): Promise<Child> {
  // BENCH_CPU_PROF=dir: every child writes a V8 CPU profile there when it exits (docs/performance.md).
  const prof = process.env.BENCH_CPU_PROF ? ['--cpu-prof', '--cpu-prof-dir', process.env.BENCH_CPU_PROF] : [];
  const file = compiledEntry(fileURLToPath(new URL(script, import.meta.url)));
  const tsx = file.endsWith('.ts') ? ['--import', 'tsx'] : [];
  const child = fork(file, [], { execArgv: [...prof, ...execArgv, ...tsx], env, stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
  running.add(child);
  child.once('exit', () => running.delete(child));
  let err = '';
  // Node prints the inspector's address on stderr before it runs the script, so before "ready".
  let inspectorUrl: string | undefined;
  child.stderr?.on('data', (d: Buffer) => {
    err = (err + d.toString()).slice(-10_000);
    inspectorUrl ??= /Debugger listening on (ws:\/\/\S+)/.exec(err)?.[1];
  });
  return new Promise((resolve, reject) => {
    const onExit = (code: number | null) => reject(new Error(`${script} exited (${code}) before it was ready: ${err}`));
    child.once('exit', onExit);
    child.once('message', (m: { port?: number }) => {
      child.off('exit', onExit);
      resolve({ child, port: m.port ?? 0, pid: child.pid!, inspectorUrl, stop: () => stopChild(child) });
    });
  });
}

/** The compiled twin of a product entry file under BENCH_DIST, else the file itself. */
function compiledEntry(file: string): string {
  const dist = process.env.BENCH_DIST;
  if (!dist) return file;
  const root = fileURLToPath(new URL('../../', import.meta.url));
  const rel = relative(root, file);
  if (rel.startsWith('loadtest')) return file;
  const compiled = fileURLToPath(new URL(`${dist.replace(/\/?$/, '/')}${rel.replace(/\.ts$/, '.js')}`, new URL('../../', import.meta.url)));
  if (!existsSync(compiled)) throw new Error(`BENCH_DIST=${dist}: no ${compiled} (run npm run build first)`);
  return compiled;
}

export function stopChild(child: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  return new Promise((r) => {
    if (child.exitCode !== null || child.signalCode !== null) return r();
    child.once('exit', () => r());
    child.kill(signal);
    setTimeout(() => child.kill('SIGKILL'), 10_000).unref();
  });
}

/** Node flags that let collectGarbage reach a child: the inspector on a free loopback port. */
export const INSPECT_ARGV = ['--inspect=127.0.0.1:0'];

/**
 * A full, blocking garbage collection in a child started with INSPECT_ARGV, through the DevTools
 * protocol (`HeapProfiler.collectGarbage`, the "collect garbage" button): memory read afterwards is
 * what the child retains, not garbage an idle process has not collected yet. Nothing is added to the
 * measured program: the inspector is Node's own.
 */
export async function collectGarbage(child: Child): Promise<void> {
  if (!child.inspectorUrl) throw new Error(`pid ${child.pid} was not started with ${INSPECT_ARGV.join(' ')}: no inspector to ask for a GC`);
  const { default: WebSocket } = await import('ws');
  const ws = new WebSocket(child.inspectorUrl, { perMessageDeflate: false });
  try {
    await new Promise<void>((resolve, reject) => {
      ws.once('error', reject);
      ws.on('message', (data) => {
        const m = JSON.parse(String(data)) as { id?: number; error?: { message: string } };
        if (m.id !== 1) return;
        if (m.error) reject(new Error(`HeapProfiler.collectGarbage: ${m.error.message}`));
        else resolve();
      });
      ws.once('open', () => ws.send(JSON.stringify({ id: 1, method: 'HeapProfiler.collectGarbage' })));
    });
  } finally {
    ws.close();
  }
}

/**
 * CPU time a process has used so far (user + system), in ms, from /proc (Linux; clock ticks of
 * 10 ms). On a machine shared with other work, a server's CPU per request moves much less than its
 * throughput does.
 */
export async function cpuMs(pid: number): Promise<number> {
  const { readFile } = await import('node:fs/promises');
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces), counted from field 3: utime is 14, stime 15.
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) * 10;
}

/** Resident set size of a process in bytes, from /proc (Linux). */
export async function rssBytes(pid: number): Promise<number> {
  const { readFile } = await import('node:fs/promises');
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const m = /^VmRSS:\s+(\d+) kB/m.exec(status);
  if (!m) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(m[1]) * 1024;
}

/** This process's open-file limit (soft), from /proc; Infinity where unknown. */
export async function fdLimit(): Promise<number> {
  const { readFile } = await import('node:fs/promises');
  const m = /^Max open files\s+(\d+|unlimited)/m.exec(await readFile('/proc/self/limits', 'utf8').catch(() => ''));
  return !m || m[1] === 'unlimited' ? Number.POSITIVE_INFINITY : Number(m[1]);
}
