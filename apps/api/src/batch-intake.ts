import { createReadStream } from 'node:fs';
import { realpath } from 'node:fs/promises';
import { basename, isAbsolute, relative, sep } from 'node:path';
import type { Readable } from 'node:stream';
import {
  type BatchSpec,
  type BlobStore,
  BlobTooLargeError,
  batchSpecSchema,
  type Config,
  createBatch,
  type Dispatcher,
  type NewFile,
  prioritySchema,
  type Queues,
  type StagedBlob,
  type StateStore,
  tenantSchema,
} from '@docpipe/core';
import { checkDataSchema } from '@docpipe/pipeline';
import busboy from 'busboy';
import type { Request } from 'express';
import { z } from 'zod';
import { ApiError, invalidRequest, parseOr400 } from './api-errors.js';
import type { Caller } from './auth.js';
import { openUrl } from './url-source.js';

export interface IntakeDeps {
  config: Config;
  state: StateStore;
  dispatcher: Dispatcher;
  durable(): Promise<void>;
  queues: Queues;
  blobs: BlobStore;
}

const fileEntry = z
  .object({
    name: z.string().min(1).max(255).optional(),
    url: z.string().min(1).optional(),
    path: z.string().min(1).optional(),
    content_base64: z.string().optional(),
    metadata: z.record(z.string(), z.unknown()).optional(),
  })
  .strict()
  .refine((f) => [f.url, f.path, f.content_base64].filter((v) => v !== undefined).length === 1, {
    message: 'give exactly one of url, path or content_base64',
  });
type FileEntry = z.output<typeof fileEntry>;

/** The batch options shared by JSON requests and the `spec` part of multipart ones. */
const options = {
  parse: z.unknown().optional(),
  extract: z.unknown(),
  callback_url: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).optional(),
  budget_credits: z.number().positive().optional(),
  priority: prioritySchema.optional(),
  idempotency_key: z.string().min(1).max(200).optional(),
  /** Another tenant than the key's own: admin keys only. */
  tenant: tenantSchema.optional(),
};

const jsonRequest = (maxFiles: number) =>
  z
    .object({
      files: z
        .array(fileEntry)
        .min(1, 'give at least one file')
        .max(maxFiles, `at most ${maxFiles} files per batch`),
      ...options,
    })
    .strict();

const multipartSpec = z
  .object({
    ...options,
    files: z.array(z.object({ metadata: z.record(z.string(), z.unknown()).optional() })).optional(),
  })
  .strict();

type BatchOptions = z.output<z.ZodObject<typeof options>>;

/** Checks the batch options; a bad JSON Schema is one 400 here, not a batch of failed files. */
function batchOptions(
  input: BatchOptions,
  caller: Caller,
): {
  spec: BatchSpec;
  extra: Parameters<typeof createBatch>[1] extends infer I ? Omit<I & object, 'spec' | 'files'> : never;
} {
  const spec = parseOr400(batchSpecSchema, { parse: input.parse, extract: input.extract });
  const fields = spec.extract.flatMap((extraction, i) =>
    extraction.data_schema
      ? checkDataSchema(extraction.data_schema).map((message) => ({
          path: `extract.${i}.data_schema`,
          message,
        }))
      : [],
  );
  if (input.tenant && input.tenant !== caller.tenant && !caller.admin)
    throw new ApiError(
      403,
      'tenant_forbidden',
      `this key belongs to tenant "${caller.tenant}" and cannot enqueue for "${input.tenant}"; leave out tenant or use an admin key`,
    );
  if (fields.length)
    throw new ApiError(
      400,
      'invalid_schema',
      `invalid JSON Schema: ${fields.map((f) => `${f.path}: ${f.message}`).join('; ')}`,
      { fields },
    );
  return {
    spec,
    extra: {
      ...(input.callback_url ? { callbackUrl: input.callback_url } : {}),
      ...(input.idempotency_key ? { idempotencyKey: input.idempotency_key } : {}),
      ...(input.priority !== undefined ? { priority: input.priority } : {}),
      ...(input.budget_credits !== undefined ? { budgetCredits: input.budget_credits } : {}),
      tenant: input.tenant ?? caller.tenant,
    },
  };
}

/** Files staged for one request: all committed when the request is accepted, else all dropped. */
class Staging {
  private readonly staged: StagedBlob[] = [];
  readonly files: NewFile[] = [];

  constructor(private readonly blobs: BlobStore) {}

  /** Stages the `index`-th file of the request (files keep request order, whatever finishes first). */
  async add(
    index: number,
    source: Readable | Uint8Array,
    name: string,
    metadata: Record<string, unknown> | undefined,
  ) {
    const field = `files.${index}`;
    try {
      const blob = await this.blobs.stage(source);
      this.staged.push(blob);
      this.files[index] = {
        name,
        sha256: blob.sha256,
        sizeBytes: blob.sizeBytes,
        ...(metadata ? { metadata } : {}),
      };
    } catch (error) {
      if (error instanceof BlobTooLargeError)
        throw new ApiError(413, 'file_too_large', `${field} (${name}): ${error.message}`, { field, name });
      throw error;
    }
  }

  async commit() {
    for (const blob of this.staged) await blob.commit();
  }

  async discard() {
    await Promise.all(this.staged.map((blob) => blob.discard()));
  }
}

async function openPath(raw: string, roots: readonly string[], field: string): Promise<Readable> {
  if (roots.length === 0)
    throw new ApiError(
      400,
      'path_rejected',
      `${field}: files by path are off; set API_PATH_ROOTS to allow directories`,
      {
        field,
      },
    );
  if (!isAbsolute(raw))
    throw new ApiError(400, 'path_rejected', `${field}: give an absolute path`, { field });
  let real: string;
  try {
    real = await realpath(raw);
  } catch {
    throw new ApiError(400, 'path_rejected', `${field}: ${raw} does not exist`, { field });
  }
  for (const root of roots) {
    const realRoot = await realpath(root).catch(() => undefined);
    if (!realRoot) continue;
    const rel = relative(realRoot, real);
    if (rel && !rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel)) return createReadStream(real);
  }
  throw new ApiError(400, 'path_rejected', `${field}: ${raw} is outside the allowed roots (API_PATH_ROOTS)`, {
    field,
  });
}

async function stageEntry(deps: IntakeDeps, staging: Staging, entry: FileEntry, i: number) {
  const field = `files.${i}`;
  if (entry.content_base64 !== undefined) {
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(entry.content_base64.replace(/\s/g, '')))
      throw new ApiError(400, 'invalid_request', `${field}.content_base64 is not base64`, { field });
    const name = entry.name ?? `file-${i + 1}`;
    await staging.add(i, Buffer.from(entry.content_base64, 'base64'), name, entry.metadata);
    return;
  }
  if (entry.path !== undefined) {
    const stream = await openPath(entry.path, deps.config.api.pathRoots, `${field}.path`);
    await staging.add(i, stream, entry.name ?? basename(entry.path), entry.metadata);
    return;
  }
  const source = await openUrl(entry.url!, {
    allowPrivate: deps.config.api.allowPrivateUrls,
    timeoutMs: deps.config.api.urlTimeoutMs,
    field: `${field}.url`,
  });
  try {
    await staging.add(i, source.body, entry.name ?? source.name, entry.metadata);
  } finally {
    await source.close();
  }
}

async function accept(
  deps: IntakeDeps,
  staging: Staging,
  input: BatchOptions,
  caller: Caller,
  fill: () => Promise<void>,
) {
  try {
    const { spec, extra } = batchOptions(input, caller);
    await fill();
    await staging.commit();
    return await createBatch(deps, { spec, files: staging.files, ...extra });
  } catch (error) {
    await staging.discard();
    throw error;
  }
}

/** `POST /v1/batches` with a JSON body. */
export async function acceptJson(deps: IntakeDeps, body: unknown, caller: Caller) {
  const input = parseOr400(jsonRequest(deps.config.api.maxFiles), body);
  const staging = new Staging(deps.blobs);
  return accept(deps, staging, input, caller, async () => {
    for (const [i, entry] of input.files.entries()) await stageEntry(deps, staging, entry, i);
  });
}

/**
 * `POST /v1/batches` as multipart/form-data: file parts (any field name; the part's filename
 * names the file) streamed to the staging area, and one `spec` part with the batch options as
 * JSON (its optional `files[i].metadata` applies to the i-th file part).
 */
export async function acceptMultipart(deps: IntakeDeps, req: Request, caller: Caller) {
  const staging = new Staging(deps.blobs);
  let specText: string | undefined;
  const pending: Promise<void>[] = [];
  let stageError: unknown;
  try {
    await new Promise<void>((resolve, reject) => {
      let parser: busboy.Busboy;
      try {
        parser = busboy({
          headers: req.headers,
          limits: {
            files: deps.config.api.maxFiles,
            fileSize: deps.config.storage.blobMaxBytes,
            fields: 10,
            fieldSize: 16 * 1024 * 1024,
          },
        });
      } catch (error) {
        reject(new ApiError(400, 'invalid_multipart', `bad multipart request: ${(error as Error).message}`));
        return;
      }
      const fail = (error: ApiError) => {
        req.unpipe(parser);
        req.resume();
        reject(error);
      };
      parser.on('field', (name, value) => {
        if (name === 'spec') specText = value;
      });
      let index = 0;
      parser.on('file', (_field, stream, info) => {
        const i = index++;
        const name = info.filename || `file-${i + 1}`;
        stream.on('limit', () =>
          fail(
            new ApiError(
              413,
              'file_too_large',
              `files.${i} (${name}) is larger than the limit of ${deps.config.storage.blobMaxBytes} bytes (BLOB_MAX_BYTES)`,
              { field: `files.${i}`, name },
            ),
          ),
        );
        pending.push(
          staging.add(i, stream, name, undefined).catch((error: unknown) => {
            stageError ??= error;
          }),
        );
      });
      parser.on('filesLimit', () =>
        fail(
          new ApiError(
            413,
            'too_many_files',
            `at most ${deps.config.api.maxFiles} files per batch (API_MAX_FILES)`,
          ),
        ),
      );
      parser.on('error', (error: Error) =>
        fail(new ApiError(400, 'invalid_multipart', `bad multipart body: ${error.message}`)),
      );
      parser.on('close', () => resolve());
      req.pipe(parser);
    });
    await Promise.all(pending);
    if (stageError) throw stageError;
  } catch (error) {
    await Promise.all(pending);
    await staging.discard();
    throw error;
  }
  if (specText === undefined) {
    await staging.discard();
    throw new ApiError(
      400,
      'invalid_request',
      'multipart batches need a "spec" part with the batch options as JSON',
    );
  }
  let specJson: unknown;
  try {
    specJson = JSON.parse(specText);
  } catch (error) {
    await staging.discard();
    throw new ApiError(400, 'invalid_json', `the spec part is not valid JSON: ${(error as Error).message}`);
  }
  const parsed = multipartSpec.safeParse(specJson);
  if (!parsed.success) {
    await staging.discard();
    throw invalidRequest(parsed.error, 'spec');
  }
  if (staging.files.length === 0) {
    await staging.discard();
    throw new ApiError(400, 'invalid_request', 'give at least one file part');
  }
  parsed.data.files?.forEach((entry, i) => {
    const file = staging.files[i];
    if (file && entry.metadata) file.metadata = entry.metadata;
  });
  return accept(deps, staging, parsed.data, caller, async () => {});
}
