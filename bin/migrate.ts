/** `npm run migrate`: applies pending Postgres migrations (every process also does this at start). */
import { loadConfig, PROCESS_SECRETS } from '../shared/config.js';
import { createLogger } from '../shared/logger.js';
import { migrate } from '../shared/db.js';
import { fatal } from '../shared/process.js';

const log = createLogger('migrate');
try {
  const config = loadConfig(process.env, PROCESS_SECRETS.none);
  await migrate(config.DATABASE_URL, log);
  log.info('migrations applied');
} catch (err) {
  fatal(log, err, 'migrations failed');
}
