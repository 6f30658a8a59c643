import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { CONFIG_KEYS, loadConfig, loadStandInConfig, PROCESS_SECRETS, STAND_IN_KEYS } from '../../shared/config.js';

/**
 * No Docker engine runs here, so `docker compose up` cannot be tried: this file checks what can go
 * wrong on paper — every service's command, ports and variables against what the code reads.
 */
const root = new URL('../../', import.meta.url);
const read = (path: string) => readFileSync(new URL(path, root), 'utf8');
const compose = parse(read('docker-compose.yml'), { merge: true }) as { services: Record<string, Service>; volumes: Record<string, unknown> };
const pkg = JSON.parse(read('package.json')) as { scripts: Record<string, string>; dependencies: Record<string, string> };
const prometheus = parse(read('grafana/prometheus.yml')) as { scrape_configs: { job_name: string; static_configs?: { targets: string[] }[]; dns_sd_configs?: { names: string[]; port: number }[] }[] };

interface Service {
  image?: string;
  build?: string;
  command?: string[];
  environment?: Record<string, string>;
  ports?: string[];
  volumes?: string[];
  depends_on?: Record<string, unknown> | string[];
  healthcheck?: { test: string[] };
  restart?: string;
  deploy?: { replicas?: number; restart_policy?: { condition?: string } };
  profiles?: string[];
}
const svc = (name: string): Service => {
  const s = compose.services[name];
  if (!s) throw new Error(`docker-compose.yml has no service ${name}`);
  return s;
};
const env = (name: string) => Object.fromEntries(Object.entries(svc(name).environment ?? {}).map(([k, v]) => [k, String(v)]));
const containerPorts = (name: string) => (svc(name).ports ?? []).map((p) => Number(p.split(':').pop()));

/**
 * The source file of the compiled entry a compose command runs (`node dist/X.js` → `X.ts`): node
 * itself, no tsx at run time.
 */
function entryOf(command: string[] | undefined): string {
  expect(command).toHaveLength(2);
  expect(command![0]).toBe('node');
  expect(command![1]).toMatch(/^dist\/.+\.js$/);
  return command![1]!.replace(/^dist\//, '').replace(/\.js$/, '.ts');
}

describe('docker-compose.yml', () => {
  it('has the stack the issue names', () => {
    const always = Object.keys(compose.services).filter((name) => !svc(name).profiles);
    expect(always.sort()).toEqual(['gateway', 'grafana', 'postgres', 'prometheus', 'redis', 'stand-in', 'worker']);
    expect(svc('worker').deploy?.replicas).toBeGreaterThanOrEqual(2);
  });

  it.each([['gateway', 'gateway'], ['worker', 'worker'], ['stand-in', 'stand-in']])('%s runs the entry file of the npm script "%s"', (service, script) => {
    const file = entryOf(svc(service).command);
    expect(existsSync(new URL(file, root)), file).toBe(true);
    expect(pkg.scripts[script]).toBe(`tsx ${file}`);
    expect(svc(service).build).toBe('.');
  });

  it.each([['gateway', PROCESS_SECRETS.gateway], ['worker', PROCESS_SECRETS.worker]] as const)('%s: every variable is one the zod schema reads, and the schema accepts them', (service, secrets) => {
    const e = env(service);
    for (const key of Object.keys(e)) expect(CONFIG_KEYS as string[], `${service}: ${key}`).toContain(key);
    expect(() => loadConfig(e, secrets)).not.toThrow();
    // The stack of compose is the demo (the stand-in, development secrets): it says so, rather than
    // leaving NODE_ENV to the image's `production`, which would refuse those secrets.
    expect(e.NODE_ENV).toBe('development');
  });

  it.each(['redis', 'postgres', 'stand-in', 'gateway', 'worker', 'prometheus', 'grafana'])('%s is long-running and comes back when it dies (restart policy)', (service) => {
    // `unless-stopped` or `on-failure`: a process that exits on a bug or a lost connection is started
    // again; `docker compose stop` still stops it. A swarm restart_policy, if any, must not say `none`.
    expect(['unless-stopped', 'on-failure', 'always']).toContain(svc(service).restart);
    expect(svc(service).deploy?.restart_policy?.condition).not.toBe('none');
  });

  it('the gateway listens on the port it publishes, on all interfaces, and is healthy only when ready', () => {
    const c = loadConfig(env('gateway'));
    expect(containerPorts('gateway')).toEqual([c.PORT]);
    expect(c.HOST).toBe('0.0.0.0');
    expect(svc('gateway').healthcheck?.test.join(' ')).toContain(`127.0.0.1:${c.PORT}/readyz`);
  });

  it('the app services reach Redis, Postgres and the stand-in by their service names and ports', () => {
    for (const service of ['gateway', 'worker']) {
      const c = loadConfig(env(service));
      expect(new URL(c.REDIS_URL).hostname).toBe('redis');
      const db = new URL(c.DATABASE_URL);
      expect(db.hostname).toBe('postgres');
      expect(db.pathname).toBe(`/${env('postgres').POSTGRES_DB}`);
      const stripe = new URL(c.STRIPE_API_URL!);
      expect(stripe.hostname).toBe('stand-in');
      expect(Number(stripe.port)).toBe(Number(env('stand-in').STAND_IN_PORT));
      expect(Object.keys(svc(service).depends_on ?? {})).toEqual(expect.arrayContaining(['redis', 'postgres', 'stand-in']));
    }
  });

  it('the stand-in is given only variables it reads, and listens where it is published', () => {
    expect(read(entryOf(svc('stand-in').command))).toContain('loadStandInConfig');
    for (const key of Object.keys(env('stand-in'))) expect(STAND_IN_KEYS as readonly string[], key).toContain(key);
    const c = loadStandInConfig(env('stand-in'));
    expect(containerPorts('stand-in')).toEqual([c.STAND_IN_PORT]);
    expect(c.STAND_IN_HOST).toBe('0.0.0.0');
  });

  it('Redis never evicts and keeps an append-only file on a volume; Postgres keeps its data on a volume', () => {
    const cmd = svc('redis').command!.join(' ');
    expect(cmd).toContain('--maxmemory-policy noeviction');
    expect(cmd).toContain('--appendonly yes');
    expect(svc('redis').volumes).toContain('redis-data:/data');
    expect(svc('postgres').volumes).toContain('pg-data:/var/lib/postgresql/data');
    expect(Object.keys(compose.volumes).sort()).toEqual(['pg-data', 'redis-data']);
  });

  it('Prometheus scrapes the gateway on its port and every worker on its METRICS_PORT', () => {
    const job = (name: string) => prometheus.scrape_configs.find((j) => j.job_name === name)!;
    expect(job('gateway').static_configs![0]!.targets).toEqual([`gateway:${loadConfig(env('gateway')).PORT}`]);
    // DNS service discovery finds every replica of the worker service.
    expect(job('worker').dns_sd_configs![0]).toMatchObject({ names: ['worker'], port: loadConfig(env('worker')).METRICS_PORT });
    expect(svc('prometheus').volumes).toContain('./grafana/prometheus.yml:/etc/prometheus/prometheus.yml:ro');
    // /metrics is public unless METRICS_TOKEN is set; a scrape job without credentials needs it unset.
    for (const name of ['gateway', 'worker']) {
      expect(loadConfig(env(name)).METRICS_TOKEN === undefined || 'authorization' in job(name), `${name}: METRICS_TOKEN set, scrape job without authorization`).toBe(true);
    }
  });

  it('Grafana gets the provisioning folder and the dashboards folder, and opens on the dashboard', () => {
    expect(svc('grafana').volumes).toEqual(expect.arrayContaining(['./grafana/provisioning:/etc/grafana/provisioning:ro', './grafana/dashboards:/var/lib/grafana/dashboards:ro']));
    const home = env('grafana').GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH!;
    expect(existsSync(new URL(home.replace('/var/lib/grafana/dashboards/', 'grafana/dashboards/'), root))).toBe(true);
  });
});

describe('the cluster profile and docker-compose.cluster.yml', () => {
  const override = parse(read('docker-compose.cluster.yml')) as { services: Record<string, Service> };
  const nodes = Object.keys(compose.services).filter((name) => /^redis-c\d+$/.test(name)).sort();
  const arg = (command: string[], flag: string) => command[command.indexOf(flag) + 1];
  /** A service as `docker compose -f docker-compose.yml -f docker-compose.cluster.yml` merges it: maps merge key by key. */
  const merged = (name: string): Service => {
    const base = svc(name);
    const over = override.services[name] ?? {};
    return {
      ...base, ...over,
      environment: { ...base.environment, ...over.environment },
      depends_on: { ...(base.depends_on as Record<string, unknown>), ...(over.depends_on as Record<string, unknown>) },
    };
  };
  const mergedEnv = (name: string) => Object.fromEntries(Object.entries(merged(name).environment ?? {}).map(([k, v]) => [k, String(v)]));

  it('has six Redis 7 nodes and a one-shot init, all in the profile, none in the default stack', () => {
    expect(nodes).toEqual(['redis-c1', 'redis-c2', 'redis-c3', 'redis-c4', 'redis-c5', 'redis-c6']);
    for (const name of [...nodes, 'redis-cluster-init']) {
      expect(svc(name).profiles, name).toEqual(['cluster']);
      expect(svc(name).image, name).toMatch(/^redis:7\b/);
    }
  });

  it.each(['redis-c1', 'redis-c2', 'redis-c3', 'redis-c4', 'redis-c5', 'redis-c6'])('%s runs in cluster mode, announces its service name, never evicts, keeps an AOF, restarts, and has a healthcheck', (name) => {
    const c = svc(name).command!;
    expect(c[0]).toBe('redis-server');
    expect(arg(c, '--cluster-enabled')).toBe('yes');
    expect(arg(c, '--cluster-announce-hostname')).toBe(name);
    expect(arg(c, '--cluster-preferred-endpoint-type')).toBe('hostname');
    expect(arg(c, '--port')).toBe('6379');
    expect(arg(c, '--maxmemory-policy')).toBe('noeviction');
    expect(arg(c, '--appendonly')).toBe('yes');
    expect(svc(name).restart).toBe('unless-stopped');
    expect(svc(name).healthcheck?.test).toEqual(['CMD', 'redis-cli', 'ping']);
  });

  it('the init waits for every node to be healthy, creates the Cluster over all six with one replica each, and does it once', () => {
    const init = svc('redis-cluster-init');
    expect(init.restart).toBe('no');
    expect(init.depends_on).toEqual(Object.fromEntries(nodes.map((n) => [n, { condition: 'service_healthy' }])));
    const script = init.command!.join(' ');
    const create = /redis-cli --cluster create ((?:\S+:\d+ )+)--cluster-replicas (\d+) --cluster-yes/.exec(script.replace(/\s+/g, ' '));
    expect(create, script).not.toBeNull();
    expect(create![1]!.trim().split(' ')).toEqual(nodes.map((n) => `${n}:6379`));
    expect(create![2]).toBe('1');
    // A second `up` finds the Cluster formed and exits 0 instead of failing on nodes that are not empty.
    expect(script.indexOf('cluster_state:ok')).toBeLessThan(script.indexOf('--cluster create'));
  });

  it('the override moves the gateway and the workers, and only them, onto the Cluster, after the init', () => {
    expect(Object.keys(override.services).sort()).toEqual(['gateway', 'worker']);
    for (const name of ['gateway', 'worker']) {
      const e = mergedEnv(name);
      const c = loadConfig(e);
      const u = new URL(c.REDIS_URL);
      expect(u.searchParams.get('cluster'), name).toBe('1');
      // The seed is a master (redis-cli makes the first three nodes masters with --cluster-replicas 1).
      expect(['redis-c1', 'redis-c2', 'redis-c3']).toContain(u.hostname);
      expect(Number(u.port)).toBe(Number(arg(svc(u.hostname).command!, '--port')));
      expect(merged(name).depends_on).toMatchObject({ 'redis-cluster-init': { condition: 'service_completed_successfully' }, postgres: { condition: 'service_healthy' } });
      for (const key of Object.keys(e)) expect(CONFIG_KEYS as string[], `${name}: ${key}`).toContain(key);
      // Everything else as in the default stack.
      expect({ ...e, REDIS_URL: '' }).toEqual({ ...env(name), REDIS_URL: '' });
    }
  });
});

describe('Dockerfile', () => {
  const lines = read('Dockerfile').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  const stages = lines.map((l, i) => [l, i] as const).filter(([l]) => l.startsWith('FROM '));
  const runtime = lines.slice(stages[stages.length - 1]![1]);

  it('is multi-stage on a slim base, installs production dependencies only, and runs as a non-root user', () => {
    expect(stages.length).toBeGreaterThanOrEqual(2);
    for (const [l] of stages) expect(l).toMatch(/-slim\b/);
    expect(lines.join('\n')).toMatch(/npm ci --omit=dev/);
    const user = runtime.filter((l) => l.startsWith('USER ')).pop();
    expect(user).toBeDefined();
    expect(user).not.toMatch(/^USER (root|0)(:|$)/);
    // The runtime stage takes only node_modules from the build stage, no build tools.
    expect(runtime.filter((l) => l.startsWith('RUN '))).toEqual([]);
  });

  it('a build stage compiles every folder tsconfig.build.json names with `npm run build`; the runtime takes its dist/', () => {
    const build = lines.slice(stages.find(([l]) => / AS build$/.test(l))![1], stages[stages.length - 1]![1]);
    const copiedToBuild = build.filter((l) => l.startsWith('COPY ')).flatMap((l) => l.split(/\s+/).slice(1, -1));
    const compiled = (JSON.parse(read('tsconfig.build.json')) as { include: string[] }).include;
    for (const dir of compiled) expect(copiedToBuild, dir).toContain(dir);
    expect(copiedToBuild).toEqual(expect.arrayContaining(['tsconfig.json', 'tsconfig.build.json']));
    expect(build).toContain('RUN npm run build');
    expect(pkg.scripts.build).toBeDefined();
    expect(runtime).toContain('COPY --from=build /app/dist ./dist');
    // Every compose command's entry is compiled: its source lies in a folder the build compiles.
    for (const service of ['gateway', 'worker', 'stand-in']) expect(compiled).toContain(entryOf(svc(service).command).split('/')[0]);
  });

  it('runs compiled JavaScript with node alone (no tsx at run time), the gateway by default', () => {
    expect(runtime[runtime.length - 1]).toBe('CMD ["node", "dist/gateway/main.js"]');
    expect(runtime.join('\n')).not.toContain('tsx');
  });

  it('what the gateway serves from node_modules (the console\'s chart) is a production dependency', () => {
    const pages = read('gateway/pages.ts');
    for (const m of pages.matchAll(/require\.resolve\('([^/']+)\//g)) expect(Object.keys(pkg.dependencies)).toContain(m[1]);
  });

  it('.dockerignore keeps tests, artefacts and local modules out of the build context', () => {
    const ignored = read('.dockerignore').split('\n');
    for (const p of ['node_modules', 'tests', 'test-artifacts', '**/*.test.ts', 'dist']) expect(ignored).toContain(p);
  });
});
