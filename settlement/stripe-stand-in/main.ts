import { z } from 'zod';
import { createLogger } from '../../shared/logger.js';
import { startStandIn } from './server.js';

// Digits only: z.coerce would turn an empty STAND_IN_PORT into port 0 and silently pick a random port.
const envSchema = z.object({
  STAND_IN_PORT: z.string().regex(/^\d+$/, 'must be a port number').default('12111').transform(Number).pipe(z.number().int().min(0).max(65535)),
  STAND_IN_HOST: z.string().min(1).default('127.0.0.1'),
});

const log = createLogger('stripe-stand-in');
const env = envSchema.safeParse(process.env);
if (!env.success) {
  log.fatal({ issues: env.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`) }, 'invalid stand-in environment');
  process.exit(1);
}

const standIn = await startStandIn({ port: env.data.STAND_IN_PORT, host: env.data.STAND_IN_HOST, logger: log });
log.info({ url: standIn.url }, 'stripe stand-in listening');

let stopping = false;
function stop(signal: NodeJS.Signals): void {
  if (stopping) {
    // A second signal means "now": do not wait for open connections.
    process.exit(1);
  }
  stopping = true;
  log.info({ signal }, 'stripe stand-in stopping');
  // Exit once closed: clients' kept-alive connections would otherwise hold the process until uWS
  // closes them as idle.
  standIn.close().then(
    () => process.exit(0),
    (err: unknown) => {
      log.error({ err }, 'stripe stand-in failed to close cleanly');
      process.exit(1);
    },
  );
}
process.once('SIGINT', stop);
process.once('SIGTERM', stop);
