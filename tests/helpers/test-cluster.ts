import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { Cluster, Redis } from 'ioredis';

/**
 * The Redis Cluster of the "cluster" test project (global setup; not a test file). Where it comes
 * from, first that works:
 *  1. `REDIS_CLUSTER_URL` (a seed node with `?cluster=1`), e.g. the one `.ci/run` starts on 7001-7003;
 *  2. with a Docker engine (and TESTCONTAINERS not 0): one `redis:7-alpine` container running three
 *     cluster-enabled redis-servers, see `clusterContainer`;
 *  3. a private Cluster of redis-server children on free ports (loadtest/bench/private-cluster.ts),
 *     so `npm ci && npm test` works on a machine with nothing but redis-server installed.
 * Nothing works → the run fails, naming REDIS_CLUSTER_URL: nothing is skipped.
 */
export interface TestCluster {
  url: string;
  /** Where it came from, for the error message of a later failure. */
  source: string;
  stop(): Promise<void>;
}

export const HOW_TO_START_A_CLUSTER =
  'Give REDIS_CLUSTER_URL as the seed node of a running, formed Redis Cluster (e.g. '
  + 'redis://127.0.0.1:7001?cluster=1; README "Tests" shows how to start one on 7001-7003, as .ci/run does), '
  + 'or leave it unset with redis-server installed (a private Cluster is then started for the run) or a Docker engine running';

export async function startTestCluster(): Promise<TestCluster> {
  const given = process.env.REDIS_CLUSTER_URL;
  if (given) {
    const url = asClusterUrl(given);
    await checkCluster(url, 'REDIS_CLUSTER_URL');
    return { url, source: 'REDIS_CLUSTER_URL', stop: async () => {} };
  }
  const failures: string[] = [];
  if (existsSync('/var/run/docker.sock') && process.env.TESTCONTAINERS !== '0') {
    try {
      return await clusterContainer();
    } catch (err) {
      failures.push(`a Cluster in Docker: ${(err as Error).message}`);
    }
  }
  try {
    const { PrivateCluster } = await import('../../loadtest/bench/private-cluster.js');
    const cluster = new PrivateCluster({ masters: 3 });
    try {
      await cluster.start();
      await checkCluster(cluster.url, 'the private Cluster');
    } catch (err) {
      await cluster.stop().catch(() => {});
      throw err;
    }
    return { url: cluster.url, source: 'a private Cluster (redis-server children)', stop: () => cluster.stop() };
  } catch (err) {
    failures.push(`a private Cluster: ${(err as Error).message}`);
  }
  throw new Error(`the "cluster" test project needs a Redis Cluster and none could be started (${failures.join('; ')}). ${HOW_TO_START_A_CLUSTER}`);
}

/** createRedis takes a Cluster only from a URL with `?cluster=1`: add it if the URL lacks it. */
function asClusterUrl(url: string): string {
  const u = new URL(url);
  u.searchParams.set('cluster', '1');
  return u.toString();
}

/**
 * Fails unless `url` reaches a Cluster that serves every slot: a single server, a node whose cluster
 * is not formed or has a failed master would make every test fail for a reason the test does not name.
 */
export async function checkCluster(url: string, what: string): Promise<void> {
  const u = new URL(url);
  const target = { host: u.hostname, port: Number(u.port || 6379) };
  const seed = new Redis({ ...target, password: u.password || undefined, lazyConnect: true, connectTimeout: 3000, retryStrategy: () => null, maxRetriesPerRequest: 0 });
  // connect() rejects with "Connection is closed."; the cause (ECONNREFUSED …) comes as an event.
  let cause: Error | undefined;
  seed.on('error', (err: Error) => (cause ??= err));
  const client = new Cluster([target], {
    lazyConnect: true,
    clusterRetryStrategy: () => null,
    redisOptions: { password: u.password || undefined, connectTimeout: 3000, maxRetriesPerRequest: 1 },
  });
  client.on('error', () => {});
  try {
    await seed.connect().catch((err: Error) => {
      throw cause ?? err;
    });
    const info = (await seed.call('CLUSTER', 'INFO').catch((err: Error) => {
      throw /cluster support disabled/i.test(err.message) ? new Error('it is a single Redis (cluster-enabled no), not a Cluster') : err;
    })) as string;
    if (!info.includes('cluster_state:ok') || !info.includes('cluster_slots_ok:16384')) {
      const facts = info.split(/\r?\n/).filter((l) => /^cluster_(state|slots_ok|known_nodes)/.test(l)).join(' ');
      throw new Error(`the Cluster is not healthy (${facts.trim()}); form it with redis-cli --cluster create`);
    }
    // The nodes the seed announces must be reachable from here (a wrong announce address fails here).
    await client.connect();
    await Promise.all(client.nodes('master').map((n) => n.ping()));
  } catch (err) {
    throw new Error(`${what} (${u.host}) is no working Redis Cluster: ${(err as Error).message.replace(/\.$/, '')}. ${HOW_TO_START_A_CLUSTER}`, { cause: err });
  } finally {
    seed.disconnect();
    client.disconnect();
  }
}

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/**
 * One container, three cluster-enabled redis-server processes in it. A Cluster client learns node
 * addresses from the nodes themselves, so each node announces 127.0.0.1 and its own port, and each
 * port is published 1:1 on the host (free host ports are picked first); the cluster bus (port+10000)
 * stays inside the container. So this needs a Docker engine on this machine; for a remote one, start
 * a Cluster there and give REDIS_CLUSTER_URL.
 */
async function clusterContainer(): Promise<TestCluster> {
  const { GenericContainer, Wait } = await import('testcontainers');
  const ports: number[] = [];
  for (let p = 30000 + Math.floor(Math.random() * 15000); ports.length < 3 && p < 55000; p++) {
    if (await portFree(p)) ports.push(p);
  }
  const node = (p: number) =>
    `redis-server --port ${p} --cluster-enabled yes --cluster-config-file nodes-${p}.conf --cluster-announce-ip 127.0.0.1 `
    + `--cluster-node-timeout 2000 --protected-mode no --save '' --appendonly no --daemonize yes --logfile /data/${p}.log`;
  const script = [
    'set -e',
    ...ports.map(node),
    ...ports.map((p) => `until redis-cli -p ${p} ping >/dev/null 2>&1; do sleep 0.1; done`),
    `redis-cli --cluster create ${ports.map((p) => `127.0.0.1:${p}`).join(' ')} --cluster-replicas 0 --cluster-yes`,
    `until redis-cli -p ${ports[0]} cluster info | grep -q cluster_state:ok; do sleep 0.1; done`,
    'echo "test cluster ready"',
    `exec tail -F /data/${ports[0]}.log`,
  ].join('\n');
  const container = await new GenericContainer('redis:7-alpine')
    .withExposedPorts(...ports.map((p) => ({ container: p, host: p })))
    .withCommand(['sh', '-c', script])
    .withWaitStrategy(Wait.forLogMessage('test cluster ready'))
    .withStartupTimeout(60_000)
    .start();
  const url = `redis://127.0.0.1:${ports[0]}?cluster=1`;
  try {
    await checkCluster(url, 'the Cluster in Docker');
  } catch (err) {
    await container.stop().catch(() => {});
    throw err;
  }
  return { url, source: 'a Cluster in Docker (testcontainers)', stop: async () => void (await container.stop()) };
}
