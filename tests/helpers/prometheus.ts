import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../loadtest/bench/infra.js';

/**
 * A real Prometheus (the `prometheus` binary of the Debian package) for a test: private port, temp
 * config and storage, removed on close. It is a prerequisite as Redis is: missing, the test fails
 * with the command that installs it (.ci/run installs it in CI), it is never skipped.
 */

export const INSTALL_HINT = 'install it: `apt-get install -y prometheus` (Debian/Ubuntu package; .ci/run does this in CI), or set PROMETHEUS_BIN';

export interface ScrapeTarget {
  job: string;
  /** host:port serving /metrics. */
  target: string;
}

export interface Prometheus {
  url: string;
  /** GET /api/v1/<path>: the `data` of a success, else throws with Prometheus' error. */
  api<T = any>(path: string, params?: Record<string, string>): Promise<T>;
  /** An instant query's result vector. */
  query(expr: string): Promise<{ metric: Record<string, string>; value: [number, string] }[]>;
  /** Resolves once every target has been scraped successfully `n` times after `since` (epoch ms). */
  waitScrapes(since: number, n?: number, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

/** The binary to run; throws (with the install command) when it does not run. Call it first: a test file then fails at once. */
export function requirePrometheus(): string {
  const bin = process.env.PROMETHEUS_BIN ?? 'prometheus';
  const probe = spawnSync(bin, ['--version'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) throw new Error(`tests need the Prometheus server binary (\`${bin}\` not found or not runnable): ${INSTALL_HINT}`);
  return bin;
}

/** The scrape config: 1 s scrapes so rate() has samples within seconds; bearer auth with `token`. */
function config(targets: ScrapeTarget[], token?: string): string {
  const jobs = targets.map((t) => ({
    job_name: t.job,
    scrape_interval: '1s',
    scrape_timeout: '900ms',
    ...(token ? { authorization: { type: 'Bearer', credentials: token } } : {}),
    static_configs: [{ targets: [t.target] }],
  }));
  // JSON is YAML: no serialiser needed.
  return JSON.stringify({ global: { scrape_interval: '1s', evaluation_interval: '1s' }, scrape_configs: jobs }, null, 2);
}

export async function startPrometheus(targets: ScrapeTarget[], opts: { token?: string } = {}): Promise<Prometheus> {
  const bin = requirePrometheus();
  const dir = mkdtempSync(join(tmpdir(), 'fs-prom-'));
  writeFileSync(join(dir, 'prometheus.yml'), config(targets, opts.token));
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(bin, [
    `--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`,
    `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn',
  ], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => void (stderr = (stderr + d.toString()).slice(-4000)));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));

  const close = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const force = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(force);
    }
    rmSync(dir, { recursive: true, force: true });
  };

  const api = async <T>(path: string, params: Record<string, string> = {}): Promise<T> => {
    const res = await fetch(`${url}/api/v1/${path}?${new URLSearchParams(params)}`);
    const body = (await res.json()) as { status: string; data: T; error?: string; errorType?: string };
    if (body.status !== 'success') throw new Error(`Prometheus ${path} ${JSON.stringify(params)}: ${body.errorType}: ${body.error}`);
    return body.data;
  };

  // Ready: /-/ready answers 200 (a lost port race or a bad config ends the process instead).
  const until = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null) {
      await close();
      throw new Error(`prometheus exited (${child.exitCode}): ${stderr}`);
    }
    const ok = await fetch(`${url}/-/ready`).then((r) => r.ok, () => false);
    if (ok) break;
    if (Date.now() > until) {
      await close();
      throw new Error(`prometheus not ready in 15 s: ${stderr}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }

  return {
    url,
    api,
    close,
    query: async (expr) => (await api<{ resultType: string; result: any[] }>('query', { query: expr })).result,
    waitScrapes: async (since, n = 1, timeoutMs = 20_000) => {
      // Prometheus has no event to wait on: poll its targets page (5 × per scrape interval, so no
      // scrape goes unseen) and count each target's successful scrapes that started after `since`.
      const seen = new Map<string, Set<string>>();
      const end = Date.now() + timeoutMs;
      for (;;) {
        const { activeTargets } = await api<{ activeTargets: ActiveTarget[] }>('targets', { state: 'active' });
        for (const t of activeTargets) {
          if (t.health === 'up' && Date.parse(t.lastScrape) > since) {
            const s = seen.get(t.scrapeUrl) ?? new Set<string>();
            seen.set(t.scrapeUrl, s.add(t.lastScrape));
          }
        }
        if (activeTargets.length === targets.length && activeTargets.every((t) => (seen.get(t.scrapeUrl)?.size ?? 0) >= n)) return;
        if (Date.now() > end) {
          const state = activeTargets.map((t) => `${t.labels.job} ${t.health} ${t.lastError} (${seen.get(t.scrapeUrl)?.size ?? 0}/${n})`);
          throw new Error(`prometheus: not ${n} scrapes of every target after ${new Date(since).toISOString()} in ${timeoutMs} ms: ${state.join('; ')}`);
        }
        await new Promise((res) => setTimeout(res, 200));
      }
    },
  };
}

interface ActiveTarget { labels: { job: string }; scrapeUrl: string; health: string; lastScrape: string; lastError: string }
