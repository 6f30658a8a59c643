import { loadStandInConfig } from '../../shared/config.js';
import { createLogger } from '../../shared/logger.js';
import { fatal } from '../../shared/process.js';
import { startStandIn } from './server.js';

// The shared schema's STAND_IN_PORT and STAND_IN_HOST: an empty one is unset (the default), never port 0.
const log = createLogger('stripe-stand-in');
let env;
try {
  env = loadStandInConfig();
} catch (err) {
  fatal(log, err, 'stripe stand-in refused to start');
}

const standIn = await startStandIn({ port: env.STAND_IN_PORT, host: env.STAND_IN_HOST, logger: log });
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
