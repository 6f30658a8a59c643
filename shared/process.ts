import type { Logger } from './logger.js';
import { describeError, isConnectionLoss, rateLimitedWarn } from './connection-errors.js';

/**
 * A promise rejected with nobody waiting for it ends a Node process (the default since Node 15). When
 * the reason is a lost Redis or Postgres connection — a fire-and-forget call made just as the
 * connection went — the process keeps running: its clients reconnect by themselves, and whatever the
 * call was doing is redone by its owner (the next admitter tick, reconciliation, the buyer's next
 * frame). Any other unhandled rejection is a bug: logged, and the process exits with code 1 so its
 * supervisor (`npm start`, compose's restart policy) starts a clean one rather than one in an unknown state.
 *
 * Uncaught exceptions are left to Node's default (exit): the connection-loss ones come from an
 * 'error' event nobody listens to, and the fix for those is the listener (shared/db.ts, redis.ts).
 */
export function survivesConnectionLoss(log: Logger): void {
  const warn = rateLimitedWarn(log, 'a call failed on a lost connection and nobody awaited it; carrying on');
  process.on('unhandledRejection', (reason) => {
    if (isConnectionLoss(reason)) return warn(reason);
    log.fatal({ err: reason instanceof Error ? reason : describeError(reason) }, 'unhandled promise rejection');
    process.exit(1);
  });
}

/**
 * Runs `stop` once on SIGINT/SIGTERM, then exits; a second signal exits at once. Stopping gives back
 * admitter leases and lets workers finish their current job, so Ctrl-C loses nothing.
 */
export function onShutdown(log: Logger, stop: () => Promise<void>): void {
  let stopping = false;
  const handler = (signal: NodeJS.Signals) => {
    if (stopping) process.exit(1);
    stopping = true;
    log.info({ signal }, 'stopping');
    stop().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err }, 'stop failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
}

/** Start-up failures end the process with one clear line, not a stack trace. */
export function fatal(log: Logger, err: unknown, what: string): never {
  log.fatal({ err: err instanceof Error ? err.message : String(err) }, what);
  process.exit(1);
}
