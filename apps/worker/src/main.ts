/**
 * `docpipe-worker [--stages upload,parse,extract,poll,notify]`: one worker process. Reads its
 * configuration from the environment; SIGTERM/SIGINT stop it gracefully within 30 s.
 */
import { createLogger, loadConfigOrExit, type QueueName } from '@docpipe/core';
import { ALL_STAGES, start } from './index.js';

function stagesFromArgs(argv: string[]): QueueName[] {
  const at = argv.indexOf('--stages');
  if (at < 0) return [...ALL_STAGES];
  const stages = (argv[at + 1] ?? '').split(',').filter(Boolean);
  const unknown = stages.filter((s) => !ALL_STAGES.includes(s as QueueName));
  if (unknown.length || stages.length === 0) {
    console.error(`--stages takes a comma list of ${ALL_STAGES.join(', ')}; got "${argv[at + 1] ?? ''}"`);
    process.exit(2);
  }
  return stages as QueueName[];
}

const config = loadConfigOrExit(process.env);
const logger = createLogger({ name: 'worker', level: config.logLevel, pretty: config.logPretty });
const worker = await start(config, { stages: stagesFromArgs(process.argv), logger });

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'stopping: finishing or parking running jobs');
    setTimeout(() => {
      logger.error('shutdown deadline passed; exiting (BullMQ recovers unfinished jobs)');
      process.exit(1);
    }, 30_000).unref();
    worker.close().then(
      () => process.exit(0),
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  });
}
