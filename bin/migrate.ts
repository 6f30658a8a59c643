/** `npm run migrate`: applies pending Postgres migrations (every process also does this at start). */
import { loadConfig } from '../shared/config.js';
import { createLogger } from '../shared/logger.js';
import { migrate } from '../shared/db.js';
import { fatal } from '../shared/process.js';

const log = createLogger('migrate');
try {
  const config = loadConfig();
  await migrate(config.DATABASE_URL, log);
  log.info('migrations applied');
} catch (err) {
  fatal(log, err, 'migrations failed');
}
