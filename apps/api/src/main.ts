/**
 * `docpipe-api`: the producer API, batch pages and Bull Board as one process. Reads its
 * configuration from the environment; SIGTERM/SIGINT close it.
 */
import { ConfigError, createLogger, loadConfig } from '@docpipe/core';
import { start } from './index.js';

let config: ReturnType<typeof loadConfig>;
try {
  config = loadConfig(process.env);
} catch (error) {
  console.error(error instanceof ConfigError ? error.message : error);
  process.exit(2);
}
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
