import { execFile, type ChildProcess } from 'node:child_process';
import { mkdtemp, mkdir, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Redis } from 'ioredis';
import { startRedisServer } from './redis-server-process.js';

const run = promisify(execFile);

export interface ClusterNode {
  port: number;
  /** CLUSTER MYID. */
  id: string;
  role: 'master' | 'replica';
  /** A client of this node alone (CLUSTER, INFO, DEBUG …); reconnects after restarts. */
  client: Redis;
}

export interface PrivateClusterOptions {
  masters?: number;
  /** Replicas per master (a failover needs at least one). */
  replicas?: number;
  /** Lowest port to try; each node takes a port P and its bus port P + 10000. */
  basePort?: number;
  /**
   * Each node announces this name (`cluster-announce-hostname`, `cluster-preferred-endpoint-type
   * hostname`) and the Cluster is created by it, as docker-compose.yml's nodes announce their service
   * names. Default: plain IPs.
   */
  announceHostname?: string;
}

/** Is TCP port `port` on 127.0.0.1 free right now? */
function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/**
 * A Redis Cluster of one's own: N masters (and R replicas each), as foreground children on free
 * ports with a temp dir each, built with `redis-cli --cluster create`. The faults a test causes (kill -9
 * of a master, CLUSTER FAILOVER, FLUSHALL of one shard) hit only it, never the shared Cluster.
 */
export class PrivateCluster {
  readonly masters: number;
  readonly replicas: number;
  private readonly basePort: number;
  private readonly hostname: string | undefined;
  private dir = '';
  private readonly children = new Map<number, ChildProcess>();
  private readonly clients = new Map<number, Redis>();
  ports: number[] = [];

  constructor(opts: PrivateClusterOptions = {}) {
    this.masters = opts.masters ?? 3;
    this.replicas = opts.replicas ?? 0;
    this.basePort = opts.basePort ?? 21000 + Math.floor(Math.random() * 20000);
    this.hostname = opts.announceHostname;
  }

  /** The `REDIS_URL` the project's processes take for this Cluster (seeded with every node). */
  get url(): string {
    return `redis://${this.hostname ?? '127.0.0.1'}:${this.ports[0]}?cluster=1`;
  }

  /**
   * Starts the nodes and forms the Cluster. `{ form: false }` starts the nodes only, empty and apart, for
   * a caller that forms the Cluster its own way (the compose file's init script); `waitHealthy` after.
   */
  async start(opts: { form?: boolean } = {}): Promise<this> {
    this.dir = await mkdtemp(join(tmpdir(), 'fs-cluster-'));
    const want = this.masters * (1 + this.replicas);
    for (let p = this.basePort; this.ports.length < want && p < 55000; p++) {
      if ((await portFree(p)) && (await portFree(p + 10000))) this.ports.push(p);
    }
    if (this.ports.length < want) throw new Error('no free ports for a private Redis Cluster');
    for (const port of this.ports) await this.spawn(port);
    if (opts.form === false) return this;
    const addrs = this.ports.map((p) => `${this.hostname ?? '127.0.0.1'}:${p}`);
    try {
      await run('redis-cli', ['--cluster', 'create', ...addrs, '--cluster-replicas', String(this.replicas), '--cluster-yes']);
    } catch (err) {
      throw new Error(`redis-cli --cluster create failed: ${(err as Error).message}`, { cause: err });
    }
    await this.waitHealthy();
    return this;
  }

  private async spawn(port: number): Promise<void> {
    const dir = join(this.dir, String(port));
    await mkdir(dir, { recursive: true });
    const child = await startRedisServer(port, [
      '--dir', dir, '--cluster-enabled', 'yes', '--cluster-config-file', join(dir, 'nodes.conf'), '--cluster-node-timeout', '1000',
      ...(this.hostname ? ['--cluster-announce-hostname', this.hostname, '--cluster-preferred-endpoint-type', 'hostname'] : []),
    ]);
    this.children.set(port, child);
  }

  /** A client of one node (not a Cluster client). */
  node(port: number): Redis {
    let c = this.clients.get(port);
    if (!c) {
      c = new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 2, retryStrategy: (n) => Math.min(50 * n, 500) });
      c.on('error', () => {});
      this.clients.set(port, c);
    }
    return c;
  }

  /** Every live node with its id and role, as CLUSTER NODES tells it. */
  async nodes(): Promise<ClusterNode[]> {
    const live = [...this.children.keys()];
    const text = (await this.node(live[0]!).call('CLUSTER', 'NODES')) as string;
    const out: ClusterNode[] = [];
    for (const line of text.trim().split('\n')) {
      const [id, addr, flags] = line.split(' ');
      const port = Number(/:(\d+)@/.exec(addr!)?.[1]);
      if (!this.children.has(port) || flags!.includes('fail')) continue;
      out.push({ port, id: id!, role: flags!.includes('master') ? 'master' : 'replica', client: this.node(port) });
    }
    return out.sort((a, b) => a.port - b.port);
  }

  /** The port of the master that serves `key` now. */
  async masterOf(key: string): Promise<number> {
    const slot = (await this.node(this.livePort()).call('CLUSTER', 'KEYSLOT', key)) as number;
    const slots = (await this.node(this.livePort()).call('CLUSTER', 'SLOTS')) as [number, number, [string, number, string]][];
    for (const [from, to, master] of slots) if (slot >= from && slot <= to) return master[1];
    throw new Error(`no master serves slot ${slot}`);
  }

  /** The ports of the replicas of master `port`. */
  async replicasOf(port: number): Promise<number[]> {
    const id = (await this.node(port).call('CLUSTER', 'MYID')) as string;
    const lines = ((await this.node(port).call('CLUSTER', 'NODES')) as string).trim().split('\n');
    return lines.filter((l) => l.split(' ')[3] === id && !l.includes('fail')).map((l) => Number(/:(\d+)@/.exec(l.split(' ')[1]!)![1]));
  }

  /**
   * CLUSTER FAILOVER on a replica of `masterPort` (a graceful, planned promotion: the replica waits
   * until it has every write, then takes the slots). Returns the new master's port once every node
   * agrees. `force` skips the catch-up (writes not yet replicated are lost, like a real crash).
   */
  async failover(masterPort: number, force = false): Promise<number> {
    const [replica] = await this.replicasOf(masterPort);
    if (!replica) throw new Error(`master ${masterPort} has no replica to fail over to`);
    await this.node(replica).call('CLUSTER', 'FAILOVER', ...(force ? ['FORCE'] : []));
    for (let i = 0; i < 200; i++) {
      const info = (await this.node(replica).call('ROLE')) as [string];
      if (info[0] === 'master') {
        await this.waitSeenAsMaster(replica);
        await this.waitHealthy();
        return replica;
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`replica ${replica} did not become master within 10 s`);
  }

  /** Until every live node's CLUSTER NODES lists `port` as a master (the promotion has spread). */
  async waitSeenAsMaster(port: number, timeoutMs = 10_000): Promise<void> {
    const until = Date.now() + timeoutMs;
    const seen = async (p: number): Promise<boolean> => {
      const text = (await (this.node(p).call('CLUSTER', 'NODES') as Promise<string>).catch(() => '')) || '';
      return text.split('\n').some((l) => l.includes(`127.0.0.1:${port}@`) && / (myself,)?master /.test(` ${l.split(' ')[2]} `));
    };
    while (!(await Promise.all([...this.children.keys()].map(seen))).every(Boolean)) {
      if (Date.now() > until) throw new Error(`not every node sees ${port} as master within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** kill -9 of one node. */
  kill9(port: number): Promise<void> {
    const child = this.children.get(port);
    this.children.delete(port);
    if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
    return new Promise((r) => {
      child.once('exit', () => r());
      child.kill('SIGKILL');
    });
  }

  /** Starts a killed node again (same port, dir and nodes.conf: it rejoins with its old identity). */
  async restart(port: number): Promise<void> {
    await this.kill9(port);
    await this.spawn(port);
  }

  private livePort(): number {
    const p = [...this.children.keys()][0];
    if (p === undefined) throw new Error('no node of the private cluster is running');
    return p;
  }

  /** Until every live node says `cluster_state:ok` and every slot is served (10 s at most). */
  async waitHealthy(timeoutMs = 10_000): Promise<void> {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const states = await Promise.all(
        [...this.children.keys()].map((p) => (this.node(p).call('CLUSTER', 'INFO') as Promise<string>).catch(() => '')),
      );
      if (states.every((s) => s.includes('cluster_state:ok') && s.includes('cluster_slots_ok:16384'))) return;
      if (Date.now() > until) throw new Error(`private cluster not healthy within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async stop(): Promise<void> {
    for (const c of this.clients.values()) c.disconnect();
    this.clients.clear();
    await Promise.all([...this.children.keys()].map((p) => this.kill9(p)));
    if (this.dir) await rm(this.dir, { recursive: true, force: true });
  }
}
