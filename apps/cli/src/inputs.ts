import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, extname, join, relative, resolve } from 'node:path';
import type { ExtractTier } from '@docpipe/core';

/** Formats the pipeline parses (cloud-local and LlamaCloud alike). */
export const DOCUMENT_EXTENSIONS = new Set(['.pdf', '.docx', '.html', '.htm', '.txt', '.md', '.csv']);

export class UsageError extends Error {}

export interface InputDocument {
  /** Name in the batch: the path relative to the folder given, or the file's own name. */
  name: string;
  path: string;
}

/** The documents named on the command line: files as given, folders walked for known formats. */
export async function collectDocuments(inputs: readonly string[]): Promise<InputDocument[]> {
  const documents: InputDocument[] = [];
  for (const input of inputs) {
    const path = resolve(input);
    const info = await stat(path).catch(() => undefined);
    if (!info) throw new UsageError(`${input}: no such file or folder`);
    if (info.isFile()) {
      documents.push({ name: basename(path), path });
      continue;
    }
    const entries = await readdir(path, { recursive: true, withFileTypes: true });
    const files = entries
      .filter((entry) => entry.isFile() && DOCUMENT_EXTENSIONS.has(extname(entry.name).toLowerCase()))
      .map((entry) => join(entry.parentPath, entry.name))
      .sort();
    if (files.length === 0)
      throw new UsageError(`${input}: no documents (${[...DOCUMENT_EXTENSIONS].join(', ')}) in this folder`);
    for (const file of files) documents.push({ name: relative(path, file), path: file });
  }
  return documents;
}

export interface ExtractionInput {
  name: string;
  data_schema: Record<string, unknown>;
  tier: ExtractTier;
}

/** `--schema file.json`: a JSON Schema; its file name (without .json) names the extraction. */
export async function loadSchemas(files: readonly string[], tier: ExtractTier): Promise<ExtractionInput[]> {
  if (files.length === 0)
    throw new UsageError('give at least one --schema <file.json> (a JSON Schema of the fields to extract)');
  const schemas: ExtractionInput[] = [];
  for (const file of files) {
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch {
      throw new UsageError(`--schema ${file}: cannot read it`);
    }
    let schema: unknown;
    try {
      schema = JSON.parse(text);
    } catch (error) {
      throw new UsageError(`--schema ${file}: not valid JSON (${(error as Error).message})`);
    }
    if (typeof schema !== 'object' || schema === null || Array.isArray(schema))
      throw new UsageError(`--schema ${file}: a JSON Schema object is expected`);
    const name = basename(file)
      .replace(/\.json$/i, '')
      .replace(/[^A-Za-z0-9_-]/g, '_');
    schemas.push({ name, data_schema: schema as Record<string, unknown>, tier });
  }
  return schemas;
}
