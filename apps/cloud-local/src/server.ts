import { randomUUID } from 'node:crypto';
import { constantTimeEqual, type Logger } from '@docpipe/core';
import busboy from 'busboy';
import express, { type NextFunction, type Request, type Response } from 'express';
import { z } from 'zod';
import { type Batches, batchRoutes } from './batches.js';
import { configurationFor, configurationRoutes } from './configurations.js';
import { directoryRoutes } from './directories.js';
import type { ParsedPage } from './documents/parsed-document.js';
import { generateSchema } from './extraction/schema-generate.js';
import { asyncRoute, errorMiddleware, HttpError, notFound, parseOr422 } from './http-errors.js';
import { type JobEngine, JobInputError } from './job-engine.js';
import { matchRoute } from './route-table.js';
import { schemaProblemsOr422 } from './schema-validation.js';
import type { Simulation } from './simulation.js';
import {
  type CloudStore,
  type ExtractJob,
  newFileId,
  type ParseJob,
  PROJECT_ID,
  type StoredFile,
} from './store.js';

export interface ServerDeps {
  store: CloudStore;
  engine: JobEngine;
  batches: Batches;
  sim: Simulation;
  log: Logger;
  apiKey: string;
  maxUploadBytes: number;
}

/** Query values as arrays: `?job_ids=a&job_ids=b` (the SDK's repeat format) and `?job_ids=a,b` alike. */
function queryList(value: unknown): string[] {
  if (value === undefined) return [];
  const values = Array.isArray(value) ? value : [value];
  return values
    .flatMap((v) => String(v).split(','))
    .map((v) => v.trim())
    .filter(Boolean);
}

function paginate<T>(items: T[], query: Request['query']) {
  const pageSize = Math.min(Math.max(Number.parseInt(String(query.page_size ?? '50'), 10) || 50, 1), 1000);
  const offset = query.page_token
    ? Number.parseInt(Buffer.from(String(query.page_token), 'base64url').toString(), 10) || 0
    : 0;
  const page = items.slice(offset, offset + pageSize);
  const next =
    offset + pageSize < items.length ? Buffer.from(String(offset + pageSize)).toString('base64url') : null;
  return { items: page, next_page_token: next, total_size: items.length };
}

const fileJson = (file: StoredFile) => ({
  id: file.id,
  name: file.name,
  project_id: file.project_id,
  file_type: file.file_type,
  purpose: file.purpose,
  external_file_id: file.external_file_id,
  created_at: file.created_at,
  last_modified_at: file.created_at,
  expires_at: null,
});

const parseJobJson = (job: ParseJob) => ({
  id: job.id,
  project_id: PROJECT_ID,
  status: job.status,
  created_at: job.created_at,
  updated_at: job.updated_at,
  error_message: job.error_message,
  name: job.name,
  tier: job.tier,
  usage: job.credits === null ? null : { credits: job.credits },
  user_metadata: job.user_metadata,
});

function parseGetJson(job: ParseJob, expand: string[]) {
  const body: Record<string, unknown> = { job: parseJobJson(job) };
  const pages = job.status === 'COMPLETED' ? (job.result ?? []) : undefined;
  // Each expanded view is null until the job has completed, as in LlamaCloud.
  const views: Record<string, (all: ParsedPage[]) => unknown> = {
    text: (all) => ({ pages: all.map((p) => ({ page_number: p.pageNumber, text: p.text })) }),
    text_full: (all) => all.map((p) => p.text).join('\n\n'),
    markdown: (all) => ({
      pages: all.map((p) => ({ page_number: p.pageNumber, markdown: p.markdown, success: true })),
    }),
    markdown_full: (all) => all.map((p) => p.markdown).join('\n\n'),
    metadata: (all) => ({ pages: all.map((p) => ({ page_number: p.pageNumber, confidence: 1 })) }),
  };
  for (const name of expand) {
    const view = views[name];
    if (view) body[name] = pages ? view(pages) : null;
  }
  if (expand.includes('job_metadata')) body.job_metadata = { num_pages: job.pages, credits: job.credits };
  return body;
}

function extractJobJson(job: ExtractJob, expand: string[]) {
  const completed = job.status === 'COMPLETED';
  const tier = String(job.configuration.tier ?? 'cost_effective');
  const body: Record<string, unknown> = {
    id: job.id,
    created_at: job.created_at,
    updated_at: job.updated_at,
    file_input: job.file_input,
    project_id: PROJECT_ID,
    status: job.status,
    configuration_id: job.configuration_id,
    error_message: job.error_message,
    extract_result: completed ? job.extract_result : null,
    metadata: completed ? { usage: { num_pages_extracted: job.pages, num_pages_billed: job.pages } } : null,
  };
  if (expand.includes('configuration')) body.configuration = job.configuration;
  if (expand.includes('extract_metadata')) {
    body.extract_metadata = completed
      ? {
          field_metadata: job.field_metadata,
          parse_job_id: job.parse_job_id,
          parse_tier: job.configuration.parse_tier ?? tier,
        }
      : null;
  }
  if (expand.includes('usage')) {
    body.usage = completed ? { credits: job.credits, extract_credits: job.credits, parse_credits: 0 } : null;
  }
  return body;
}

interface Upload {
  fields: Record<string, string>;
  file?: { name: string; mimeType: string; bytes: Buffer };
}

/** Reads a multipart body with busboy, enforcing the upload size limit. */
function readMultipart(req: Request, maxBytes: number, fileField: string): Promise<Upload> {
  return new Promise((resolve, reject) => {
    let parser: busboy.Busboy;
    try {
      parser = busboy({ headers: req.headers, limits: { fileSize: maxBytes, files: 1, fields: 50 } });
    } catch (error) {
      reject(new HttpError(400, `Expected a multipart/form-data body: ${(error as Error).message}`));
      return;
    }
    const upload: Upload = { fields: {} };
    let tooLarge = false;
    parser.on('field', (name, value) => {
      upload.fields[name] = value;
    });
    parser.on('file', (name, stream, info) => {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('limit', () => {
        tooLarge = true;
      });
      stream.on('end', () => {
        if (name === fileField)
          upload.file = {
            name: info.filename ?? 'upload',
            mimeType: info.mimeType,
            bytes: Buffer.concat(chunks),
          };
      });
    });
    parser.on('error', (error: Error) =>
      reject(new HttpError(400, `Malformed multipart body: ${error.message}`)),
    );
    parser.on('close', () => {
      if (tooLarge) reject(new HttpError(413, `File exceeds the upload limit of ${maxBytes} bytes`));
      else resolve(upload);
    });
    req.pipe(parser);
  });
}

const webhookConfigurations = z.array(z.record(z.string(), z.unknown())).nullish();

const parseCreateSchema = z.object({
  tier: z.string().min(1).nullish(),
  version: z.string().min(1).nullish(),
  configuration_id: z.string().nullish(),
  file_id: z.string().nullish(),
  source_url: z.string().nullish(),
  name: z.string().nullish(),
  user_metadata: z.record(z.string(), z.string()).nullish(),
  page_ranges: z
    .object({ max_pages: z.number().int().positive().nullish(), target_pages: z.string().nullish() })
    .nullish(),
  webhook_configurations: webhookConfigurations,
});

const extractConfigurationSchema = z
  .object({
    data_schema: z.record(z.string(), z.unknown()),
    tier: z.enum(['cost_effective', 'agentic', 'agentic_plus', 'turbo']).default('cost_effective'),
    extraction_target: z.enum(['per_doc', 'per_page', 'per_table_row']).default('per_doc'),
    cite_sources: z.boolean().optional(),
    confidence_scores: z.boolean().optional(),
    target_pages: z.string().nullish(),
    max_pages: z.number().int().positive().nullish(),
    parse_tier: z.string().nullish(),
    system_prompt: z.string().nullish(),
  })
  .passthrough();

const extractCreateSchema = z
  .object({
    file_input: z.string().min(1).optional(),
    /** Seed-era name of file_input. */
    document_input_value: z.string().min(1).optional(),
    configuration: extractConfigurationSchema.nullish(),
    /** Seed-era shape: `config.extract_options`. */
    config: z.object({ extract_options: extractConfigurationSchema }).optional(),
    configuration_id: z.string().nullish(),
    webhook_configurations: webhookConfigurations,
  })
  .refine((body) => body.file_input ?? body.document_input_value, {
    message: 'Field required',
    path: ['file_input'],
  });

/** What a Parse v2 create body asks the engine for (the engine names the job after its file by default). */
function parseJobInput(body: z.output<typeof parseCreateSchema>, fileId: string, store: CloudStore) {
  const saved: Record<string, unknown> = body.configuration_id
    ? configurationFor(store, body.configuration_id, 'parse_v2')
    : {};
  const tier = body.tier ?? (typeof saved.tier === 'string' ? saved.tier : undefined);
  if (!tier) {
    throw new HttpError(422, [
      { loc: ['body', 'tier'], msg: 'Field required (or give a parse_v2 configuration_id)', type: 'missing' },
    ]);
  }
  return {
    fileId,
    tier,
    version: body.version ?? (typeof saved.version === 'string' ? saved.version : 'latest'),
    name: body.name ?? null,
    userMetadata: body.user_metadata ?? null,
    pageRanges: body.page_ranges ?? null,
    webhookConfigurations: body.webhook_configurations ?? [],
  };
}

export function createApp(deps: ServerDeps): express.Express {
  const { store, engine, sim, log } = deps;
  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple');

  // Stats and the request log see every request, whatever answers it.
  app.use((req, res, next) => {
    const route = matchRoute(req.method, req.path);
    res.locals.route = route; // the /api middleware reads it: one match per request
    const name = req.path.startsWith('/_sim')
      ? `${req.method} ${req.path}`
      : `${req.method} ${route?.template ?? '(unknown)'}`;
    res.on('finish', () => {
      sim.recordRequest(
        {
          at: Date.now(),
          method: req.method,
          path: req.path,
          query: { ...req.query },
          body: req.body ?? (res.locals.multipartFields as unknown) ?? null,
          status: res.statusCode,
        },
        name,
      );
    });
    next();
  });

  app.use(express.json({ limit: '20mb' }));

  // /_sim: the simulation's control surface (loopback test hook; no API key).
  app.get('/_sim/config', (_req, res) => {
    res.json(sim.config);
  });
  app.post('/_sim/config', (req, res) => {
    try {
      res.json(sim.update(req.body ?? {}));
    } catch (error) {
      if (error instanceof z.ZodError)
        throw new HttpError(
          422,
          error.issues.map((i) => ({
            loc: ['body', ...i.path.map(String)],
            msg: i.message,
            type: 'value_error',
          })),
        );
      throw new HttpError(422, (error as Error).message);
    }
  });
  app.get('/_sim/stats', (_req, res) => {
    res.json(sim.stats);
  });
  app.post('/_sim/reset', (_req, res) => {
    sim.resetStats();
    res.json({ ok: true });
  });
  app.get('/_sim/requests', (req, res) => {
    res.json(sim.requestsSince(Number(req.query.since ?? 0)));
  });

  // The LlamaCloud API: auth, injected faults, rate limits, then the routes.
  app.use('/api', (req, res, next) => {
    if (!constantTimeEqual(req.headers.authorization ?? '', `Bearer ${deps.apiKey}`)) {
      throw new HttpError(401, 'Invalid or missing API key (send Authorization: Bearer <key>)');
    }
    const fault = sim.drawFault();
    if (fault === 'reset') {
      req.socket.destroy();
      return;
    }
    if (fault === 'http5xx') {
      res.status(503).json({ detail: 'Simulated server error (cloud-local fault injection)' });
      return;
    }
    const route = res.locals.route as ReturnType<typeof matchRoute>;
    const proceed = () => {
      if (route) {
        const token = sim.takeToken(route.endpoint);
        if (!token.ok) {
          res
            .status(429)
            .set({
              'retry-after': String(Math.max(1, Math.ceil(token.retryAfterMs / 1000))),
              'retry-after-ms': String(token.retryAfterMs),
            })
            .json({
              detail: `Rate limit exceeded for ${route.endpoint} requests; retry after ${token.retryAfterMs} ms`,
            });
          return;
        }
      }
      next();
    };
    if (fault === 'slow') setTimeout(proceed, sim.scaled(sim.config.faults.slowMs));
    else proceed();
  });

  // Files
  app.post(
    '/api/v1/beta/files',
    asyncRoute(async (req, res) => {
      const upload = await readMultipart(req, deps.maxUploadBytes, 'file');
      res.locals.multipartFields = { ...upload.fields, file: upload.file?.name };
      if (!upload.file)
        throw new HttpError(422, [{ loc: ['body', 'file'], msg: 'Field required', type: 'missing' }]);
      if (!upload.fields.purpose)
        throw new HttpError(422, [{ loc: ['body', 'purpose'], msg: 'Field required', type: 'missing' }]);
      const file = await storeFile(
        upload.file,
        upload.fields.purpose,
        upload.fields.external_file_id ?? null,
      );
      res.json(fileJson(file));
    }),
  );

  async function storeFile(
    upload: NonNullable<Upload['file']>,
    purpose: string | null,
    externalFileId: string | null,
  ) {
    const file: StoredFile = {
      id: newFileId(),
      name: upload.name || 'upload',
      project_id: PROJECT_ID,
      purpose,
      external_file_id: externalFileId,
      file_type: upload.name.includes('.') ? (upload.name.split('.').pop() ?? null) : null,
      size_bytes: upload.bytes.length,
      created_at: new Date().toISOString(),
    };
    await store.addFile(file, upload.bytes);
    log.debug({ fileId: file.id, name: file.name, bytes: file.size_bytes }, 'file stored');
    return file;
  }

  app.get('/api/v1/beta/files', (req, res) => {
    const ids = queryList(req.query.file_ids);
    const name = req.query.file_name ? String(req.query.file_name) : undefined;
    const external = req.query.external_file_id ? String(req.query.external_file_id) : undefined;
    const files = [...store.files.values()]
      .filter((f) => (ids.length === 0 || ids.includes(f.id)) && (!name || f.name === name))
      .filter((f) => !external || f.external_file_id === external)
      .sort((a, b) => b.created_at.localeCompare(a.created_at));
    const page = paginate(files, req.query);
    res.json({ ...page, items: page.items.map(fileJson) });
  });

  app.get('/api/v1/beta/files/:id', (req, res) => {
    const file = store.files.get(req.params.id);
    if (!file) throw notFound(`File ${req.params.id}`);
    res.json(fileJson(file));
  });

  app.get('/api/v1/beta/files/:id/content', (req, res) => {
    const file = store.files.get(req.params.id);
    if (!file) throw notFound(`File ${req.params.id}`);
    const origin = `${req.protocol}://${req.get('host')}`;
    res.json({
      url: `${origin}/_files/${file.id}`,
      expires_at: new Date(Date.now() + 3600_000).toISOString(),
    });
  });

  app.get(
    '/_files/:id',
    asyncRoute(async (req, res) => {
      const bytes = await store.fileBytes(String(req.params.id));
      if (!bytes) throw notFound(`File ${String(req.params.id)}`);
      res.type('application/octet-stream').send(bytes);
    }),
  );

  app.delete(
    '/api/v1/beta/files/:id',
    asyncRoute(async (req, res) => {
      if (!(await store.deleteFile(String(req.params.id)))) throw notFound(`File ${String(req.params.id)}`);
      res.status(204).end();
    }),
  );

  // Parse v2
  app.post(
    '/api/v2/parse',
    asyncRoute(async (req, res) => {
      const body = parseOr422(parseCreateSchema, req.body);
      if (!body.file_id) {
        throw new HttpError(
          422,
          body.source_url
            ? 'source_url is not supported by cloud-local (it has no network); upload the file and pass file_id'
            : [{ loc: ['body', 'file_id'], msg: 'Provide file_id or source_url', type: 'missing' }],
        );
      }
      const job = await engine.createParse(parseJobInput(body, body.file_id, store));
      res.json(parseJobJson(job));
    }),
  );

  app.post(
    '/api/v2/parse/upload',
    asyncRoute(async (req, res) => {
      const upload = await readMultipart(req, deps.maxUploadBytes, 'file');
      res.locals.multipartFields = { ...upload.fields, file: upload.file?.name };
      if (!upload.file)
        throw new HttpError(422, [{ loc: ['body', 'file'], msg: 'Field required', type: 'missing' }]);
      let configuration: unknown;
      try {
        configuration = JSON.parse(upload.fields.configuration ?? '{}');
      } catch {
        throw new HttpError(422, [
          { loc: ['body', 'configuration'], msg: 'must be a JSON object', type: 'value_error' },
        ]);
      }
      const body = parseOr422(parseCreateSchema, configuration);
      const file = await storeFile(upload.file, 'parse', null);
      const job = await engine.createParse(parseJobInput(body, file.id, store));
      res.json(parseJobJson(job));
    }),
  );

  app.get('/api/v2/parse/versions', (_req, res) => {
    res.json({ versions: ['latest'], latest: 'latest' });
  });

  app.get('/api/v2/parse', (req, res) => {
    const jobs = listJobs('parse', req) as ParseJob[];
    const page = paginate(jobs, req.query);
    res.json({ ...page, items: page.items.map(parseJobJson) });
  });

  app.get('/api/v2/parse/:id', (req, res) => {
    const job = store.jobs.get(req.params.id);
    if (job?.kind !== 'parse') throw notFound(`Parse job ${req.params.id}`);
    res.json(parseGetJson(job, queryList(req.query.expand)));
  });

  app.post(
    '/api/v2/parse/:id/cancel',
    asyncRoute(async (req, res) => {
      const job = store.jobs.get(String(req.params.id));
      if (job?.kind !== 'parse') throw notFound(`Parse job ${String(req.params.id)}`);
      await engine.cancel(job.id);
      res.json(parseJobJson(job));
    }),
  );

  app.delete(
    '/api/v2/parse/:id',
    asyncRoute(async (req, res) => {
      const job = store.jobs.get(String(req.params.id));
      if (job?.kind !== 'parse') throw notFound(`Parse job ${String(req.params.id)}`);
      await engine.cancel(job.id);
      await store.deleteJob(job.id);
      res.json({ id: job.id, project_id: PROJECT_ID });
    }),
  );

  configurationRoutes(app, store, paginate);
  directoryRoutes(app, {
    store,
    paginate,
    readUpload: (req, field) => readMultipart(req, deps.maxUploadBytes, field),
    storeFile: (upload, externalFileId) =>
      storeFile({ mimeType: 'application/octet-stream', ...upload }, 'user_data', externalFileId),
  });
  batchRoutes(app, deps.batches, store, paginate, queryList);

  // Extract v2
  app.post(
    '/api/v2/extract/schema/validation',
    asyncRoute(async (req, res) => {
      const body = parseOr422(z.object({ data_schema: z.record(z.string(), z.unknown()) }), req.body);
      schemaProblemsOr422(body.data_schema, ['body', 'data_schema']);
      res.json({ data_schema: body.data_schema });
    }),
  );

  app.post(
    '/api/v2/extract/schema/generate',
    asyncRoute(async (req, res) => {
      const body = parseOr422(
        z.object({
          prompt: z.string().nullish(),
          file_id: z.string().nullish(),
          data_schema: z.record(z.string(), z.unknown()).nullish(),
          name: z.string().nullish(),
        }),
        req.body ?? {},
      );
      if (body.data_schema) schemaProblemsOr422(body.data_schema, ['body', 'data_schema']);
      let pages: ParsedPage[] | undefined;
      if (body.file_id) {
        const parsed = await engine.pagesOfFile(body.file_id);
        if (typeof parsed === 'string') {
          if (!store.files.has(body.file_id)) throw notFound(`File ${body.file_id}`);
          throw new HttpError(422, [{ loc: ['body', 'file_id'], msg: parsed, type: 'value_error' }]);
        }
        pages = parsed;
      }
      const dataSchema = generateSchema({
        ...(body.prompt ? { prompt: body.prompt } : {}),
        ...(pages ? { pages } : {}),
        ...(body.data_schema ? { dataSchema: body.data_schema } : {}),
      });
      if (!dataSchema) {
        throw new HttpError(422, [
          {
            loc: ['body'],
            msg: 'Give a prompt, a file_id or a data_schema that names at least one field',
            type: 'value_error',
          },
        ]);
      }
      const name = body.name ?? `extract-${Object.keys(dataSchema.properties).slice(0, 3).join('-')}`;
      res.json({ name, parameters: { product_type: 'extract_v2', data_schema: dataSchema } });
    }),
  );

  app.post(
    '/api/v2/extract',
    asyncRoute(async (req, res) => {
      const body = parseOr422(extractCreateSchema, req.body);
      const fileInput = (body.file_input ?? body.document_input_value)!;
      const saved = body.configuration_id
        ? parseOr422(extractConfigurationSchema, configurationFor(store, body.configuration_id, 'extract_v2'))
        : undefined;
      const configuration = body.configuration ?? body.config?.extract_options ?? saved;
      if (!configuration) {
        throw new HttpError(422, [
          {
            loc: ['body', 'configuration'],
            msg: 'Provide configuration or configuration_id',
            type: 'missing',
          },
        ]);
      }
      schemaProblemsOr422(configuration.data_schema, ['body', 'configuration', 'data_schema']);
      const job = await engine.createExtract({
        fileInput,
        configuration,
        configurationId: body.configuration ? null : (body.configuration_id ?? null),
        webhookConfigurations: body.webhook_configurations ?? [],
      });
      res.json(extractJobJson(job, []));
    }),
  );

  app.get('/api/v2/extract', (req, res) => {
    const fileInput = req.query.file_input ?? req.query.document_input_value;
    const jobs = (listJobs('extract', req) as ExtractJob[]).filter(
      (job) =>
        (!fileInput || job.file_input === String(fileInput)) &&
        (!req.query.configuration_id || job.configuration_id === String(req.query.configuration_id)),
    );
    const page = paginate(jobs, req.query);
    const expand = queryList(req.query.expand);
    res.json({ ...page, items: page.items.map((job) => extractJobJson(job, expand)) });
  });

  app.get('/api/v2/extract/:id', (req, res) => {
    const job = store.jobs.get(req.params.id);
    if (job?.kind !== 'extract') throw notFound(`Extract job ${req.params.id}`);
    res.json(extractJobJson(job, queryList(req.query.expand)));
  });

  app.post(
    '/api/v2/extract/:id/cancel',
    asyncRoute(async (req, res) => {
      const job = store.jobs.get(String(req.params.id));
      if (job?.kind !== 'extract') throw notFound(`Extract job ${String(req.params.id)}`);
      await engine.cancel(job.id);
      res.json(extractJobJson(job, []));
    }),
  );

  app.delete(
    '/api/v2/extract/:id',
    asyncRoute(async (req, res) => {
      const job = store.jobs.get(String(req.params.id));
      if (job?.kind !== 'extract') throw notFound(`Extract job ${String(req.params.id)}`);
      await engine.cancel(job.id);
      await store.deleteJob(job.id);
      res.json({ id: job.id, project_id: PROJECT_ID });
    }),
  );

  function listJobs(kind: 'parse' | 'extract', req: Request) {
    const ids = queryList(req.query.job_ids);
    const status = req.query.status ? String(req.query.status) : undefined;
    const after = req.query.created_at_on_or_after
      ? new Date(String(req.query.created_at_on_or_after)).toISOString()
      : undefined;
    const before = req.query.created_at_on_or_before
      ? new Date(String(req.query.created_at_on_or_before)).toISOString()
      : undefined;
    return [...store.jobs.values()]
      .filter((job) => job.kind === kind)
      .filter((job) => ids.length === 0 || ids.includes(job.id))
      .filter((job) => !status || job.status === status)
      .filter((job) => (!after || job.created_at >= after) && (!before || job.created_at <= before))
      .sort((a, b) => b.created_at.localeCompare(a.created_at) || b.id.localeCompare(a.id));
  }

  app.use((req, _res) => {
    throw new HttpError(404, `Not Found: ${req.method} ${req.path}`);
  });
  app.use((error: unknown, req: Request, res: Response, next: NextFunction) => {
    if (error instanceof JobInputError) {
      errorMiddleware(new HttpError(error.status, error.message), req, res, next);
      return;
    }
    if (!(error instanceof HttpError))
      log.error({ err: error, path: req.path, requestId: randomUUID() }, 'request failed');
    errorMiddleware(error, req, res, next);
  });
  return app;
}
