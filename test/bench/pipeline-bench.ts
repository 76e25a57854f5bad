/**
 * Benchmarks: docpipe against seed 000's cookbook pattern and against the ideal, side by side
 * in one run, each against a fresh cloud-local with the same simulation settings.
 *
 *   npm run bench              full size (A: 500 documents, C: 100 documents × 3 schemas)
 *   npm run bench -- --quick   a few minutes (A: 150 documents, C: 40 × 3); CI prints its table
 *   --scale 0.05               another time scale (default 1/100)
 *
 * A. Rate-limited throughput: documents of 1–20 pages, 30% agentic; 10 RUNNING extract jobs;
 *    5 uploads/s, 10 creates/s, 20 reads/s; seed 000's latencies. Everything runs at time scale
 *    1/100 (latencies, rate windows, poll intervals, docpipe's TIME_SCALE), and every figure is
 *    reported in simulated time, so it describes the real-time system.
 *    docpipe with 1 and 4 worker processes; the cookbook's batch pattern (upload all, a
 *    semaphore of 10, poll every job every 2 s) on the official SDK; and the ideal, the lower
 *    bound of the simulation model. With the SDK's default retries the cookbook loses most files
 *    to the upload limit (as the fragile script it is would), so it also runs with retries raised
 *    to 10, and "× baseline" compares with that run.
 * C. Parse once, extract many: 3 schemas per document, docpipe against the cookbook's
 *    parse-then-extract sequence with a semaphore of 10.
 * D. One Redis or a Redis Cluster: B's drain with 3 worker processes on one Redis, on one Redis
 *    with 3 queue families, and on a 3-master Redis Cluster; Redis commands per document summed
 *    over the servers, and the busiest server's share of them.
 *
 * Writes test/bench/results/<time>.json and .md (the markdown is also printed). Nothing here
 * asserts a timing: the figures are for reading, side by side.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { type BatchSpec, COOKBOOK_LATENCY, type SimConfigUpdate, type SimStats } from '@docpipe/core';
import { makePdf } from '@docpipe/testing';
import LlamaCloud from '@llamaindex/llama-cloud';
import { type Stack, startStack } from '../support/pipeline-stack.js';
import { completionChart } from './chart.js';
import { cpuMs } from './measure.js';
import { type BResult, bTable, docpipeB, dTable, oneDocuments, rawBullmqCeiling } from './scenario-b.js';

const QUICK = process.argv.includes('--quick');
const onlyArg = process.argv.indexOf('--scenarios');
/** `--scenarios B` or `--scenarios A,C`: run only these (default: all). */
const SCENARIOS =
  onlyArg > 0 ? (process.argv[onlyArg + 1] ?? '').toUpperCase().split(',') : ['A', 'B', 'C', 'D'];
const scaleArg = process.argv.indexOf('--scale');
/** DESIGN's benchmark scale is 1/100; `--scale 0.05` runs slower, where docpipe's CPU per document weighs less. */
const SCALE = scaleArg > 0 ? Number(process.argv[scaleArg + 1]) : 0.01;
const RATES = { upload: 5, create: 10, read: 20 }; // per simulated second
const CAPACITY = 10;
const POLL_MS = 2000; // the cookbook's poll interval, before scaling
const TIERS = { cost_effective: 0.7, agentic: 0.3 } as const;

type Tier = keyof typeof TIERS;
interface Doc {
  name: string;
  bytes: Buffer;
  pages: number;
  tier: Tier;
}

/** Deterministic documents: pages 1–20 (a few long ones), tier by position. */
function documents(count: number, prefix: string): Doc[] {
  return Array.from({ length: count }, (_, i) => {
    const pages = 1 + ((i * 7) % 20);
    const tier: Tier = i % 10 < 7 ? 'cost_effective' : 'agentic';
    const body = Array.from({ length: pages }, (_, p) => [
      `Invoice Number: ${prefix}-${i}`,
      `Page ${p + 1} of ${pages}`,
      'Total Amount: 10.00 EUR',
    ]);
    return { name: `${prefix}-${i}.pdf`, bytes: makePdf(body), pages, tier };
  });
}

const SCHEMAS = ['invoice_number', 'total_amount', 'page_note'].map((field) => ({
  type: 'object',
  properties: { [field]: { type: ['string', 'number', 'null'] } },
}));

const sim: SimConfigUpdate = {
  timeScale: SCALE,
  latency: COOKBOOK_LATENCY,
  capacity: CAPACITY,
  // One time scale for everything (DESIGN, "Simulated time"): 1 s windows become 10 ms.
  limits: {
    upload: { max: RATES.upload, windowMs: 1000 },
    create: { max: RATES.create, windowMs: 1000 },
    read: { max: RATES.read, windowMs: 1000 },
  },
};

/** docpipe is told the server's limits; its windows are scaled by the same TIME_SCALE. */
const docpipeEnv = {
  TIME_SCALE: String(SCALE),
  RATE_UPLOAD_MAX: String(RATES.upload),
  RATE_UPLOAD_WINDOW_MS: '1000',
  RATE_CREATE_MAX: String(RATES.create),
  RATE_CREATE_WINDOW_MS: '1000',
  RATE_READ_MAX: String(RATES.read),
  RATE_READ_WINDOW_MS: '1000',
  LOG_LEVEL: 'warn',
};

interface RunResult {
  label: string;
  makespanS: number;
  completed: number;
  failed: number;
  requestsPerDoc: Record<string, number>;
  rateLimited: number;
  throttledS: number;
  duplicates: number;
  parseJobs: number;
  extractJobs: number;
  credits: number;
  cpuMsPerDoc: number | null;
  loopLagP99Ms: number;
  /** Jobs whose real work in cloud-local outlasted their simulated latency, and the total excess (simulated s). */
  overrunJobs: number;
  overrunS: number;
  /** Seconds after the start at which each document finished (for the curve). */
  finishedAt: number[];
}

/** A job's latency in simulated seconds (all figures below are simulated: real time / SCALE). */
const latencyS = (tier: Tier | 'cost_effective_parse', pages: number) => {
  const model = tier === 'cost_effective_parse' ? COOKBOOK_LATENCY.cost_effective : COOKBOOK_LATENCY[tier];
  return (model.baseMs + model.perPageMs * pages) / 1000;
};

/** The lower bound of the model: work over capacity, request-rate floors, the longest job. */
function ideal(docs: Doc[], jobsPerDoc = 1): number {
  const work = docs.reduce((sum, d) => sum + latencyS(d.tier, d.pages) * jobsPerDoc, 0);
  return Math.max(
    work / CAPACITY,
    docs.length / RATES.upload,
    (docs.length * jobsPerDoc) / RATES.create,
    (docs.length * jobsPerDoc) / RATES.read,
    ...docs.map((d) => latencyS(d.tier, d.pages)),
  );
}

interface Runner {
  /** Before the clock starts (worker processes boot: a deployment's workers are warm). */
  prepare?(stack: Stack): Promise<void>;
  run(
    stack: Stack,
    finished: (at: number) => void,
  ): Promise<{ completed: number; failed: number; cpuMs?: number }>;
}

/**
 * A deployment's LlamaCloud is warm: before the clock starts, run a few extractions so that
 * cloud-local's parser threads are loaded and compiled (cold, its first jobs outlast their
 * simulated latency by seconds), then zero its statistics.
 */
async function warmUp(stack: Stack): Promise<void> {
  const client = new LlamaCloud({ apiKey: stack.cloud.apiKey, baseURL: stack.cloud.url, maxRetries: 10 });
  await Promise.all(
    documents(6, 'warm').map(async (doc) => {
      const file = await client.files.create({ file: new File([doc.bytes], doc.name), purpose: 'extract' });
      let job = await client.extract.create({
        file_input: file.id,
        configuration: { data_schema: SCHEMAS[0]!, tier: 'cost_effective', extraction_target: 'per_doc' },
      });
      while (!['COMPLETED', 'FAILED', 'CANCELLED'].includes(job.status)) {
        await new Promise((r) => setTimeout(r, POLL_MS * SCALE));
        job = await client.extract.get(job.id);
      }
    }),
  );
  await stack.sim('reset', {});
}

async function measure(label: string, docCount: number, runner: Runner): Promise<RunResult> {
  const stack = await startStack({ sim, env: docpipeEnv });
  await warmUp(stack);
  await runner.prepare?.(stack);
  const lag = monitorEventLoopDelay({ resolution: 10 });
  lag.enable();
  const finishedAt: number[] = [];
  const started = performance.now();
  try {
    const outcome = await runner.run(stack, (at) => finishedAt.push((at - started) / 1000 / SCALE));
    const makespanS = (performance.now() - started) / 1000 / SCALE;
    const stats = await stack.sim<SimStats>('stats');
    const requestsPerDoc = Object.fromEntries(
      Object.entries(stats.requests)
        .filter(([route]) => route.includes('/api/'))
        .map(([route, byStatus]) => [route, Object.values(byStatus).reduce((a, b) => a + b, 0) / docCount]),
    );
    return {
      label,
      makespanS,
      completed: outcome.completed,
      failed: outcome.failed,
      requestsPerDoc,
      rateLimited: stats.rateLimited,
      throttledS: stats.throttledMs / 1000 / SCALE,
      duplicates: stats.duplicateJobs,
      parseJobs: stats.jobsCreated.parse,
      extractJobs: stats.jobsCreated.extract,
      credits: stats.creditsBilled,
      cpuMsPerDoc: outcome.cpuMs === undefined ? null : outcome.cpuMs / docCount,
      loopLagP99Ms: lag.percentile(99) / 1e6,
      overrunJobs: stats.overrunJobs,
      overrunS: stats.overrunMs / 1000 / SCALE,
      finishedAt: finishedAt.sort((a, b) => a - b),
    };
  } finally {
    lag.disable();
    await stack.stop();
  }
}

/** docpipe: one batch per tier (a batch has one spec), `workers` warm worker processes. */
function docpipe(docs: Doc[], workers: number, schemas: number): Runner {
  let children: ReturnType<Stack['spawnWorker']>[] = [];
  return {
    async prepare(stack) {
      children = Array.from({ length: workers }, () => stack.spawnWorker());
      // Ready when every process has recorded itself as consuming (its first heartbeat).
      for (let i = 0; i < 600; i++) {
        if ((await stack.redis.hlen(`${stack.config.redis.keyPrefix}:workers`)) >= workers) return;
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error(`${workers} worker processes did not start within 30 s`);
    },
    run: (stack, finished) => runDocpipe(stack, finished, docs, schemas, children),
  };
}

async function runDocpipe(
  stack: Stack,
  finished: (at: number) => void,
  docs: Doc[],
  schemas: number,
  children: ReturnType<Stack['spawnWorker']>[],
) {
  const batches = [];
  for (const tier of Object.keys(TIERS) as Tier[]) {
    const mine = docs.filter((d) => d.tier === tier);
    if (!mine.length) continue;
    const spec: BatchSpec = {
      extract: SCHEMAS.slice(0, schemas).map((data_schema, i) => ({
        name: `s${i}`,
        data_schema,
        tier,
        extraction_target: 'per_doc' as const,
        cite_sources: true,
        confidence_scores: true,
      })),
    };
    batches.push((await stack.enqueue(mine, spec)).batch.id);
  }
  let seen = 0;
  for (;;) {
    let open = 0;
    let done = 0;
    for (const id of batches) {
      const batch = await stack.state.getBatch(id);
      if (batch.status === 'running') open++;
      done += batch.counters.byState.completed + batch.counters.byState.failed;
    }
    for (; seen < done; seen++) finished(performance.now());
    if (open === 0) break;
    await new Promise((r) => setTimeout(r, 10));
  }
  let cpu = 0;
  for (const child of children) if (child.pid) cpu += await cpuMs(child.pid);
  let completed = 0;
  let failed = 0;
  for (const id of batches) {
    const batch = await stack.state.getBatch(id);
    completed += batch.counters.byState.completed;
    failed += batch.counters.byState.failed;
  }
  return { completed, failed, cpuMs: cpu };
}

/**
 * Seed 000's batch pattern, ported faithfully to TypeScript on the official SDK (default
 * retries): upload every file at once, then extract with a semaphore of 10, each job polled
 * every 2 s (scaled). `schemas` > 1: parse first, then one extraction per schema in sequence.
 */
function cookbook(docs: Doc[], schemas: number, maxRetries?: number): Runner {
  return { run: (stack, finished) => runCookbook(stack, finished, docs, schemas, maxRetries) };
}

async function runCookbook(
  stack: Stack,
  finished: (at: number) => void,
  docs: Doc[],
  schemas: number,
  maxRetries?: number,
) {
  const client = new LlamaCloud({
    apiKey: stack.cloud.apiKey,
    baseURL: stack.cloud.url,
    ...(maxRetries === undefined ? {} : { maxRetries }),
  });
  const sleep = () => new Promise((r) => setTimeout(r, POLL_MS * SCALE));
  const settled = await Promise.allSettled(
    docs.map((d) => client.files.create({ file: new File([d.bytes], d.name), purpose: 'extract' })),
  );
  let active = 0;
  const waiting: (() => void)[] = [];
  const acquire = async () => {
    while (active >= CAPACITY) await new Promise<void>((r) => waiting.push(r));
    active++;
  };
  const release = () => {
    active--;
    waiting.shift()?.();
  };
  const extract = async (input: string, tier: Tier, schema: (typeof SCHEMAS)[number]) => {
    let job = await client.extract.create({
      file_input: input,
      configuration: { data_schema: schema, tier, extraction_target: 'per_doc' },
    });
    while (!['COMPLETED', 'FAILED', 'CANCELLED'].includes(job.status)) {
      await sleep();
      job = await client.extract.get(job.id);
    }
    return job.status === 'COMPLETED';
  };
  const outcomes = await Promise.all(
    docs.map(async (doc, i) => {
      const upload = settled[i]!;
      if (upload.status === 'rejected') return false;
      await acquire();
      try {
        let input = upload.value.id;
        if (schemas > 1) {
          let parse = await client.parsing.create({
            file_id: input,
            tier: 'cost_effective',
            version: 'latest',
          });
          while (!['COMPLETED', 'FAILED', 'CANCELLED'].includes(parse.status)) {
            await sleep();
            parse = (await client.parsing.get(parse.id)).job;
          }
          if (parse.status !== 'COMPLETED') return false;
          input = parse.id;
        }
        let ok = true;
        for (const schema of SCHEMAS.slice(0, schemas)) ok = (await extract(input, doc.tier, schema)) && ok;
        return ok;
      } catch {
        return false; // the cookbook's gather would raise; here the file counts as failed
      } finally {
        release();
        finished(performance.now());
      }
    }),
  );
  return { completed: outcomes.filter(Boolean).length, failed: outcomes.filter((ok) => !ok).length };
}

const pad = (n: number, d = 1) => n.toFixed(d);
const routeShort = (route: string) =>
  route
    .replace('/api/v1/beta/files', 'files')
    .replace('/api/v2/extract', 'extract')
    .replace('/api/v2/parse', 'parse');

function table(title: string, idealS: number, runs: RunResult[], baseline: RunResult | undefined): string {
  const routes = [...new Set(runs.flatMap((r) => Object.keys(r.requestsPerDoc)))].sort();
  const lines = [
    `### ${title}`,
    '',
    `Ideal (lower bound of the model): **${pad(idealS)} s**`,
    '',
    '| Run | Makespan | × ideal | × baseline | Completed | Failed | 429s | THROTTLED | Duplicates | Parse jobs | Extract jobs | Credits | CPU ms/doc | cloud-local lag p99 | Jobs over their latency |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...runs.map(
      (r) =>
        `| ${r.label} | ${pad(r.makespanS)} s | ${pad(r.makespanS / idealS, 2)} | ${baseline ? pad(r.makespanS / baseline.makespanS, 2) : '—'} | ${r.completed} | ${r.failed} | ${r.rateLimited} | ${pad(r.throttledS)} s | ${r.duplicates} | ${r.parseJobs} | ${r.extractJobs} | ${r.credits} | ${r.cpuMsPerDoc === null ? '—' : pad(r.cpuMsPerDoc)} | ${pad(r.loopLagP99Ms)} ms | ${r.overrunJobs} (${pad(r.overrunS)} s) |`,
    ),
    '',
    'Upstream requests per document:',
    '',
    `| Run | ${routes.map(routeShort).join(' | ')} |`,
    `| --- | ${routes.map(() => '---:').join(' | ')} |`,
    ...runs.map(
      (r) => `| ${r.label} | ${routes.map((route) => pad(r.requestsPerDoc[route] ?? 0, 2)).join(' | ')} |`,
    ),
    '',
  ];
  return lines.join('\n');
}

/** The runs of one scenario, one after another, each against its own fresh stack. */
async function measureEach(
  scenario: string,
  docCount: number,
  runs: [string, Runner][],
): Promise<RunResult[]> {
  const results: RunResult[] = [];
  for (const [label, runner] of runs) {
    console.info(`${scenario}: ${label}…`);
    results.push(await measure(label, docCount, runner));
  }
  return results;
}

const a = documents(QUICK ? 150 : 500, 'a');
const bCount = QUICK ? 1000 : 10_000;
const c = documents(QUICK ? 40 : 100, 'c').map((d) => ({ ...d, tier: 'cost_effective' as const }));
const started = new Date();
const stamp = `${started.toISOString().replace(/[:.]/g, '-')}${QUICK ? '-quick' : ''}`;
const dir = new URL('./results/', import.meta.url).pathname;
await mkdir(dir, { recursive: true });
const results: {
  A?: { idealS: number; runs: RunResult[] };
  B?: BResult[];
  D?: BResult[];
  C?: { idealS: number; runs: RunResult[] };
} = {};
const sections: string[] = [];

console.info(
  `docpipe benchmarks${QUICK ? ' (quick)' : ''}: ${SCENARIOS.join(', ')}; A ${a.length} documents, B ${bCount} one-page documents, C ${c.length} × 3 schemas`,
);
if (SCENARIOS.includes('A')) {
  const runs = await measureEach('A', a.length, [
    ['docpipe, 1 worker process', docpipe(a, 1, 1)],
    ['docpipe, 4 worker processes', docpipe(a, 4, 1)],
    ['cookbook baseline (official SDK)', cookbook(a, 1)],
    ['cookbook, SDK retries raised to 10', cookbook(a, 1, 10)],
  ]);
  results.A = { idealS: ideal(a), runs };
  const title = `A. Rate-limited throughput: ${a.length} documents (1–20 pages, 30% agentic)`;
  const chart = `${stamp}-A.svg`;
  await writeFile(
    `${dir}${chart}`,
    completionChart(
      title,
      a.length,
      runs.filter((r) => !r.label.endsWith('(official SDK)')),
      results.A.idealS,
    ),
  );
  sections.push(
    table(title, results.A.idealS, runs, runs[3]),
    `![Documents completed over time](${chart})`,
    '',
  );
}

if (SCENARIOS.includes('B')) {
  const docs = oneDocuments(bCount);
  const runs: BResult[] = [];
  console.info('B: raw BullMQ ceiling…');
  runs.push(await rawBullmqCeiling(bCount));
  for (const [label, processes] of [
    ['docpipe, 1 worker process', [undefined]],
    ['docpipe, 2 worker processes', [undefined, undefined]],
    ['docpipe, 4 worker processes', [undefined, undefined, undefined, undefined]],
    ['docpipe, one process per stage', [['upload'], ['parse'], ['extract'], ['poll'], ['notify']]],
  ] as const) {
    console.info(`B: ${label}…`);
    runs.push(await docpipeB(label, docs, processes));
  }
  results.B = runs;
  sections.push(bTable(runs));
}

if (SCENARIOS.includes('D')) {
  const docs = oneDocuments(bCount);
  const three = [undefined, undefined, undefined];
  const runs: BResult[] = [];
  for (const [label, options] of [
    ['docpipe on one Redis', {}],
    ['docpipe on one Redis, 3 queue families', { env: { REDIS_QUEUE_FAMILIES: '3' } }],
    ['docpipe on a 3-master Redis Cluster, 3 queue families', { cluster: true }],
  ] as const) {
    console.info(`D: ${label}…`);
    runs.push(await docpipeB(label, docs, three, options));
  }
  results.D = runs;
  sections.push(dTable(runs));
}

if (SCENARIOS.includes('C')) {
  const runs = await measureEach('C', c.length, [
    ['docpipe, 1 worker process', docpipe(c, 1, 3)],
    ['cookbook parse-then-extract', cookbook(c, 3)],
    ['cookbook parse-then-extract, SDK retries 10', cookbook(c, 3, 10)],
  ]);
  // C's ideal: every document parsed once and extracted three times at the capacity.
  const idealS = ideal(c, 3) + Math.max(...c.map((d) => latencyS('cost_effective_parse', d.pages)));
  results.C = { idealS, runs };
  sections.push(
    table(`C. Parse once, extract many: ${c.length} documents × 3 schemas`, idealS, runs, runs[2]),
  );
}

const markdown = [
  `## docpipe benchmarks${QUICK ? ' (quick)' : ''}, ${started.toISOString()}`,
  '',
  `Machine: ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.versions.node}. ` +
    `A and C: cloud-local with seed 000 latencies, ${CAPACITY} RUNNING extract jobs, ` +
    `${RATES.upload} uploads/s, ${RATES.create} creates/s, ${RATES.read} reads/s; run at time scale ${SCALE}, every figure in simulated time. docpipe is told the same limits. ` +
    '"× baseline" compares with the cookbook run whose SDK retries were raised to 10 (with the defaults it loses files to the upload limit). ' +
    'B: cloud-local with no latency and no limits, in real time; every side starts with all documents queued; Redis with AOF fsync every second.',
  '',
  ...sections,
].join('\n');

await writeFile(`${dir}${stamp}.json`, `${JSON.stringify({ quick: QUICK, sim, results }, null, 2)}\n`);
await writeFile(`${dir}${stamp}.md`, `${markdown}\n`);
console.info(`\n${markdown}\n\nWritten: test/bench/results/${stamp}.{json,md}`);
process.exit(0);
