import { Cluster, type ClusterOptions, Redis as IORedis, type RedisOptions } from 'ioredis';
import type { Config } from './config.js';
import { RedisUnavailableError } from './errors.js';
import { type Logger, redactUrl } from './logger.js';

/**
 * A connection to one Redis server or to a Redis Cluster: both speak the same commands, and
 * every key docpipe uses carries a hash tag, so a multi-key command or script lands in one slot.
 */
export type Redis = IORedis | Cluster;

/**
 * Where Redis is: one server (`url`), the master that Sentinels name (`url` gives credentials
 * and database), or a cluster found through its seed nodes.
 */
export interface RedisTarget {
  url: string;
  /** Seed nodes (`redis://host:port`) of a Redis Cluster; when set, `url` is not used. */
  clusterNodes?: readonly string[];
  /** Sentinels (`redis://host:port`) to ask for the master of `sentinelName`. */
  sentinels?: readonly string[];
  sentinelName?: string;
}

/**
 * `worker`: long-lived connections for BullMQ workers; commands wait for a reconnect instead of
 * failing (`maxRetriesPerRequest: null`, as BullMQ requires).
 * `producer`: connections of request handlers and CLIs; a command fails at once while Redis is
 * away, so an API request gets an error instead of hanging.
 */
export type RedisRole = 'worker' | 'producer';

export interface RedisConnectionOptions {
  role: RedisRole;
  connectTimeoutMs?: number;
  /** Connection name shown by `CLIENT LIST`. */
  name?: string;
}

const targetOf = (target: string | RedisTarget): RedisTarget =>
  typeof target === 'string' ? { url: target } : target;

export function createRedis(target: string | RedisTarget, options: RedisConnectionOptions): Redis {
  const { url, clusterNodes, sentinels, sentinelName } = targetOf(target);
  const common: RedisOptions = {
    connectTimeout: options.connectTimeoutMs ?? 5000,
    lazyConnect: true,
    ...(options.name ? { connectionName: options.name } : {}),
  };
  const byRole: RedisOptions =
    options.role === 'worker'
      ? { maxRetriesPerRequest: null, enableReadyCheck: true }
      : {
          maxRetriesPerRequest: 1,
          enableOfflineQueue: false,
          retryStrategy: (times) => Math.min(times * 200, 2000),
        };
  if (sentinels?.length) {
    const seeds = seedsOf(sentinels, 26379);
    return new IORedis(url, {
      ...common,
      ...byRole,
      sentinels: seeds.addresses,
      name: sentinelName ?? 'mymaster',
      ...(seeds.password ? { sentinelPassword: seeds.password } : {}),
      ...(seeds.username ? { sentinelUsername: seeds.username } : {}),
      // After a failover, ask the Sentinels again rather than retrying the old master.
      failoverDetector: true,
    });
  }
  if (!clusterNodes?.length) return new IORedis(url, { ...common, ...byRole });
  const seeds = seedsOf(clusterNodes, 6379);
  const { enableOfflineQueue, retryStrategy, ...perNode } = byRole;
  const cluster: ClusterOptions = {
    lazyConnect: true,
    enableReadyCheck: true,
    // Retried while a failover promotes a replica; producers still fail fast.
    maxRedirections: 16,
    retryDelayOnFailover: 200,
    retryDelayOnClusterDown: 200,
    ...(enableOfflineQueue === false ? { enableOfflineQueue } : {}),
    ...(retryStrategy ? { clusterRetryStrategy: retryStrategy } : {}),
    redisOptions: {
      ...common,
      ...perNode,
      ...(seeds.username ? { username: seeds.username } : {}),
      ...(seeds.password ? { password: seeds.password } : {}),
      ...(seeds.tls ? { tls: {} } : {}),
    },
  };
  return new Cluster(seeds.addresses, cluster);
}

/** The addresses of seed URLs (`redis://host:port`), and the first one's credentials and TLS. */
function seedsOf(urls: readonly string[], defaultPort: number) {
  const parsed = urls.map((url) => new URL(url));
  const first = parsed[0];
  return {
    addresses: parsed.map((seed) => ({ host: seed.hostname, port: Number(seed.port || defaultPort) })),
    username: first?.username ? decodeURIComponent(first.username) : undefined,
    password: first?.password ? decodeURIComponent(first.password) : undefined,
    tls: first?.protocol === 'rediss:',
  };
}

/**
 * Runs `use` on a connection of its own to one server, made to fail at once instead of retrying
 * (probes and one-off checks), and closes it.
 */
export async function withDirectConnection<T>(
  options: RedisOptions,
  use: (redis: IORedis) => Promise<T>,
): Promise<T> {
  const redis = new IORedis({
    ...options,
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  redis.on('error', () => {});
  try {
    await redis.connect();
    return await use(redis);
  } finally {
    redis.disconnect();
  }
}

/**
 * Waits until the writes sent so far on this connection reached `replicas` replicas (WAIT; on a
 * cluster, on every master, through the connections the writes went by), at most `timeoutMs`.
 * Returns the fewest replicas that acknowledged them.
 */
export async function waitForReplicas(redis: Redis, replicas: number, timeoutMs: number): Promise<number> {
  const servers = redis instanceof Cluster ? redis.nodes('master') : [redis];
  const acked = await Promise.all(
    servers.map((server) => {
      // A master that just died answers nothing: count it as no replica instead of hanging.
      const wait = server.call('WAIT', replicas, timeoutMs).then(Number, () => 0);
      const late = new Promise<number>((resolve) => setTimeout(resolve, timeoutMs + 250, 0).unref());
      return Promise.race([wait, late]);
    }),
  );
  return Math.min(...acked);
}

/**
 * The wait a process makes before it reports work done (REDIS_WAIT_REPLICAS; a no-op at 0). Too
 * few replicas in time is logged and not an error: a replica that is down must not stop the work,
 * nor slow every job by the timeout, so after a shortfall the waits pause for a while (10 s).
 */
export function durableWrites(redis: Redis, config: Config, log: Logger): () => Promise<void> {
  const { waitReplicas, waitTimeoutMs } = config.redis;
  let pausedUntil = 0;
  return async () => {
    if (waitReplicas === 0 || Date.now() < pausedUntil) return;
    const acked = await waitForReplicas(redis, waitReplicas, waitTimeoutMs);
    if (acked >= waitReplicas) return;
    pausedUntil = Date.now() + SHORTFALL_PAUSE_MS;
    log.warn(
      { acked, wanted: waitReplicas, waitedMs: waitTimeoutMs, pausedMs: SHORTFALL_PAUSE_MS },
      'writes not on enough Redis replicas in time; going on without waiting for a while (a failover now could lose them)',
    );
  };
}

const SHORTFALL_PAUSE_MS = 10_000;

/** A new connection to the same server or cluster (for blocking reads). */
export function duplicateRedis(redis: Redis): Redis {
  return redis instanceof Cluster ? redis.duplicate() : redis.duplicate();
}

/** Where a target is, without credentials, and what to check when it does not answer. */
function describeTarget(target: string | RedisTarget): { where: string; check: string } {
  const { url, sentinels, sentinelName, clusterNodes } = targetOf(target);
  if (sentinels?.length)
    return {
      where: `the master "${sentinelName ?? 'mymaster'}" of the Sentinels at ${sentinels.map(redactUrl).join(', ')}`,
      check:
        'Check that the REDIS_SENTINELS answer and know REDIS_SENTINEL_NAME (`redis-cli -p 26379 sentinel masters`).',
    };
  if (clusterNodes?.length)
    return {
      where: `the Redis Cluster at ${clusterNodes.map(redactUrl).join(', ')}`,
      check:
        'Check that the REDIS_CLUSTER_NODES answer and the cluster state is ok (`redis-cli cluster info`).',
    };
  return {
    where: redactUrl(url),
    check: 'Start one (`redis-server`, or `docker compose up -d redis`) or point REDIS_URL at one.',
  };
}

/**
 * Opens a connection and waits until Redis answers, or throws a RedisUnavailableError that
 * names the address and what to do, after `connectTimeoutMs`.
 */
export async function connectRedis(
  target: string | RedisTarget,
  options: RedisConnectionOptions,
): Promise<Redis> {
  const redis = createRedis(target, options);
  const timeoutMs = options.connectTimeoutMs ?? 5000;
  let lastError: Error | undefined;
  const onError = (error: Error) => {
    lastError = error;
  };
  redis.on('error', onError);
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        redis.off('ready', onReady);
        reject(new Error('timed out'));
      }, timeoutMs);
      const onReady = () => {
        clearTimeout(timer);
        resolve();
      };
      redis.once('ready', onReady);
      // The first failed attempt rejects connect(); the retry strategy keeps trying until the
      // timer gives up, so the rejection itself is only remembered.
      redis.connect().catch((error: unknown) => {
        lastError = error instanceof Error ? error : new Error(String(error));
      });
    });
    await redis.ping();
    return redis;
  } catch (error) {
    redis.disconnect();
    const reason = lastError?.message ?? (error instanceof Error ? error.message : String(error));
    const { where, check } = describeTarget(target);
    throw new RedisUnavailableError(
      `Cannot reach Redis at ${where} within ${timeoutMs} ms (${reason}). ${check}`,
      { code: 'redis_unavailable', cause: lastError ?? error },
    );
  } finally {
    redis.off('error', onError);
  }
}

export interface RedisServerReport {
  version: string;
  maxmemoryPolicy: string;
  appendonly: boolean;
  /** What an operator should change; empty when the server is set up for durable queues. */
  warnings: string[];
}

/**
 * Reads the server settings that decide whether queued work survives: an evicting
 * maxmemory-policy silently deletes jobs, and without AOF a Redis restart loses them.
 * Uses INFO, which managed services allow where CONFIG GET is disabled.
 */
export async function checkRedisServer(redis: Redis): Promise<RedisServerReport> {
  if (redis instanceof Cluster) return checkCluster(redis);
  return checkNode(redis);
}

/**
 * Every node of a cluster, replicas too (a failover makes a replica the master of its slots);
 * ioredis connects only to masters, so replicas are found in CLUSTER SLOTS and asked directly.
 */
async function checkCluster(cluster: Cluster): Promise<RedisServerReport> {
  const ranges = await cluster.cluster('SLOTS');
  const addresses = new Map<string, { host: string; port: number }>();
  for (const [, , ...nodes] of ranges)
    for (const [host, port] of nodes) addresses.set(`${host}:${port}`, { host, port });
  const reports = await Promise.all(
    [...addresses.values()].map(async ({ host, port }) => {
      try {
        return await withDirectConnection({ ...cluster.options.redisOptions, host, port }, checkNode);
      } catch (error) {
        // A replica that is down must not keep the fleet from starting: say so and go on.
        const reason = error instanceof Error ? error.message : String(error);
        return {
          version: 'unknown',
          maxmemoryPolicy: 'unknown',
          appendonly: false,
          warnings: [`cannot read its settings (${reason}); check the node is up and noeviction with AOF.`],
        } satisfies RedisServerReport;
      }
    }),
  );
  const names = [...addresses.keys()];
  const warnings = reports.flatMap((report, i) =>
    report.warnings.map((warning) => `${names[i]}: ${warning}`),
  );
  const worst = reports.find((report) => report.maxmemoryPolicy !== 'noeviction') ?? reports[0]!;
  return {
    version: reports.find((report) => report.version !== 'unknown')?.version ?? 'unknown',
    maxmemoryPolicy: worst.maxmemoryPolicy,
    appendonly: reports.every((report) => report.appendonly),
    warnings,
  };
}

async function checkNode(redis: IORedis): Promise<RedisServerReport> {
  const info = parseInfo(await redis.info());
  const version = info.redis_version ?? 'unknown';
  const maxmemoryPolicy = info.maxmemory_policy ?? 'unknown';
  const appendonly = info.aof_enabled === '1';
  const warnings: string[] = [];
  if (maxmemoryPolicy !== 'noeviction') {
    warnings.push(
      `Redis maxmemory-policy is "${maxmemoryPolicy}": Redis may evict queued jobs under memory pressure. ` +
        'Set `maxmemory-policy noeviction` (redis.conf or CONFIG SET).',
    );
  }
  if (!appendonly) {
    warnings.push(
      'Redis AOF persistence is off: a Redis restart loses queued work. Set `appendonly yes` and `appendfsync everysec`.',
    );
  }
  return { version, maxmemoryPolicy, appendonly, warnings };
}

function parseInfo(text: string): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const line of text.split('\r\n')) {
    const at = line.indexOf(':');
    if (at > 0 && !line.startsWith('#')) fields[line.slice(0, at)] = line.slice(at + 1);
  }
  return fields;
}
