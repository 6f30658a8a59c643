import type { Logger } from './logger.js';

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
