import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Cluster, Redis } from 'ioredis';
import type { RedisClient } from '../../shared/redis.js';
import { PrivateRedis } from '../../loadtest/bench/private-redis.js';
import { PrivateCluster } from '../../loadtest/bench/private-cluster.js';
import { TcpProxy } from '../helpers/tcp-proxy.js';
import { redisMode } from '../helpers/env.js';

/**
 * The Redis a chaos case breaks, private to its file: one redis-server, or a Redis Cluster of its own
 * (masters, and replicas when a case fails one over). The faults are the same words in both modes —
 * FLUSHALL, a restart from an older snapshot, killed connections — and this is where each becomes
 * real on a Cluster: on every master, or on one shard only, which a Cluster makes the likelier loss.
 */

export type RedisMode = 'single' | 'cluster';

/** Which Redis the chaos cases of this run use: the vitest project's (`inject('redisMode')`). */
export { redisMode } from '../helpers/env.js';

export interface ChaosRedisOptions {
  /** Cluster only: replicas per master (a failover needs one; a restart from a snapshot wants none). */
  replicas?: number;
}

export interface ChaosRedis {
  readonly mode: RedisMode;
  /** REDIS_URL of the stack's processes (`?cluster=1` on a Cluster). */
  readonly url: string;
  /** The test's own client (a Cluster client on a Cluster). */
  readonly client: RedisClient;
  /** Every server the processes may talk to (one; or every live node of the Cluster). */
  serverPorts(): Promise<number[]>;
  /** A client of one server alone, for CLIENT LIST / KILL, INFO, SAVE. */
  server(port: number): Redis;
  /** The masters (the one server), sorted by port. */
  masters(): Promise<number[]>;
  /** The master serving `key` now (the one server). */
  masterOf(key: string): Promise<number>;
  /** FLUSHALL on every master: the whole copy gone. */
  flushAll(): Promise<void>;
  /** FLUSHALL on master `port` only: one shard's loss (on a single server, everything). */
  flushMaster(port: number): Promise<void>;
  /** SAVE on each of `ports`: the snapshot `restartFromSnapshot` comes back from. Returns the RDBs' bytes. */
  save(ports: number[]): Promise<number>;
  /**
   * kill -9 of each of `ports` (all first, so none outlives the others), then each started again on its
   * dir: it loads its last SAVE, and on a Cluster its nodes.conf, so it takes its slots back.
   */
  restartFromSnapshot(ports: number[]): Promise<void>;
  /** The run id of each of `ports` (a restart changes it). */
  runIds(ports: number[]): Promise<string[]>;
  stop(): Promise<void>;
}

class SingleRedis implements ChaosRedis {
  readonly mode = 'single';
  constructor(private readonly r: PrivateRedis) {}
  get url(): string {
    return this.r.url;
  }
  get client(): RedisClient {
    return this.r.client;
  }
  serverPorts = async () => [this.r.port];
  server = () => this.r.client;
  masters = async () => [this.r.port];
  masterOf = async () => this.r.port;
  flushAll = async () => void (await this.r.client.flushall());
  flushMaster = async () => void (await this.r.client.flushall());
  save = () => this.r.save();
  restartFromSnapshot = async () => {
    await this.r.kill9();
    await this.r.restart();
  };
  runIds = async () => [await this.r.runId()];
  stop = () => this.r.stop();
}

class ClusterRedis implements ChaosRedis {
  readonly mode = 'cluster';
  private own: Cluster | undefined;
  /** Once `proxyEvery`: the proxy in front of each node, in the order of `cluster.ports`. */
  private proxies: TcpProxy[] = [];
  constructor(readonly cluster: PrivateCluster) {}

  get url(): string {
    return this.proxies[0] ? `redis://127.0.0.1:${this.proxies[0].port}?cluster=1` : this.cluster.url;
  }

  /**
   * Puts a proxy (`make(host, port)`) in front of every node, and has each node announce its proxy's
   * port (CONFIG SET cluster-announce-port; the bus keeps its own port): a Cluster client follows the
   * addresses the nodes announce, so every client of the Cluster — the processes' and this test's —
   * then goes through the proxies. Node lookups by port (`serverPorts`, `masterOf`) no longer work.
   */
  async proxyEvery<P extends TcpProxy>(make: (host: string, port: number) => P): Promise<P[]> {
    const proxies = await Promise.all(this.cluster.ports.map((port) => make('127.0.0.1', port).start()));
    for (const [i, port] of this.cluster.ports.entries()) {
      await this.cluster.node(port).call('CONFIG', 'SET', 'cluster-announce-bus-port', String(port + 10000));
      await this.cluster.node(port).call('CONFIG', 'SET', 'cluster-announce-port', String(proxies[i]!.port));
    }
    // Until every node's CLUSTER SLOTS names only the proxies (gossip spreads it in a few hundred ms).
    const announced = new Set(proxies.map((p) => p.port));
    for (let t = Date.now(); ;) {
      const views = await Promise.all(this.cluster.ports.map(async (p) => (await this.cluster.node(p).call('CLUSTER', 'SLOTS')) as [number, number, [string, number]][]));
      if (views.every((v) => v.every(([, , [, port]]) => announced.has(port)))) break;
      if (Date.now() - t > 10_000) throw new Error('the nodes did not announce their proxies within 10 s');
      await new Promise((r) => setTimeout(r, 50));
    }
    this.proxies = proxies;
    return proxies;
  }

  get client(): Cluster {
    if (!this.own) {
      this.own = new Cluster(this.cluster.ports.map((port) => ({ host: '127.0.0.1', port })), {
        clusterRetryStrategy: (n) => Math.min(50 * n, 500),
        redisOptions: { maxRetriesPerRequest: 2 },
      });
      this.own.on('error', () => {});
    }
    return this.own;
  }

  serverPorts = async () => (await this.cluster.nodes()).map((n) => n.port);
  server = (port: number) => this.cluster.node(port);
  masters = async () => (await this.cluster.nodes()).filter((n) => n.role === 'master').map((n) => n.port);
  masterOf = (key: string) => this.cluster.masterOf(key);

  async flushAll(): Promise<void> {
    // At once, as one FLUSHALL empties one server at once: no master keeps serving while another is empty.
    await Promise.all((await this.masters()).map((p) => this.flushMaster(p)));
  }

  async flushMaster(port: number): Promise<void> {
    await this.cluster.node(port).flushall();
  }

  async save(ports: number[]): Promise<number> {
    let bytes = 0;
    for (const port of ports) {
      const node = this.cluster.node(port);
      await node.call('SAVE');
      const [, dir] = (await node.call('CONFIG', 'GET', 'dir')) as [string, string];
      const [, file] = (await node.call('CONFIG', 'GET', 'dbfilename')) as [string, string];
      bytes += (await stat(join(dir, file))).size;
    }
    return bytes;
  }

  async restartFromSnapshot(ports: number[]): Promise<void> {
    await Promise.all(ports.map((p) => this.cluster.kill9(p)));
    for (const p of ports) await this.cluster.restart(p);
    // Every node sees the restarted ones serve their slots again (a master with slots and no replica
    // to take over keeps its FAIL flag a little while after it is back).
    await this.cluster.waitHealthy(20_000);
  }

  async runIds(ports: number[]): Promise<string[]> {
    return Promise.all(ports.map(async (p) => /run_id:(\w+)/.exec(await this.cluster.node(p).info('server'))?.[1] ?? ''));
  }

  /** The pid of node `port` (INFO server), to signal it. */
  async pidOf(port: number): Promise<number> {
    return Number(/process_id:(\d+)/.exec(await this.cluster.node(port).info('server'))?.[1]);
  }

  async stop(): Promise<void> {
    this.own?.disconnect();
    await Promise.all(this.proxies.map((p) => p.close()));
    await this.cluster.stop();
  }
}

/** What a case cuts the link to Redis with: one proxy, or one per node of a Cluster, cut together. */
export interface LinkCutter {
  readonly counts: { reset: number; refused: number };
  outage(ms: number): Promise<void>;
}

/**
 * The link of every process to Redis, cut by the case: a TcpProxy in front of the one server, or on a
 * Cluster one in front of every node (proxyEvery), all cut and restored at once. Returns the cutter
 * and the REDIS_URL the processes take through it; the proxies close with `stop`/`close`.
 */
export async function cutLinks(r: ChaosRedis): Promise<{ cutter: LinkCutter; url: string; close: () => Promise<void> }> {
  const c = clusterOf(r);
  if (!c) {
    const p = await new TcpProxy('127.0.0.1', (await r.serverPorts())[0]!).start();
    return { cutter: p, url: p.urlFor(r.url), close: () => p.close() };
  }
  const proxies = await c.proxyEvery((host, port) => new TcpProxy(host, port));
  const cutter: LinkCutter = {
    get counts() {
      return proxies.reduce((a, p) => ({ reset: a.reset + p.counts.reset, refused: a.refused + p.counts.refused }), { reset: 0, refused: 0 });
    },
    outage: async (ms) => {
      for (const p of proxies) p.cut();
      try {
        await new Promise((res) => setTimeout(res, ms));
      } finally {
        for (const p of proxies) p.restore();
      }
    },
  };
  // The proxies are the Cluster's addresses now: they close with it.
  return { cutter, url: c.url, close: async () => {} };
}

export async function startChaosRedis(o: ChaosRedisOptions = {}): Promise<ChaosRedis> {
  if (redisMode() === 'single') return new SingleRedis(await new PrivateRedis().start());
  const cluster = new PrivateCluster({ masters: 3, replicas: o.replicas ?? 0 });
  try {
    await cluster.start();
  } catch (err) {
    await cluster.stop().catch(() => {});
    throw err;
  }
  return new ClusterRedis(cluster);
}

/** The Cluster behind a ChaosRedis, for faults only a Cluster has (a replica promoted); undefined on a single server. */
export function clusterOf(r: ChaosRedis): ClusterRedis | undefined {
  return r instanceof ClusterRedis ? r : undefined;
}

/**
 * The point a Redis is sent back to, and the sending back: a restart from an older snapshot (on one
 * server, every master, or one master), or a replica promoted without the writes its master
 * acknowledged after the mark. `mark` returns figures of what it did.
 */
export interface Rewind {
  label: string;
  mark(): Promise<Record<string, unknown>>;
  back(): Promise<Record<string, unknown>>;
}

/** SAVE on `ports` now; later kill -9 and a restart from that RDB. */
export function snapshotRewind(r: ChaosRedis, label: string, ports: () => Promise<number[]>): Rewind {
  let at: number[] = [];
  return {
    label,
    mark: async () => {
      at = await ports();
      return { ports: at, rdbBytes: await r.save(at) };
    },
    back: async () => {
      const before = await r.runIds(at);
      await r.restartFromSnapshot(at);
      const after = await r.runIds(at);
      return { restarted: at, runIdsChanged: after.every((id, i) => id !== before[i]) };
    },
  };
}

/**
 * A failover that loses acknowledged writes: the replica of master `port` is stopped (SIGSTOP) at the
 * mark and its link cut, so nothing more reaches it while the master goes on acknowledging writes; then the master is
 * killed with SIGKILL, the replica continued and promoted at once (CLUSTER FAILOVER TAKEOVER: no
 * agreement asked, no catch-up possible). The new master serves the slots with the data of the mark.
 */
export function failoverRewind(c: ClusterRedis, label: string, master: () => Promise<number>): Rewind {
  let at = 0;
  let replica = 0;
  let replicaPid = 0;
  return {
    label,
    mark: async () => {
      at = await master();
      const replicas = await c.cluster.replicasOf(at);
      if (replicas.length === 0) throw new Error(`master ${at} has no replica (start the Cluster with replicas: 1)`);
      replica = replicas[0]!;
      // Nothing in flight to the replica is left unapplied on purpose: WAIT until it has the mark.
      await c.server(at).call('WAIT', '1', '2000');
      replicaPid = await c.pidOf(replica);
      process.kill(replicaPid, 'SIGSTOP');
      // A stopped replica still gets what the kernel buffers for it (the master's writes fit in the
      // socket buffers) and applies it once continued: the link is cut too, so writes from now on stay
      // in the master's backlog, which dies with it. The stopped replica cannot reconnect.
      const cut = Number(await c.server(at).call('CLIENT', 'KILL', 'TYPE', 'replica'));
      return { master: at, replica, linksCut: cut };
    },
    back: async () => {
      const offset = async (p: number) => Number(/master_repl_offset:(\d+)/.exec(await c.server(p).info('replication'))?.[1]);
      const masterOffset = await offset(at);
      await c.cluster.kill9(at);
      process.kill(replicaPid, 'SIGCONT');
      const replicaOffset = await offset(replica);
      // Unless it already promoted itself once the others marked its master failed.
      const [role] = (await c.server(replica).call('ROLE')) as [string];
      if (role !== 'master') await c.server(replica).call('CLUSTER', 'FAILOVER', 'TAKEOVER');
      await c.cluster.waitSeenAsMaster(replica);
      await c.cluster.waitHealthy(20_000);
      return { killed: at, promoted: replica, bytesLost: masterOffset - replicaOffset };
    },
  };
}
