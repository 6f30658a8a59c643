import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import pg from 'pg';
import type { RedisClient } from '../../shared/redis.js';

/**
 * Cuts the connections of one stack's processes, and only theirs: the Redis and Postgres servers are
 * shared with other test files and other people's stacks, whose clients carry the same connection
 * names ("gateway", "settlement", BullMQ's). So a Redis connection is chosen by its address — the
 * local port of a TCP socket that one of our pids holds open to the Redis port (Linux /proc) — and a
 * Postgres backend by the stack's own database name.
 */

/** Local ports of the TCP connections that `pids` hold open to `remotePort` on 127.0.0.1. */
export function tcpPortsTo(pids: number[], remotePort: number): Set<number> {
  const inodes = new Set<string>();
  for (const pid of pids) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue; // the process is gone
    }
    for (const fd of fds) {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
        if (m) inodes.add(m[1]!);
      } catch {
        // closed meanwhile
      }
    }
  }
  const ports = new Set<number>();
  const remote = `0100007F:${remotePort.toString(16).toUpperCase().padStart(4, '0')}`;
  // One network namespace for all of them: the table of the first pid is everyone's.
  const table = readFileSync(`/proc/${pids[0]}/net/tcp`, 'utf8').split('\n').slice(1);
  for (const line of table) {
    const f = line.trim().split(/\s+/);
    // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
    if (f.length < 10 || f[2] !== remote || !inodes.has(f[9]!)) continue;
    ports.add(parseInt(f[1]!.split(':')[1]!, 16));
  }
  return ports;
}

/**
 * `CLIENT KILL ID` for every Redis connection of `pids` (found by address in `CLIENT LIST`).
 * Returns the killed connections' names.
 */
export async function killRedisConnectionsOf(admin: RedisClient, redisPort: number, pids: number[]): Promise<string[]> {
  const ports = tcpPortsTo(pids, redisPort);
  if (ports.size === 0) return [];
  const list = String(await admin.client('LIST'));
  const ours: { id: string; name: string }[] = [];
  for (const line of list.split('\n')) {
    const id = /(?:^| )id=(\d+)/.exec(line)?.[1];
    const addr = /(?:^| )addr=127\.0\.0\.1:(\d+)/.exec(line)?.[1];
    if (id && addr && ports.has(Number(addr))) ours.push({ id, name: /(?:^| )name=(\S*)/.exec(line)?.[1] || '(unnamed)' });
  }
  // All at once, so the process cannot reconnect one client before the next is cut.
  const replies = await Promise.all(ours.map((c) => admin.client('KILL', 'ID', c.id).then(Number, () => 0)));
  return ours.filter((_, i) => replies[i]! > 0).map((c) => c.name);
}

/** `pg_terminate_backend` for every backend of the database `dbUrl` names; returns how many. */
export async function terminateBackendsOf(admin: pg.Client, dbUrl: string): Promise<number> {
  const datname = new URL(dbUrl).pathname.slice(1);
  const r = await admin.query<{ ok: boolean }>(
    'SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()',
    [datname],
  );
  return r.rows.filter((x) => x.ok).length;
}
