import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import type { Cluster } from 'ioredis';
import { createRedis } from '../../shared/redis.js';
import { Inventory } from '../../inventory/inventory-service.js';
import { PrivateCluster } from '../../loadtest/bench/private-cluster.js';

/**
 * What the `cluster` profile of docker-compose.yml relies on, tried on a private Cluster since no Docker
 * runs here: nodes that announce a hostname (`cluster-announce-hostname`, `cluster-preferred-endpoint-type
 * hostname`), formed by `redis-cli --cluster create` given names rather than IPs, and reached by our
 * client through those names only. `localhost` stands in for the service names `redis-c1` … `redis-c6`.
 */
describe('a Redis Cluster whose nodes announce hostnames', () => {
  const cluster = new PrivateCluster({ masters: 3, announceHostname: 'localhost' });
  let client: Cluster;
  beforeAll(async () => {
    await cluster.start();
    client = createRedis(cluster.url, { name: 'hostnames-test' }) as Cluster;
    if (client.status !== 'ready') await new Promise((r) => client.once('ready', r));
  }, 60_000);
  afterAll(async () => {
    client?.disconnect();
    await cluster.stop();
  });

  it('redis-cli formed it from names, and CLUSTER SLOTS and MOVED replies name the nodes by hostname', async () => {
    expect(cluster.url).toMatch(/^redis:\/\/localhost:\d+\?cluster=1$/);
    const slots = (await cluster.node(cluster.ports[0]!).call('CLUSTER', 'SLOTS')) as [number, number, [string, number]][];
    expect(slots).toHaveLength(3);
    for (const [, , [host]] of slots) expect(host).toBe('localhost');
    // A key served by another master, asked of the first node: the redirection names a hostname.
    let key = '';
    for (let i = 0; !key; i++) if ((await cluster.masterOf(`k${i}`)) !== cluster.ports[0]) key = `k${i}`;
    await expect(cluster.node(cluster.ports[0]!).set(key, 'v')).rejects.toThrow(/^MOVED \d+ localhost:\d+$/);
  });

  it('our client reaches every master through the announced names: keys and Lua scripts on each', async () => {
    expect(client.nodes('master').map((n) => n.options.host)).toEqual(['localhost', 'localhost', 'localhost']);
    // Pools of one sale each have their own hash tag, so they land on different masters.
    const inventory = new Inventory(client, 'hn-test:');
    const pools = 12;
    const masters = new Set(await Promise.all(Array.from({ length: pools }, (_, p) => cluster.masterOf(inventory.keys('hn', p).pool))));
    expect(masters.size).toBe(3);
    await inventory.initPools('hn', pools, pools);
    const taken = await Promise.all(Array.from({ length: pools }, (_, p) => inventory.take('hn', p, inventory.holdId(p, `b${p}`), `b${p}`, 60)));
    expect(taken.every((t) => t?.created === true)).toBe(true);
    expect((await inventory.stats('hn', pools)).held).toBe(pools);
  });
});

describe('the init script of the cluster profile, run against six fresh nodes', () => {
  const nodes = new PrivateCluster({ masters: 3, replicas: 1, announceHostname: 'localhost' });
  /** docker-compose.yml's redis-cluster-init command, with `redis-cN` made `localhost` and node N's port. */
  let script = '';
  beforeAll(async () => {
    await nodes.start({ form: false });
    const compose = parse(readFileSync(new URL('../../docker-compose.yml', import.meta.url), 'utf8'), { merge: true }) as { services: Record<string, { command: string[] }> };
    const [sh, flag, text] = compose.services['redis-cluster-init']!.command;
    expect([sh, flag]).toEqual(['sh', '-c']);
    script = text!
      .replace(/redis-c(\d):6379/g, (_, n: string) => `localhost:${nodes.ports[Number(n) - 1]}`)
      .replace(/-h redis-c(\d)/g, (_, n: string) => `-h localhost -p ${nodes.ports[Number(n) - 1]}`);
    expect(script).not.toMatch(/redis-c\d/);
  }, 60_000);
  afterAll(() => nodes.stop());

  it('forms three masters (the first three nodes) with one replica each, and a second run exits 0 without touching it', async () => {
    await promisify(execFile)('sh', ['-c', script], { timeout: 60_000 });
    await nodes.waitHealthy();
    // The replicas' CLUSTER REPLICATE spreads by gossip: until then a replica still reads as an empty master.
    let byRole = await nodes.nodes();
    for (const until = Date.now() + 15_000; byRole.filter((n) => n.role === 'replica').length < 3 && Date.now() < until;) {
      await new Promise((r) => setTimeout(r, 100));
      byRole = await nodes.nodes();
    }
    expect(byRole.filter((n) => n.role === 'master').map((n) => n.port)).toEqual(nodes.ports.slice(0, 3));
    for (const m of nodes.ports.slice(0, 3)) expect(await nodes.replicasOf(m)).toHaveLength(1);
    const again = await promisify(execFile)('sh', ['-c', script], { timeout: 10_000 });
    expect(again.stdout).toBe('');
    expect((await nodes.nodes()).map((n) => [n.port, n.role])).toEqual(byRole.map((n) => [n.port, n.role]));
  });
});
