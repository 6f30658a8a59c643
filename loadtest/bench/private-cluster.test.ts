import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster } from 'ioredis';
import { PrivateCluster } from './private-cluster.js';

describe('a private Redis Cluster for fault tests', () => {
  const cluster = new PrivateCluster({ masters: 3, replicas: 1 });
  let client: Cluster;
  beforeAll(async () => {
    await cluster.start();
    client = new Cluster([{ host: '127.0.0.1', port: cluster.ports[0]! }], { clusterRetryStrategy: () => 100 });
    client.on('error', () => {});
  }, 60_000);
  afterAll(async () => {
    client?.disconnect();
    await cluster.stop();
  });

  it('has three masters with one replica each, all slots served', async () => {
    const nodes = await cluster.nodes();
    expect(nodes.filter((n) => n.role === 'master')).toHaveLength(3);
    expect(nodes.filter((n) => n.role === 'replica')).toHaveLength(3);
    const masters = new Set(await Promise.all(['{a}', '{b}', '{c}', '{d}', '{e}', '{f}'].map((k) => cluster.masterOf(k))));
    expect(masters.size).toBeGreaterThan(1);
  });

  it('CLUSTER FAILOVER moves a key to the promoted replica, which still has the key', async () => {
    await client.set('{fo}k', 'v');
    const before = await cluster.masterOf('{fo}k');
    const [replica] = await cluster.replicasOf(before);
    // Replication is asynchronous: WAIT until the replica has the write before the planned failover.
    await cluster.node(before).call('WAIT', '1', '2000');
    const after = await cluster.failover(before);
    expect(after).toBe(replica);
    expect(await cluster.masterOf('{fo}k')).toBe(after);
    expect(await client.get('{fo}k')).toBe('v');
  });

  it('kill -9 of a master: its replica is promoted by the Cluster itself', async () => {
    await client.set('{k9}k', 'v');
    const before = await cluster.masterOf('{k9}k');
    await cluster.node(before).call('WAIT', '1', '2000');
    await cluster.kill9(before);
    const until = Date.now() + 20_000;
    let now = before;
    while (now === before && Date.now() < until) {
      now = await cluster.masterOf('{k9}k').catch(() => before);
      if (now === before) await new Promise((r) => setTimeout(r, 100));
    }
    expect(now).not.toBe(before);
    await cluster.waitHealthy(20_000);
    expect(await client.get('{k9}k')).toBe('v');
  });
});
