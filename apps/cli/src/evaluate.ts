import { openAsBlob } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { start as startCloudLocal } from '@docpipe/cloud-local';
import { createLogger, type ExtractTier } from '@docpipe/core';
import { isTerminalStatus, LlamaCloudClient } from '@docpipe/llamacloud';
import Table from 'cli-table3';
import { UsageError } from './inputs.js';
import {
  type DocumentOutcome,
  type DocumentScore,
  type EvalSummary,
  type ManifestEntry,
  scoreDocument,
  summarize,
} from './scoring.js';

export interface EvalOptions {
  /** A JSON Schema file; default: the folder's only `*.schema.json`. */
  schema?: string;
  tier: ExtractTier;
  /** The real LlamaCloud (or any compatible server); default: cloud-local in this process. */
  upstream?: { baseUrl: string; apiKey: string };
  concurrency?: number;
}

export interface EvalReport {
  folder: string;
  schema: string;
  upstream: string;
  documents: DocumentScore[];
  summary: EvalSummary;
}

/**
 * Runs every document of a labelled folder (a MANIFEST.json of `{file, expected,
 * accept_alternatives?}` entries) through Extract v2 with one schema and scores the results.
 */
export async function evaluateFolder(folder: string, options: EvalOptions): Promise<EvalReport> {
  const dir = resolve(folder);
  const manifest = await readManifest(dir);
  const schemaPath = options.schema ? resolve(options.schema) : await findSchema(dir);
  const dataSchema = JSON.parse(await readFile(schemaPath, 'utf8')) as Record<string, unknown>;

  const cloud = options.upstream
    ? undefined
    : await startCloudLocal({ port: 0, logger: createLogger({ name: 'cloud-local', level: 'error' }) });
  const upstream = options.upstream ?? { baseUrl: cloud!.url, apiKey: cloud!.apiKey };
  const client = new LlamaCloudClient({ ...upstream, connections: 8 });
  try {
    const documents: DocumentScore[] = new Array(manifest.length);
    let next = 0;
    const worker = async () => {
      for (let i = next++; i < manifest.length; i = next++) {
        const entry = manifest[i]!;
        documents[i] = scoreDocument(
          entry,
          await extractOne(client, join(dir, entry.file), entry.file, dataSchema, options.tier),
        );
      }
    };
    await Promise.all(Array.from({ length: options.concurrency ?? 4 }, worker));
    return {
      folder: dir,
      schema: schemaPath,
      upstream: upstream.baseUrl,
      documents,
      summary: summarize(documents),
    };
  } finally {
    await client.close();
    await cloud?.close();
  }
}

async function readManifest(dir: string): Promise<ManifestEntry[]> {
  const path = join(dir, 'MANIFEST.json');
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(path, 'utf8'));
  } catch (error) {
    throw new UsageError(`${path}: ${(error as Error).message} (a labelled folder holds a MANIFEST.json)`);
  }
  if (!Array.isArray(parsed))
    throw new UsageError(`${path}: expected a JSON array of {file, expected} entries`);
  parsed.forEach((entry, i) => {
    if (typeof entry?.file !== 'string' || typeof entry?.expected !== 'object' || entry.expected === null)
      throw new UsageError(`${path}: entry ${i} needs "file" (string) and "expected" (object)`);
  });
  return parsed as ManifestEntry[];
}

async function findSchema(dir: string): Promise<string> {
  const schemas = (await readdir(dir)).filter((name) => name.endsWith('.schema.json'));
  if (schemas.length !== 1)
    throw new UsageError(
      `${dir}: ${schemas.length === 0 ? 'no' : 'several'} *.schema.json files; name one with --schema <file.json>`,
    );
  return join(dir, schemas[0]!);
}

/** Upload, extract straight from the file, wait: the result's data, or why it failed. */
async function extractOne(
  client: LlamaCloudClient,
  path: string,
  name: string,
  dataSchema: Record<string, unknown>,
  tier: ExtractTier,
): Promise<DocumentOutcome> {
  try {
    const file = await client.files.upload({ file: await openAsBlob(path), name });
    let job = await client.extract.create({
      fileInput: file.id,
      configuration: { data_schema: dataSchema, tier, cite_sources: true, confidence_scores: true },
    });
    for (let wait = 50; !isTerminalStatus(job.status); wait = Math.min(wait * 2, 2000)) {
      await new Promise((r) => setTimeout(r, wait));
      job = await client.extract.get(job.id);
    }
    if (job.status !== 'COMPLETED')
      return { error: `${job.status}: ${job.error_message ?? 'no reason given'}` };
    return { data: (job.extract_result ?? {}) as Record<string, unknown> };
  } catch (error) {
    return { error: (error as Error).message };
  }
}

const percent = (value: number) => `${(value * 100).toFixed(1)}%`;
const shown = (value: unknown) => (value === undefined ? '—' : JSON.stringify(value));

/** The report as tables: accuracy per field and overall, the misses, and hostile files. */
export function formatReport(report: EvalReport): string {
  const { summary } = report;
  const fields = new Table({
    head: ['Field', 'Scored', 'Correct', 'Accuracy'],
    style: { head: [], border: [] },
  });
  for (const f of summary.perField) fields.push([f.field, f.scored, f.correct, percent(f.accuracy)]);
  fields.push([
    'overall',
    summary.overall.scored,
    summary.overall.correct,
    percent(summary.overall.accuracy),
  ]);
  const misses: string[] = [];
  for (const doc of report.documents.filter((d) => !d.expectsError)) {
    if (doc.error) misses.push(`  ${doc.file}: failed: ${doc.error}`);
    for (const f of doc.fields.filter((f) => !f.ok))
      misses.push(`  ${doc.file} ${f.field}: expected ${shown(f.expected)}, got ${shown(f.actual)}`);
  }
  const hostile = report.documents
    .filter((d) => d.expectsError)
    .map((d) => `  ${d.ok ? 'failed cleanly' : 'NOT REFUSED'}: ${d.file}${d.error ? ` (${d.error})` : ''}`);
  return [
    `${report.documents.length} documents from ${report.folder}, schema ${report.schema}, upstream ${report.upstream}`,
    fields.toString(),
    misses.length ? `Misses (${misses.length}):\n${misses.join('\n')}` : 'No misses.',
    hostile.length
      ? `Hostile documents: ${summary.hostile.failedCleanly} of ${summary.hostile.total} failed cleanly\n${hostile.join('\n')}`
      : '',
  ]
    .filter(Boolean)
    .join('\n\n');
}
