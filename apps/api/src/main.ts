/**
 * `docpipe-api`: the producer API, batch pages and Bull Board as one process. Reads its
 * configuration from the environment; SIGTERM/SIGINT close it.
 */
import { createLogger, loadConfigOrExit } from '@docpipe/core';
import { start } from './index.js';

const config = loadConfigOrExit(process.env);
const logger = createLogger({ name: 'api', level: config.logLevel, pretty: config.logPretty });
const api = await start(config, { logger });
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    logger.info({ signal }, 'stopping');
    api.close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  });
}
