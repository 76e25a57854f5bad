/**
 * `docpipe`: run a folder of documents on the embedded default (`docpipe run`), or talk to a
 * running deployment (`enqueue`, `status`, `results`), or run one of its processes (`worker`,
 * `api`, `cloud-local`). `docpipe <command> --help` tells more.
 */

import { writeFile } from 'node:fs/promises';
import { DocpipeApiError, DocpipeClient } from '@docpipe/client';
import { ConfigError, EXTRACT_TIERS, type ExtractTier } from '@docpipe/core';
import { Command, InvalidArgumentError, Option } from 'commander';
import { collectDocuments, loadSchemas, UsageError } from './inputs.js';
import { EXIT, runCommand } from './run.js';

const collect = (value: string, previous: string[]) => [...previous, value];
const budgetArg = (value: string) => {
  const credits = Number(value);
  if (!Number.isFinite(credits) || credits <= 0)
    throw new InvalidArgumentError('give a positive number of credits');
  return credits;
};
const priorityArg = (value: string) => {
  const n = Number.parseInt(value, 10);
  if (!Number.isInteger(n) || n < 1 || n > 10)
    throw new InvalidArgumentError('give a number from 1 (most urgent) to 10');
  return n;
};
const count = (value: string) => {
  const n = Number.parseInt(value, 10);
  if (!Number.isInteger(n) || n < 0 || n > 64) throw new InvalidArgumentError('give a number from 0 to 64');
  return n;
};

function apiClient(options: { api: string; apiKey?: string }) {
  return new DocpipeClient({ baseUrl: options.api, ...(options.apiKey ? { apiKey: options.apiKey } : {}) });
}

const apiOptions = (command: Command) =>
  command
    .addOption(
      new Option('--api <url>', 'the docpipe API').env('DOCPIPE_API_URL').default('http://127.0.0.1:3000'),
    )
    .addOption(new Option('--api-key <key>', 'one of the API_KEYS').env('DOCPIPE_API_KEY'));

const program = new Command('docpipe')
  .description('Turn piles of documents into structured JSON through LlamaCloud, durably.')
  .showHelpAfterError()
  .exitOverride();

program
  .command('run')
  .description(
    'process documents on the embedded default: Redis, cloud-local (unless LLAMA_CLOUD_BASE_URL is set), the API and workers in this process',
  )
  .argument('<inputs...>', 'documents, or folders of them (PDF, DOCX, HTML, TXT, MD, CSV)')
  .option('-s, --schema <file.json>', 'a JSON Schema of the fields to extract (repeatable)', collect, [])
  .addOption(new Option('--tier <tier>', 'extraction tier').choices(EXTRACT_TIERS).default('cost_effective'))
  .addOption(
    new Option('--parse-tier <tier>', 'parse first with this tier (automatic with several schemas)').choices([
      'fast',
      'cost_effective',
      'agentic',
      'agentic_plus',
    ]),
  )
  .option('-o, --out <dir>', 'where results go: <dir>/<batch>/', 'out')
  .option('-p, --priority <n>', 'batch priority, 1 (most urgent) to 10', priorityArg, 5)
  .option('-w, --workers <n>', 'worker processes (0: workers in this process)', count, 0)
  .option('--budget <credits>', 'spend at most this many credits; files past it are skipped', budgetArg)
  .addHelpText(
    'after',
    `
Running the same command again resumes the same batch (documents already done are not redone).
State (Redis data when started here, cloud-local data, blobs, results, log) lives in .docpipe/
(DOCPIPE_STATE_DIR). Exit codes: 0 all completed, 1 some failed, 2 usage, 3 environment, 130 interrupted.

Example: docpipe run examples/documents --schema examples/schemas/invoice.json`,
  )
  .action(async (inputs: string[], options) => {
    process.exitCode = await runCommand(
      inputs,
      {
        schema: options.schema,
        tier: options.tier as ExtractTier,
        parseTier: options.parseTier,
        out: options.out,
        workers: options.workers,
        priority: options.priority,
        ...(options.budget !== undefined ? { budgetCredits: options.budget } : {}),
      },
      { out: process.stdout, err: process.stderr, env: process.env },
    );
  });

apiOptions(
  program
    .command('enqueue')
    .description('send documents to a running docpipe API as one batch; prints the batch id')
    .argument('<inputs...>', 'documents, or folders of them')
    .option('-s, --schema <file.json>', 'a JSON Schema of the fields to extract (repeatable)', collect, [])
    .addOption(
      new Option('--tier <tier>', 'extraction tier').choices(EXTRACT_TIERS).default('cost_effective'),
    )
    .option('--budget <credits>', 'spend at most this many credits; files past it are skipped', budgetArg)
    .option('--wait', 'wait until the batch is finished and print it'),
).action(async (inputs: string[], options) => {
  const client = apiClient(options);
  const documents = await collectDocuments(inputs);
  const extract = await loadSchemas(options.schema, options.tier as ExtractTier);
  const batch = await client.enqueue({
    files: documents.map((d) => ({ path: d.path, name: d.name })),
    extract,
    ...(options.budget !== undefined ? { budgetCredits: options.budget } : {}),
  });
  process.stdout.write(`${batch.id}\n`);
  if (options.wait) {
    const done = await client.waitForCompletion(batch.id);
    process.stdout.write(`${JSON.stringify(done, null, 2)}\n`);
    process.exitCode = done.status === 'completed' ? EXIT.ok : EXIT.someFailed;
  }
});

apiOptions(
  program
    .command('status')
    .description('print a batch (counters, progress, credits) as JSON')
    .argument('<batch>'),
).action(async (batchId: string, options) => {
  const batch = await apiClient(options).get(batchId);
  process.stdout.write(`${JSON.stringify(batch, null, 2)}\n`);
});

apiOptions(
  program.command('results').description('print the results of a batch as NDJSON').argument('<batch>'),
).action(async (batchId: string, options) => {
  for await (const result of apiClient(options).results(batchId))
    process.stdout.write(`${JSON.stringify(result)}\n`);
});

program
  .command('worker')
  .description('run a worker process (configuration from the environment: see README)')
  .option('--stages <list>', 'comma list of upload, parse, extract, poll, notify (default all)')
  .action(async () => {
    await import('@docpipe/worker/main');
  });
program
  .command('api')
  .description('run the producer API, dashboard and Bull Board (configuration from the environment)')
  .action(async () => {
    await import('@docpipe/api/main');
  });
program
  .command('cloud-local')
  .description('run cloud-local, the LlamaCloud-compatible local server (PORT, default 8787)')
  .option('--ephemeral', 'keep files and jobs in memory only')
  .action(async () => {
    await import('@docpipe/cloud-local/main');
  });

program
  .command('eval')
  .description('score extraction on a labelled folder (a MANIFEST.json of {file, expected} entries)')
  .argument('<folder>', 'a folder holding MANIFEST.json and the documents it names')
  .option('-s, --schema <file.json>', "the JSON Schema to extract (default: the folder's *.schema.json)")
  .addOption(new Option('--tier <tier>', 'extraction tier').choices(EXTRACT_TIERS).default('cost_effective'))
  .option('--json <file>', 'also write the whole report as JSON')
  .addHelpText(
    'after',
    `
Runs on cloud-local in this process, or on LLAMA_CLOUD_BASE_URL with LLAMA_CLOUD_API_KEY when set.
Example: npm run eval -- ../shared/corpus`,
  )
  .action(async (folder: string, options) => {
    const { evaluateFolder, formatReport } = await import('./evaluate.js');
    const env = process.env;
    const report = await evaluateFolder(folder, {
      tier: options.tier as ExtractTier,
      ...(options.schema ? { schema: options.schema } : {}),
      ...(env.LLAMA_CLOUD_BASE_URL
        ? { upstream: { baseUrl: env.LLAMA_CLOUD_BASE_URL, apiKey: env.LLAMA_CLOUD_API_KEY ?? '' } }
        : {}),
    });
    process.stdout.write(`${formatReport(report)}\n`);
    if (options.json) await writeFile(options.json, `${JSON.stringify(report, null, 2)}\n`);
  });

try {
  await program.parseAsync(process.argv);
} catch (error) {
  const code = (error as { code?: string }).code ?? '';
  if (code === 'commander.helpDisplayed' || code === 'commander.version' || code === 'commander.help') {
    process.exitCode = EXIT.ok;
  } else if (code.startsWith('commander.')) {
    process.exitCode = EXIT.usage;
  } else if (error instanceof UsageError) {
    process.stderr.write(`docpipe: ${error.message}\n`);
    process.exitCode = EXIT.usage;
  } else if (error instanceof ConfigError) {
    process.stderr.write(`docpipe: ${error.message}\n`);
    process.exitCode = EXIT.environment;
  } else if (error instanceof DocpipeApiError) {
    process.stderr.write(`docpipe: the API answered: ${error.message}\n`);
    process.exitCode = EXIT.environment;
  } else {
    process.stderr.write(`docpipe: ${(error as Error).message ?? error}\n`);
    process.exitCode = EXIT.environment;
  }
}
