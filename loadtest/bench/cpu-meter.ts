import { readdirSync, readFileSync } from 'node:fs';

/**
 * CPU time per role over a measured window, read from /proc (Linux): the processes a bench started
 * (by pid), every `postgres` process and every `redis-server`. Where the CPU of a run goes is what
 * decides a figure on a machine whose cores are all busy; the note prints it per unit of work.
 * Elsewhere than Linux it measures nothing and says so.
 */
export interface CpuMeter {
  /** CPU milliseconds per role since the meter started; null where /proc cannot be read. */
  stop(): Record<string, number> | null;
}

// utime and stime are in clock ticks, 100 per second on every Linux build we run on (USER_HZ).
const TICK_MS = 10;

function ticksOf(pid: string): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return null;
  }
}

function commOf(pid: string): string {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
  } catch {
    return '';
  }
}

/** Every process's ticks by role: `roles` names pids; postgres and redis-server are found by name. */
function snapshot(roles: Record<string, number[]>): Map<string, { role: string; ticks: number }> | null {
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((p) => /^\d+$/.test(p));
  } catch {
    return null;
  }
  const roleOf = new Map<string, string>();
  for (const [role, list] of Object.entries(roles)) for (const pid of list) roleOf.set(String(pid), role);
  const out = new Map<string, { role: string; ticks: number }>();
  for (const pid of pids) {
    const role = roleOf.get(pid) ?? ({ postgres: 'postgres', 'redis-server': 'redis' } as Record<string, string>)[commOf(pid)];
    if (!role) continue;
    const ticks = ticksOf(pid);
    if (ticks !== null) out.set(pid, { role, ticks });
  }
  return out;
}

export function startCpuMeter(roles: Record<string, number[]>): CpuMeter {
  const before = snapshot(roles);
  return {
    stop() {
      const after = snapshot(roles);
      if (!before || !after) return null;
      const ms: Record<string, number> = {};
      // A process gone before the end (a Postgres backend that closed) is left out: its last ticks are lost with it.
      for (const [pid, a] of after) ms[a.role] = (ms[a.role] ?? 0) + (a.ticks - (before.get(pid)?.ticks ?? 0)) * TICK_MS;
      return ms;
    },
  };
}

/** "workers 1.10 ms, postgres 0.52 ms, …" per unit of work, largest first. */
export function cpuPerUnit(ms: Record<string, number> | null, units: number, unit: string): string {
  if (!ms) return 'CPU per role: not measured (no /proc)';
  const total = Object.values(ms).reduce((a, b) => a + b, 0);
  const parts = Object.entries(ms).sort((a, b) => b[1] - a[1]).map(([role, v]) => `${role} ${((v / units) * 1000).toFixed(0)} µs`);
  return `CPU per ${unit}: ${((total / units) * 1000).toFixed(0)} µs in all (${parts.join(', ')})`;
}
