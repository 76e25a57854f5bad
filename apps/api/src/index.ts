import type { AddressInfo } from 'node:net';
import {
  type Config,
  checkQueueFamilies,
  closeQueues,
  connectRedis,
  createLogger,
  createQueues,
  Liveness,
  type Logger,
  Metrics,
  RequestLimiter,
  upstreamOf,
} from '@docpipe/core';
import { clientFromConfig } from '@docpipe/llamacloud';
import { createPipelineContext } from '@docpipe/pipeline';
import { buildApp } from './app.js';

export interface ApiOptions {
  logger?: Logger;
  /** Overrides the upstream (the CLI passes its in-process cloud-local); used by cancel. */
  upstream?: { baseUrl: string; apiKey: string };
  /** Overrides API_PORT (0: any free port). */
  port?: number;
}

export interface RunningApi {
  url: string;
  close(): Promise<void>;
}

/** Starts the producer API, the batch pages and Bull Board on API_HOST:API_PORT. */
export async function start(config: Config, options: ApiOptions = {}): Promise<RunningApi> {
  const log =
    options.logger ?? createLogger({ name: 'api', level: config.logLevel, pretty: config.logPretty });
  const redis = await connectRedis(config.redis, { role: 'producer', name: 'docpipe-api' });
  const upstream = options.upstream ?? upstreamOf(config);
  // The API sends only cancels; they count against the fleet's request budget like any other.
  const llama = clientFromConfig(config, upstream, {
    connections: 4,
    limiter: new RequestLimiter(redis, config.redis.keyPrefix, config.limits),
  });
  await checkQueueFamilies(redis, config);
  const queues = createQueues(redis, config, log);
  const metrics = new Metrics();
  const ctx = createPipelineContext(config, { log, redis, queues, llama, metrics });
  metrics.observeQueues(queues, ctx.inflight);
  const app = buildApp({ ...ctx, liveness: new Liveness(redis, config.redis.keyPrefix) });
  const server = app.listen(options.port ?? config.api.port, config.api.host);
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  const { port } = server.address() as AddressInfo;
  const host = config.api.host.includes(':') ? `[${config.api.host}]` : config.api.host;
  const url = `http://${host}:${port}`;
  log.info({ url, auth: config.api.keys.length > 0 }, 'api listening');
  let closed: Promise<void> | undefined;
  return {
    url,
    close() {
      closed ??= (async () => {
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeAllConnections();
        });
        await closeQueues(queues);
        await llama.close();
        redis.disconnect();
      })();
      return closed;
    },
  };
}
