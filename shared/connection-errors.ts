import type { Logger } from './logger.js';

/**
 * What the 'error' listeners of our Redis and Postgres clients log. Only the code and the message:
 * an error object can carry the client it came from, and with it a connection string.
 */
export function describeError(err: unknown): { code?: string; message: string } {
  if (!(err instanceof Error)) return { message: String(err) };
  const code = (err as { code?: unknown }).code;
  return { ...(typeof code === 'string' ? { code } : {}), message: err.message };
}

/**
 * A warn logger for errors that come in bursts: ioredis emits one 'error' per reconnect attempt (20
 * a second while Redis is away), and every pooled Postgres client reports the same restart. The
 * first error is logged at once, then at most one line per interval saying how many were held back.
 */
export function rateLimitedWarn(log: Logger, msg: string, fields: Record<string, unknown> = {}, intervalMs = 10_000): (err: unknown) => void {
  let last = -Infinity;
  let held = 0;
  return (err) => {
    const now = Date.now();
    if (now - last < intervalMs) {
      held++;
      return;
    }
    last = now;
    log.warn({ ...fields, err: describeError(err), ...(held > 0 ? { heldBack: held } : {}) }, msg);
    held = 0;
  };
}

/**
 * A Redis copy that is not to be trusted yet (a pool key gone with its shard, before the Redis guard has
 * healed it from the ledger, which it does within REDIS_GUARD_MS): like a lost connection, "try again".
 */
export class RedisCopyLostError extends Error {
  override name = 'RedisCopyLostError';
}

/**
 * Whether an error means "the connection to Redis or Postgres went away" (or did not answer in time),
 * as opposed to a bug. Such an error is retried, answered `unavailable`, or left to the next pass;
 * it never ends a process.
 */
export function isConnectionLoss(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  if (err instanceof RedisCopyLostError) return true;
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string') {
    // Sockets: refused while the server restarts, reset or broken when it dies or a client is killed.
    if (['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTCONN'].includes(code)) return true;
    // Postgres: 57P01 admin shutdown / pg_terminate_backend, 57P02 crash shutdown, 57P03 cannot connect
    // now (starting up), 08xxx connection exceptions.
    if (['57P01', '57P02', '57P03'].includes(code) || code.startsWith('08')) return true;
  }
  // ioredis and pg say so in words only; a Redis Cluster also while it moves slots or fails a master
  // over (CLUSTERDOWN, TRYAGAIN, a MOVED or ASK ioredis could not follow, a pipeline built on the old map).
  return /CLUSTERDOWN|TRYAGAIN|^MOVED \d|^ASK \d|All keys in the pipeline should belong|None of startup nodes is available|Failed to refresh slots cache|Connection is closed|Connection terminated|Command timed out|Reached the max retries per request|connect ETIMEDOUT|Client has encountered a connection error|timeout exceeded when trying to connect|Stream isn't writeable|Client was closed/i.test(err.message);
}

/**
 * The 'error' listener of an object that re-emits its connections' errors (BullMQ's Queue and Worker):
 * a lost connection is a rate-limited warning (BullMQ reconnects by itself), anything else an error.
 */
export function errorListener(log: Logger, msg: string, fields: Record<string, unknown> = {}): (err: unknown) => void {
  const lost = rateLimitedWarn(log, `${msg}: connection lost, reconnecting`, fields);
  return (err) => (isConnectionLoss(err) ? lost(err) : log.error({ ...fields, err }, msg));
}
