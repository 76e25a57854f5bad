import { join } from 'node:path';
import { connectRedis, type PrivateRedis, redactUrl, startRedis } from '@docpipe/core';

export interface RedisSource {
  url: string;
  /** Where it came from, for the startup line. */
  origin: 'REDIS_URL' | 'REDIS_CLUSTER_NODES' | 'REDIS_SENTINELS' | 'local' | 'private';
  stop(): Promise<void>;
}

/**
 * The Redis of an embedded run: a cluster or Sentinels when REDIS_CLUSTER_NODES or
 * REDIS_SENTINELS is set (the config connects to them; `url` only names them); REDIS_URL when
 * set; else the one on 127.0.0.1:6379 (or DOCPIPE_REDIS_PROBE) if it answers; else a private
 * `redis-server` keeping its data (AOF) in `<stateDir>/redis`, so running the same command again
 * resumes the batch; else a clear error.
 */
export async function resolveRedis(env: NodeJS.ProcessEnv, stateDir: string): Promise<RedisSource> {
  for (const origin of ['REDIS_CLUSTER_NODES', 'REDIS_SENTINELS'] as const) {
    const nodes = env[origin];
    if (nodes) {
      const url = nodes
        .split(',')
        .map((node) => redactUrl(node.trim()))
        .join(', ');
      return { url, origin, stop: async () => {} };
    }
  }
  if (env.REDIS_URL) return { url: env.REDIS_URL, origin: 'REDIS_URL', stop: async () => {} };
  const probe = env.DOCPIPE_REDIS_PROBE ?? 'redis://127.0.0.1:6379';
  try {
    const client = await connectRedis(probe, { role: 'producer', connectTimeoutMs: 500 });
    client.disconnect();
    return { url: probe, origin: 'local', stop: async () => {} };
  } catch {
    // nothing answers there: start one of our own
  }
  let server: PrivateRedis;
  try {
    server = await startRedis({ appendonly: true, appendfsync: 'everysec', dir: join(stateDir, 'redis') });
  } catch (error) {
    throw new Error(
      `no Redis: nothing answers on ${probe} and a private redis-server could not start (${(error as Error).message}).\n` +
        'Install redis-server (apt-get install redis-server), run `docker compose up -d redis`, or set REDIS_URL.',
    );
  }
  return { url: server.url, origin: 'private', stop: () => server.stop() };
}
