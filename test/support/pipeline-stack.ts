import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { start as startApi } from '@docpipe/api';
import { type CloudLocal, start as startCloudLocal } from '@docpipe/cloud-local';
import {
  type BatchRecord,
  type BatchSpec,
  type Config,
  closeQueues,
  connectRedis,
  createBatch,
  createLogger,
  createQueues,
  dispatcherFor,
  durableWrites,
  type Env,
  jobId,
  LocalBlobStore,
  type Logger,
  loadConfig,
  type NewFile,
  type Queues,
  type Redis,
  type SimConfigUpdate,
  StateStore,
  TERMINAL_FILE_STATES,
} from '@docpipe/core';
import { freePort, type PrivateRedis, type RedisServerOptions, startRedis } from '@docpipe/testing';
import { start as startWorker } from '@docpipe/worker';

export interface StackOptions {
  sim?: SimConfigUpdate;
  env?: Env;
  /** The private redis-server's settings; default AOF with fsync on every write. */
  redis?: RedisServerOptions;
  /** The address Redis and cloud-local listen on (default 127.0.0.1). */
  host?: string;
  /**
   * Use the Redis these settings name (`REDIS_CLUSTER_NODES`, `REDIS_SENTINELS` …) instead of a
   * private redis-server.
   */
  redisEnv?: Env;
  /** cloud-local's logger (default: warnings to stdout). */
  cloudLogger?: Logger;
}

/**
 * A whole docpipe deployment for one test: a private redis-server (AOF on), cloud-local, a blob
 * and result directory, and workers in this process or as separate processes.
 */
export async function startStack(options: StackOptions = {}) {
  const redisServer: PrivateRedis | undefined = options.redisEnv
    ? undefined
    : await startRedis({
        appendonly: true,
        ...options.redis,
        ...(options.host ? { host: options.host } : {}),
      });
  let cloud: CloudLocal = await startCloudLocal({
    ...(options.host ? { host: options.host } : {}),
    parseThreads: 2,
    sim: options.sim ?? {},
    ...(options.cloudLogger ? { logger: options.cloudLogger } : {}),
  });
  const dir = await mkdtemp(join(tmpdir(), 'docpipe-e2e-'));
  // Stage deadlines are scaled with simulated time, but parsing is real work that does not
  // scale: keep them at a real minute so a cold parser thread never times a file out.
  const scale = Number(options.env?.TIME_SCALE ?? 1);
  const realMinute = String(Math.round(60_000 / scale));
  const env: Env = {
    PARSE_DEADLINE_MS: realMinute,
    EXTRACT_DEADLINE_MS: realMinute,
    ...(redisServer ? { REDIS_URL: redisServer.url } : options.redisEnv),
    LLAMA_CLOUD_BASE_URL: cloud.url,
    LLAMA_CLOUD_API_KEY: cloud.apiKey,
    BLOB_DIR: join(dir, 'blobs'),
    RESULT_DIR: join(dir, 'results'),
    LOG_LEVEL: 'error',
    LOG_PRETTY: 'false',
    METRICS_PORT: '0',
    ...options.env,
  };
  const config: Config = loadConfig(env);
  const redis: Redis = await connectRedis(config.redis, { role: 'worker' });
  const quiet = createLogger({ level: 'error', pretty: false });
  const queues: Queues = createQueues(redis, config, quiet);
  const durable = durableWrites(redis, config, quiet);
  const state = new StateStore(redis, config.redis.keyPrefix);
  const dispatcher = dispatcherFor(redis, queues, config);
  const blobs = new LocalBlobStore(config.storage.blobDir, config.storage.blobMaxBytes);
  const inProcess: { close(): Promise<void> }[] = [];
  const children = new Set<ChildProcess>();

  /** What a stuck batch's unfinished files look like: record, task sets and their jobs' states. */
  async function unfinishedFiles(batch: BatchRecord) {
    const p = config.redis.keyPrefix;
    const files = (await state.listFiles(batch.id, { limit: 10_000 })).items.filter(
      (file) => !TERMINAL_FILE_STATES.includes(file.state),
    );
    return Promise.all(
      files.slice(0, 5).map(async (file) => {
        const ids = { batchId: batch.id, fileId: file.id, round: file.round };
        const family = queues.of(file.id);
        const jobs = [
          [family.upload, jobId({ ...ids, stage: 'upload' })],
          [family.parse, jobId({ ...ids, stage: 'parse' })],
          ...batch.spec.extract.map(
            (spec) => [family.extract, jobId({ ...ids, stage: 'extract', task: spec.name })] as const,
          ),
        ] as const;
        return {
          id: file.id,
          state: file.state,
          round: file.round,
          record: await redis.hgetall(`${p}:file:${file.id}`),
          tasksFinished: await redis.smembers(`${p}:file:${file.id}:tasks-finished`),
          tasksFailed: await redis.smembers(`${p}:file:${file.id}:tasks-failed`),
          jobs: Object.fromEntries(
            await Promise.all(jobs.map(async ([queue, id]) => [id, await queue.getJobState(id)] as const)),
          ),
        };
      }),
    );
  }

  return {
    /** The private redis-server (not on a cluster stack). */
    get redisServer(): PrivateRedis {
      if (!redisServer) throw new Error('this stack runs on the Redis of options.redisEnv');
      return redisServer;
    },
    get cloud() {
      return cloud;
    },
    config,
    env,
    redis,
    queues,
    state,
    dispatcher,
    blobs,

    async enqueue(
      documents: { name: string; bytes: Buffer }[],
      spec: BatchSpec,
      extra: { callbackUrl?: string; priority?: number; budgetCredits?: number; tenant?: string } = {},
    ) {
      const files: NewFile[] = [];
      for (const doc of documents) {
        const stored = await blobs.put(doc.bytes);
        files.push({ name: doc.name, sha256: stored.sha256, sizeBytes: stored.sizeBytes });
      }
      return createBatch({ state, dispatcher, durable }, { spec, files, ...extra });
    },

    async startWorkerInProcess() {
      const worker = await startWorker(config, { logger: createLogger({ level: 'error', pretty: false }) });
      inProcess.push(worker);
      return worker;
    },

    /** The producer API on a free port, with extra settings on top of the stack's. */
    async startApi(extraEnv: Env = {}, logger: Logger = createLogger({ level: 'error', pretty: false })) {
      const api = await startApi(loadConfig({ ...env, ...extraEnv }), { port: 0, logger });
      inProcess.push(api);
      return api;
    },

    /** The producer API as its own OS process (for load: apart from the process measuring it). */
    async spawnApi(extraEnv: Env = {}): Promise<{ url: string; child: ChildProcess }> {
      const port = await freePort();
      const child = spawnTsx('../../apps/api/src/main.ts', [], {
        ...env,
        API_PORT: String(port),
        ...extraEnv,
      });
      children.add(child);
      child.once('exit', () => children.delete(child));
      const url = `http://127.0.0.1:${port}`;
      for (let i = 0; ; i++) {
        if (child.exitCode !== null) throw new Error(`the API process exited with ${child.exitCode}`);
        if (
          await fetch(`${url}/healthz`).then(
            (r) => r.ok,
            () => false,
          )
        )
          return { url, child };
        if (i > 300) throw new Error('the API process did not answer /healthz within 30 s');
        await new Promise((r) => setTimeout(r, 100));
      }
    },

    /**
     * Restarts cloud-local on the same address with the same key and its current simulation,
     * in memory: every file and job it held is gone, as after an upstream outage that lost them.
     * A new `apiKey` changes the key it accepts.
     */
    async restartCloud(changes: { apiKey?: string } = {}): Promise<void> {
      const { sim } = cloud;
      const port = Number(new URL(cloud.url).port);
      await cloud.close();
      cloud = await startCloudLocal({
        ...(options.host ? { host: options.host } : {}),
        port,
        apiKey: changes.apiKey ?? cloud.apiKey,
        parseThreads: 2,
        sim: sim.config,
        ...(options.cloudLogger ? { logger: options.cloudLogger } : {}),
      });
    },

    /** Reads or changes cloud-local's simulation (`/_sim/<path>`; a body makes it a POST). */
    async sim<T = unknown>(path: string, body?: unknown): Promise<T> {
      const response = await fetch(`${cloud.url}/_sim/${path}`, {
        method: body === undefined ? 'GET' : 'POST',
        headers: { 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      if (!response.ok)
        throw new Error(`/_sim/${path} answered ${response.status}: ${await response.text()}`);
      return (await response.json()) as T;
    },

    /**
     * A worker as its own OS process (for SIGKILL tests), serving some stages or all of them;
     * `netns`: inside that network namespace (`ip netns exec`), as if on another host.
     */
    spawnWorker(
      options: {
        stages?: readonly string[];
        env?: Env;
        output?: (chunk: Buffer) => void;
        netns?: string;
      } = {},
    ): ChildProcess {
      const stages = options.stages ? ['--stages', options.stages.join(',')] : [];
      const child = spawnTsx(
        '../../apps/worker/src/main.ts',
        stages,
        { ...env, ...options.env },
        options.output,
        options.netns ? ['ip', 'netns', 'exec', options.netns] : [],
      );
      children.add(child);
      child.once('exit', () => children.delete(child));
      return child;
    },

    /** Files of the batch in a final state, completed or failed. */
    async finished(batchId: string): Promise<number> {
      const { counters } = await state.getBatch(batchId);
      return counters.byState.completed + counters.byState.failed;
    },

    /** Waits until at least `count` files of the batch are final; throws past `deadline` (epoch ms). */
    async waitForFinished(batchId: string, count: number, deadline: number): Promise<number> {
      for (;;) {
        const finished = await this.finished(batchId);
        if (finished >= count) return finished;
        if (Date.now() > deadline) throw new Error(`${finished} of ${count} files final by the deadline`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },

    async waitForBatch(batchId: string, timeoutMs = 120_000): Promise<BatchRecord> {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const batch = await state.getBatch(batchId);
        if (batch.status !== 'running') return batch;
        if (Date.now() > deadline) {
          const queueCounts = Object.fromEntries(
            await Promise.all(
              queues.all.map(async (queue) => [
                `${queue.opts.prefix}:${queue.name}`,
                await queue.getJobCounts(),
              ]),
            ),
          );
          const inflight = {
            parse: await redis.zcard(`${config.redis.keyPrefix}:inflight:parse`),
            extract: await redis.zcard(`${config.redis.keyPrefix}:inflight:extract`),
          };
          throw new Error(
            `batch ${batchId} still running after ${timeoutMs} ms: files ${JSON.stringify(batch.counters.byState)}, ` +
              `queues ${JSON.stringify(queueCounts)}, in flight ${JSON.stringify(inflight)}; ` +
              `unfinished files: ${JSON.stringify(await unfinishedFiles(batch))}`,
          );
        }
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },

    async stop() {
      for (const worker of inProcess) await worker.close();
      for (const child of children) child.kill('SIGKILL');
      await closeQueues(queues);
      redis.disconnect();
      await cloud.close();
      await redisServer?.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

export type Stack = Awaited<ReturnType<typeof startStack>>;

/** A TypeScript entry point of this repository as a child process (its sources run through tsx). */
function spawnTsx(
  entry: string,
  args: string[],
  env: Env,
  output?: (chunk: Buffer) => void,
  wrapper: string[] = [],
): ChildProcess {
  const command = [
    process.execPath,
    '--conditions=@docpipe/source',
    '--import',
    'tsx',
    new URL(entry, import.meta.url).pathname,
    ...args,
  ];
  const [program, ...rest] = [...wrapper, ...command];
  const child = spawn(program!, rest, {
    env: { ...process.env, ...env } as NodeJS.ProcessEnv,
    stdio: ['ignore', output ? 'pipe' : 'ignore', 'pipe'],
  });
  child.stderr?.on('data', output ?? (() => {}));
  if (output) child.stdout?.on('data', output);
  return child;
}
