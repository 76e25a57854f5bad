import { z } from 'zod';
import { ConfigError, type ConfigProblem } from './errors.js';
import { DEFAULT_TENANT, TENANT_NAME } from './records.js';

/**
 * Every setting docpipe reads from the environment, in one table: the zod schema that parses the
 * string, its default, and the sentence the README shows. Nothing else reads `process.env`.
 *
 * Durations end in `_MS`, sizes in `_BYTES`. Durations marked `scaled` are multiplied by
 * TIME_SCALE, so one knob speeds up the whole simulated system (DESIGN, "Simulated time").
 */

const SECOND = 1000;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const MIB = 1024 * 1024;

interface Setting<T extends z.ZodType = z.ZodType> {
  schema: T;
  default?: string;
  doc: string;
  /** Multiplied by TIME_SCALE when loaded. */
  scaled?: boolean;
  /** Shown as `***` wherever config is printed. */
  secret?: boolean;
}

const int = (min = 0) => z.coerce.number().int().min(min);
const durationMs = (min = 0) => z.coerce.number().int().min(min);
const url = () => z.url({ protocol: /^https?$/ });
const redisUrl = () => z.url({ protocol: /^rediss?$/ });
const flag = () => z.stringbool();
const list = () =>
  z.string().transform((s) =>
    s
      .split(',')
      .map((item) => item.trim())
      .filter(Boolean),
  );

/** An API_KEYS entry: `tenant=key` or a bare key (tenant `default`). */
const apiKeyEntry = z.string().transform((entry, ctx) => {
  const at = entry.indexOf('=');
  const [name, rest] = [entry.slice(0, at), entry.slice(at + 1)];
  const [tenant, key] =
    at > 0 && TENANT_NAME.test(name) && rest.length >= 16 ? [name, rest] : [DEFAULT_TENANT, entry];
  if (key.length < 16) {
    ctx.addIssue({ code: 'custom', message: 'each API key needs at least 16 characters' });
    return z.NEVER;
  }
  return { tenant, key };
});

function setting<T extends z.ZodType>(
  schema: T,
  doc: string,
  extra: Omit<Setting<T>, 'schema' | 'doc'> = {},
) {
  return { schema, doc, ...extra } satisfies Setting<T>;
}

export const settings = {
  LOG_LEVEL: setting(z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']), 'Log level.', {
    default: 'info',
  }),
  LOG_PRETTY: setting(flag().optional(), 'Human-readable logs; default: only when stdout is a terminal.'),
  TIME_SCALE: setting(
    z.coerce.number().positive().max(1000),
    'Multiplies every scaled duration (0.01 = 100× faster).',
    {
      default: '1',
    },
  ),

  REDIS_URL: setting(redisUrl(), 'Redis connection URL.', {
    default: 'redis://127.0.0.1:6379',
    secret: true,
  }),
  REDIS_KEY_PREFIX: setting(
    z
      .string()
      .regex(
        /^[^:\s]*\{[^{}:\s]+\}[^:\s]*$/,
        'must contain a hash tag such as {docpipe} and no ":" or spaces',
      ),
    'Prefix of every Redis key; its {hash tag} keeps state, limits and the poll queue in one Redis Cluster slot (queue families get tags of their own).',
    { default: '{docpipe}' },
  ),
  REDIS_CLUSTER_NODES: setting(
    list().pipe(z.array(redisUrl()).min(1)).optional(),
    'Seed nodes of a Redis Cluster (`redis://host:port,…`); set, it replaces REDIS_URL.',
    { secret: true },
  ),
  REDIS_SENTINELS: setting(
    list().pipe(z.array(redisUrl()).min(1)).optional(),
    "Redis Sentinels (`redis://host:port,…`) that name the master of REDIS_SENTINEL_NAME; REDIS_URL's credentials and database still apply.",
    { secret: true },
  ),
  REDIS_SENTINEL_NAME: setting(z.string().min(1), 'The master group the Sentinels watch.', {
    default: 'mymaster',
  }),
  REDIS_WAIT_REPLICAS: setting(
    int(0),
    "With replicas (Sentinel, Cluster): replicas that must have a job's writes before it completes and a batch's before it is accepted (WAIT); 0: no wait, and a failover may lose the last acknowledged writes.",
    { default: '0' },
  ),
  REDIS_WAIT_TIMEOUT_MS: setting(
    durationMs(1),
    'Longest wait for REDIS_WAIT_REPLICAS; past it docpipe logs a warning and goes on.',
    { default: String(SECOND) },
  ),
  REDIS_QUEUE_FAMILIES: setting(
    int(1).max(64),
    "Upload, parse and extract queues come in this many families, each in its own cluster slot; files are spread over them by id. Set it to the cluster's masters; change it only with empty queues.",
    { default: '1' },
  ),
  REDIS_CONNECT_TIMEOUT_MS: setting(durationMs(100), 'How long producers wait for Redis before failing.', {
    default: String(5 * SECOND),
  }),

  LLAMA_CLOUD_BASE_URL: setting(
    url().optional(),
    'LlamaCloud API origin (e.g. https://api.cloud.llamaindex.ai). Unset: the embedded cloud-local.',
  ),
  LLAMA_CLOUD_API_KEY: setting(
    z.string().min(1).optional(),
    'LlamaCloud API key; required with LLAMA_CLOUD_BASE_URL.',
    {
      secret: true,
    },
  ),
  LLAMA_CLOUD_PROJECT_ID: setting(
    z.string().min(1).optional(),
    'LlamaCloud project id sent with every request.',
  ),
  HTTP_CONNECT_TIMEOUT_MS: setting(durationMs(1), 'Upstream TCP/TLS connect timeout.', {
    default: String(10 * SECOND),
  }),
  HTTP_HEADERS_TIMEOUT_MS: setting(durationMs(1), 'Upstream time to response headers.', {
    default: String(60 * SECOND),
  }),
  HTTP_BODY_TIMEOUT_MS: setting(durationMs(1), 'Upstream idle time between body chunks.', {
    default: String(120 * SECOND),
  }),
  HTTP_CONNECTIONS: setting(int(1), 'Keep-alive connections per upstream origin and process.', {
    default: '32',
  }),

  UPLOAD_CONCURRENCY: setting(int(1), 'Upload jobs one worker process runs at once.', { default: '8' }),
  PARSE_CONCURRENCY: setting(int(1), 'Parse jobs one worker process runs at once (parked jobs hold none).', {
    default: '16',
  }),
  EXTRACT_CONCURRENCY: setting(
    int(1),
    'Extract jobs one worker process runs at once (parked jobs hold none).',
    {
      default: '16',
    },
  ),
  NOTIFY_CONCURRENCY: setting(int(1), 'Batch callbacks one worker process sends at once.', { default: '4' }),
  STAGE_ATTEMPTS: setting(int(1), 'Attempts per stage job before its file fails (transient errors only).', {
    default: '5',
  }),
  RETRY_BACKOFF_MS: setting(durationMs(1), 'First retry delay; doubles per attempt, with jitter.', {
    default: String(2 * SECOND),
    scaled: true,
  }),
  WORKER_LOCK_MS: setting(
    durationMs(100),
    "Lock a worker holds on a running job; a crashed worker's jobs are recovered after it.",
    {
      default: String(30 * SECOND),
    },
  ),
  HEARTBEAT_INTERVAL_MS: setting(
    durationMs(100),
    'How often each queue gets a heartbeat job; /readyz wants a consumed job within twice this.',
    { default: String(10 * SECOND) },
  ),
  POLL_INTERVAL_MS: setting(durationMs(1), 'How often the poller asks LlamaCloud about in-flight jobs.', {
    default: String(2 * SECOND),
    scaled: true,
  }),
  UPLOAD_DEADLINE_MS: setting(durationMs(1), 'Time an upload may take, retries included.', {
    default: String(10 * MINUTE),
    scaled: true,
  }),
  PARSE_DEADLINE_MS: setting(durationMs(1), 'Time a parse job may take upstream, throttling included.', {
    default: String(30 * MINUTE),
    scaled: true,
  }),
  EXTRACT_DEADLINE_MS: setting(durationMs(1), 'Time an extract job may take upstream, throttling included.', {
    default: String(60 * MINUTE),
    scaled: true,
  }),
  BATCH_DEADLINE_MS: setting(
    durationMs(1),
    'Time after which unfinished files of a batch fail with a timeout.',
    {
      default: String(24 * HOUR),
      scaled: true,
    },
  ),

  RATE_UPLOAD_MAX: setting(
    int(1),
    'Uploads per window, across all workers (LlamaCloud: about 50 per 10 s).',
    {
      default: '50',
    },
  ),
  RATE_UPLOAD_WINDOW_MS: setting(durationMs(1), 'Window of RATE_UPLOAD_MAX.', {
    default: String(10 * SECOND),
    scaled: true,
  }),
  RATE_CREATE_MAX: setting(int(1), 'Parse/extract job creations per window, across all workers.', {
    default: '50',
  }),
  RATE_CREATE_WINDOW_MS: setting(durationMs(1), 'Window of RATE_CREATE_MAX.', {
    default: String(10 * SECOND),
    scaled: true,
  }),
  RATE_READ_MAX: setting(int(1), 'Status and result reads per window, across all workers.', {
    default: '200',
  }),
  RATE_READ_WINDOW_MS: setting(durationMs(1), 'Window of RATE_READ_MAX.', {
    default: String(10 * SECOND),
    scaled: true,
  }),
  INFLIGHT_MIN: setting(int(1), 'Lowest adaptive cap on remote jobs in flight.', { default: '2' }),
  INFLIGHT_INITIAL: setting(int(1), 'Starting cap on remote jobs in flight (the cookbook starts at 10).', {
    default: '10',
  }),
  INFLIGHT_MAX: setting(int(1), 'Highest adaptive cap on remote jobs in flight.', { default: '100' }),
  DISPATCH_WINDOW: setting(
    int(1).optional(),
    'Files admitted into the pipeline and not yet final, all tenants; fair dispatch admits more as they finish. Unset: twice INFLIGHT_MAX, so the window never starves the upstream; smaller: a new tenant waits behind fewer files.',
  ),

  CREDITS_PER_PAGE_COST_EFFECTIVE: setting(
    z.coerce.number().min(0),
    'Extract credits per page, cost_effective tier.',
    {
      default: '5',
    },
  ),
  CREDITS_PER_PAGE_AGENTIC: setting(z.coerce.number().min(0), 'Extract credits per page, agentic tier.', {
    default: '15',
  }),
  CREDITS_PER_PAGE_AGENTIC_PLUS: setting(
    z.coerce.number().min(0),
    'Extract credits per page, agentic_plus tier.',
    {
      default: '50',
    },
  ),
  CREDITS_PER_PAGE_TURBO: setting(z.coerce.number().min(0), 'Extract credits per page, turbo tier.', {
    default: '35',
  }),
  CREDITS_DAILY_CAP: setting(
    z.coerce.number().positive().optional(),
    'Most credits all batches together may hold and spend per UTC day; files past it are skipped. Unset: no cap.',
  ),

  BLOB_DIR: setting(z.string().min(1), 'Directory of the content-addressed file store.', {
    default: '.docpipe/blobs',
  }),
  RESULT_DIR: setting(z.string().min(1), 'Directory of the result store.', { default: '.docpipe/results' }),
  BLOB_MAX_BYTES: setting(int(1), 'Largest file accepted.', { default: String(100 * MIB) }),

  API_HOST: setting(z.string().min(1), 'Address the API listens on.', { default: '127.0.0.1' }),
  API_PORT: setting(int(0).max(65535), 'Port of the API (0: any free port).', { default: '3000' }),
  API_KEYS: setting(
    list().pipe(z.array(apiKeyEntry)),
    'Comma-separated bearer keys for /v1 and the dashboard, each `tenant=key` or a bare key (tenant `default`); keys of tenant `admin` act for every tenant. Empty: no auth (loopback only).',
    { default: '', secret: true },
  ),
  API_MAX_FILES: setting(int(1), 'Most files one batch may hold.', { default: '10000' }),
  API_PATH_ROOTS: setting(
    list(),
    'Comma-separated directories a batch may name files under by `path`; empty: no paths accepted.',
    { default: '' },
  ),
  API_ALLOW_PRIVATE_URLS: setting(
    flag(),
    'Let batches name files by URLs on loopback, private or link-local addresses (off: SSRF guard).',
    { default: 'false' },
  ),
  API_URL_TIMEOUT_MS: setting(durationMs(100), 'Time to fetch one file named by URL.', {
    default: String(60 * SECOND),
  }),
  API_CORS_ORIGINS: setting(
    list(),
    'Comma-separated origins allowed to call /v1 from browsers; empty: CORS off.',
    {
      default: '',
    },
  ),
  DASHBOARD_READ_ONLY: setting(flag(), 'Hide retry and cancel in the dashboard and Bull Board.', {
    default: 'false',
  }),
  PUBLIC_URL: setting(
    url().optional(),
    'Public origin of the API, for LlamaCloud webhooks; unset: polling only.',
  ),
  WEBHOOK_SIGNING_SECRET: setting(z.string().min(16).optional(), 'Secret LlamaCloud signs webhooks with.', {
    secret: true,
  }),
  CALLBACK_SIGNING_SECRET: setting(
    z.string().min(16).optional(),
    'Secret batch completion callbacks are signed with.',
    {
      secret: true,
    },
  ),
  METRICS_HOST: setting(z.string().min(1), 'Address a worker process serves /metrics and /healthz on.', {
    default: '127.0.0.1',
  }),
  METRICS_PORT: setting(
    int(0).max(65535),
    'Port of a worker process /metrics and /healthz (0: any free port).',
    {
      default: '9464',
    },
  ),
} satisfies Record<string, Setting>;

export type SettingName = keyof typeof settings;
type Flat = { [K in SettingName]: z.output<(typeof settings)[K]['schema']> };

export type Env = Readonly<Record<string, string | undefined>>;

function shape(flat: Flat) {
  return {
    logLevel: flat.LOG_LEVEL,
    logPretty: flat.LOG_PRETTY,
    timeScale: flat.TIME_SCALE,
    redis: {
      url: flat.REDIS_URL,
      /** Set: a Redis Cluster through these seed nodes. */
      clusterNodes: flat.REDIS_CLUSTER_NODES,
      /** Set: the master that these Sentinels name for `sentinelName`. */
      sentinels: flat.REDIS_SENTINELS,
      sentinelName: flat.REDIS_SENTINEL_NAME,
      keyPrefix: flat.REDIS_KEY_PREFIX,
      queueFamilies: flat.REDIS_QUEUE_FAMILIES,
      /** WAIT for this many replicas after a job's or a batch's writes (0: off). */
      waitReplicas: flat.REDIS_WAIT_REPLICAS,
      waitTimeoutMs: flat.REDIS_WAIT_TIMEOUT_MS,
      connectTimeoutMs: flat.REDIS_CONNECT_TIMEOUT_MS,
    },
    llamaCloud: {
      /** undefined: start the embedded cloud-local. */
      baseUrl: flat.LLAMA_CLOUD_BASE_URL,
      apiKey: flat.LLAMA_CLOUD_API_KEY,
      projectId: flat.LLAMA_CLOUD_PROJECT_ID,
      connectTimeoutMs: flat.HTTP_CONNECT_TIMEOUT_MS,
      headersTimeoutMs: flat.HTTP_HEADERS_TIMEOUT_MS,
      bodyTimeoutMs: flat.HTTP_BODY_TIMEOUT_MS,
      connections: flat.HTTP_CONNECTIONS,
    },
    stages: {
      concurrency: {
        upload: flat.UPLOAD_CONCURRENCY,
        parse: flat.PARSE_CONCURRENCY,
        extract: flat.EXTRACT_CONCURRENCY,
        notify: flat.NOTIFY_CONCURRENCY,
      },
      attempts: flat.STAGE_ATTEMPTS,
      workerLockMs: flat.WORKER_LOCK_MS,
      retryBackoffMs: flat.RETRY_BACKOFF_MS,
      pollIntervalMs: flat.POLL_INTERVAL_MS,
      heartbeatIntervalMs: flat.HEARTBEAT_INTERVAL_MS,
      deadlineMs: {
        upload: flat.UPLOAD_DEADLINE_MS,
        parse: flat.PARSE_DEADLINE_MS,
        extract: flat.EXTRACT_DEADLINE_MS,
        batch: flat.BATCH_DEADLINE_MS,
      },
    },
    limits: {
      upload: { max: flat.RATE_UPLOAD_MAX, windowMs: flat.RATE_UPLOAD_WINDOW_MS },
      create: { max: flat.RATE_CREATE_MAX, windowMs: flat.RATE_CREATE_WINDOW_MS },
      read: { max: flat.RATE_READ_MAX, windowMs: flat.RATE_READ_WINDOW_MS },
      inflight: { min: flat.INFLIGHT_MIN, initial: flat.INFLIGHT_INITIAL, max: flat.INFLIGHT_MAX },
      dispatchWindow: flat.DISPATCH_WINDOW ?? 2 * flat.INFLIGHT_MAX,
    },
    creditsPerPage: {
      cost_effective: flat.CREDITS_PER_PAGE_COST_EFFECTIVE,
      agentic: flat.CREDITS_PER_PAGE_AGENTIC,
      agentic_plus: flat.CREDITS_PER_PAGE_AGENTIC_PLUS,
      turbo: flat.CREDITS_PER_PAGE_TURBO,
    },
    creditsDailyCap: flat.CREDITS_DAILY_CAP,
    storage: {
      blobDir: flat.BLOB_DIR,
      resultDir: flat.RESULT_DIR,
      blobMaxBytes: flat.BLOB_MAX_BYTES,
    },
    api: {
      host: flat.API_HOST,
      port: flat.API_PORT,
      keys: flat.API_KEYS.map((entry) => entry.key),
      /** The tenant each key belongs to. */
      tenants: Object.fromEntries(flat.API_KEYS.map((entry) => [entry.key, entry.tenant])) as Record<
        string,
        string
      >,
      maxFiles: flat.API_MAX_FILES,
      pathRoots: flat.API_PATH_ROOTS,
      allowPrivateUrls: flat.API_ALLOW_PRIVATE_URLS,
      urlTimeoutMs: flat.API_URL_TIMEOUT_MS,
      corsOrigins: flat.API_CORS_ORIGINS,
      readOnly: flat.DASHBOARD_READ_ONLY,
      publicUrl: flat.PUBLIC_URL,
      webhookSigningSecret: flat.WEBHOOK_SIGNING_SECRET,
      callbackSigningSecret: flat.CALLBACK_SIGNING_SECRET,
    },
    metrics: { host: flat.METRICS_HOST, port: flat.METRICS_PORT },
  };
}

type DeepReadonly<T> = T extends (infer U)[]
  ? readonly DeepReadonly<U>[]
  : T extends object
    ? { readonly [K in keyof T]: DeepReadonly<T[K]> }
    : T;

export type Config = DeepReadonly<ReturnType<typeof shape>>;

/** cloud-local's address and key when it runs standalone (`npm run start -w @docpipe/cloud-local`). */
export const CLOUD_LOCAL_DEFAULT = { baseUrl: 'http://127.0.0.1:8787', apiKey: 'llx-cloud-local' } as const;

/** The LlamaCloud origin to talk to: the configured one, else a standalone cloud-local. */
export function upstreamOf(config: Config): { baseUrl: string; apiKey: string; cloudLocal: boolean } {
  if (config.llamaCloud.baseUrl)
    return { baseUrl: config.llamaCloud.baseUrl, apiKey: config.llamaCloud.apiKey!, cloudLocal: false };
  return { ...CLOUD_LOCAL_DEFAULT, cloudLocal: true };
}

/** Rules that involve more than one variable. */
function crossChecks(flat: Flat): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  if (flat.LLAMA_CLOUD_BASE_URL && !flat.LLAMA_CLOUD_API_KEY) {
    problems.push({
      variable: 'LLAMA_CLOUD_API_KEY',
      message: 'required when LLAMA_CLOUD_BASE_URL is set (unset both to use the embedded cloud-local)',
    });
  }
  if (flat.REDIS_CLUSTER_NODES && flat.REDIS_SENTINELS) {
    problems.push({
      variable: 'REDIS_SENTINELS',
      message: 'set it or REDIS_CLUSTER_NODES, not both (a Redis Cluster fails over by itself)',
    });
  }
  if (flat.REDIS_WAIT_REPLICAS > 0 && flat.REDIS_WAIT_TIMEOUT_MS * 4 > flat.WORKER_LOCK_MS) {
    problems.push({
      variable: 'REDIS_WAIT_TIMEOUT_MS',
      message: `must be at most a quarter of WORKER_LOCK_MS (${flat.WORKER_LOCK_MS}): a job waits for replicas while it holds its lock`,
    });
  }
  const { INFLIGHT_MIN: min, INFLIGHT_INITIAL: initial, INFLIGHT_MAX: max } = flat;
  if (!(min <= initial && initial <= max)) {
    problems.push({
      variable: 'INFLIGHT_INITIAL',
      message: `must lie between INFLIGHT_MIN (${min}) and INFLIGHT_MAX (${max}), got ${initial}`,
    });
  }
  const loopback = ['127.0.0.1', '::1', 'localhost'].includes(flat.API_HOST);
  if (flat.API_KEYS.length === 0 && !loopback) {
    problems.push({
      variable: 'API_KEYS',
      message: `required when the API listens on ${flat.API_HOST}, not only on loopback`,
    });
  }
  if (flat.PUBLIC_URL && !flat.WEBHOOK_SIGNING_SECRET) {
    problems.push({
      variable: 'WEBHOOK_SIGNING_SECRET',
      message: 'required when PUBLIC_URL is set, so that webhooks can be verified',
    });
  }
  return problems;
}

/**
 * Parses every setting from `env` (pass `process.env` at the entry point, a plain object in
 * tests). Returns a frozen, typed config, or throws one ConfigError listing every bad variable.
 */
export function loadConfig(env: Env): Config {
  const problems: ConfigProblem[] = [];
  const flat: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(settings) as [SettingName, Setting][]) {
    const value = env[name];
    const raw = value === undefined || value === '' ? spec.default : value;
    const parsed = spec.schema.safeParse(raw);
    if (!parsed.success) {
      const issues = parsed.error.issues.map((issue) => issue.message).join('; ');
      const shown = spec.secret || raw === undefined ? '' : ` (got ${JSON.stringify(raw)})`;
      problems.push({ variable: name, message: `${issues}${shown}` });
      continue;
    }
    flat[name] = parsed.data;
  }
  if (problems.length > 0) throw new ConfigError(problems);

  const typed = flat as Flat;
  problems.push(...crossChecks(typed));
  if (problems.length > 0) throw new ConfigError(problems);

  for (const [name, spec] of Object.entries(settings) as [SettingName, Setting][]) {
    if (spec.scaled) flat[name] = Math.max(1, Math.round((flat[name] as number) * typed.TIME_SCALE));
  }
  return deepFreeze(shape(typed));
}

/** loadConfig for a process's entry point: a bad setting prints every problem and exits 2. */
export function loadConfigOrExit(env: Env): Config {
  try {
    return loadConfig(env);
  } catch (error) {
    console.error(error instanceof ConfigError ? error.message : error);
    process.exit(2);
  }
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}

/** The README's configuration table, generated from `settings` so that the two cannot drift. */
export function configTable(): string {
  const rows = Object.entries(settings).map(([name, spec]: [string, Setting]) => {
    const fallback =
      spec.default === undefined ? '—' : spec.default === '' ? '(empty)' : `\`${spec.default}\``;
    const doc = spec.scaled ? `${spec.doc} Scaled by TIME_SCALE.` : spec.doc;
    return `| \`${name}\` | ${fallback} | ${doc} |`;
  });
  return ['| Variable | Default | Meaning |', '| --- | --- | --- |', ...rows].join('\n');
}
