/**
 * Standalone cloud-local: `npm run start -w @docpipe/cloud-local [-- --ephemeral]`.
 * PORT (default 8787), CLOUD_LOCAL_DATA_DIR (default .docpipe/cloud-local), CLOUD_LOCAL_API_KEY,
 * CLOUD_LOCAL_TIME_SCALE.
 */
import { createLogger } from '@docpipe/core';
import { DEFAULT_API_KEY, start } from './index.js';

const env = process.env;
const ephemeral = process.argv.includes('--ephemeral');
const logger = createLogger({ name: 'cloud-local', level: env.LOG_LEVEL ?? 'info' });
const port = Number.parseInt(env.PORT ?? '8787', 10);
const timeScale = env.CLOUD_LOCAL_TIME_SCALE ? Number(env.CLOUD_LOCAL_TIME_SCALE) : undefined;

const server = await start({
  port,
  host: env.HOST ?? '127.0.0.1',
  dataDir: ephemeral ? undefined : (env.CLOUD_LOCAL_DATA_DIR ?? '.docpipe/cloud-local'),
  apiKey: env.CLOUD_LOCAL_API_KEY ?? DEFAULT_API_KEY,
  logger,
  ...(timeScale ? { sim: { timeScale } } : {}),
});
logger.info(
  `cloud-local ready at ${server.url} (LLAMA_CLOUD_BASE_URL=${server.url} LLAMA_CLOUD_API_KEY=${server.apiKey})`,
);

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'stopping');
    const deadline = setTimeout(() => process.exit(1), 10_000);
    deadline.unref();
    server.close().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  });
}
