import { once } from 'node:events';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import { FAMILY_QUEUES, FILE_STATES, type Liveness, tenantSchema } from '@docpipe/core';
import {
  cancelBatch,
  handleLlamaCloudWebhook,
  type PipelineContext,
  retryFailed,
  WEBHOOK_PATH,
} from '@docpipe/pipeline';
import type { Queue } from 'bullmq';
import express, { type Request, type Response } from 'express';
import { z } from 'zod';
import { ApiError, asyncRoute, errorMiddleware, parseOr400 } from './api-errors.js';
import { ADMIN_TENANT, type Caller, requireKey } from './auth.js';
import { streamBatchEvents } from './batch-events.js';
import { acceptJson, acceptMultipart } from './batch-intake.js';
import { dashboardRouter } from './dashboard.js';
import { batchView, fileView, tenantView } from './views.js';

/** What the API works with: a pipeline context (it cancels and retries) and worker liveness. */
export interface AppDeps extends PipelineContext {
  liveness: Liveness;
}

/** A tenant's share and quotas (PUT /v1/tenants/:tenant); absent: weight 1, no quota. */
const tenantConfigSchema = z
  .object({
    weight: z.number().min(0.1).max(1000).optional(),
    max_in_flight: z.number().int().min(1).optional(),
    files_per_second: z.number().positive().optional(),
    credits_per_day: z.number().min(0).optional(),
  })
  .strict();

const filesQuery = z
  .object({
    state: z.enum(FILE_STATES).optional(),
    cursor: z.string().regex(/^\d+$/, 'use the next_cursor of the previous page').optional(),
    limit: z.coerce.number().int().min(1).max(1000).optional(),
  })
  .strict();

const batchesQuery = z
  .object({
    cursor: z
      .string()
      .regex(/^\d+\|bat_\w+$/, 'use the next_cursor of the previous page')
      .optional(),
    limit: z.coerce.number().int().min(1).max(500).optional(),
  })
  .strict();

const retryBody = z.object({ file_ids: z.array(z.string()).min(1).optional() }).strict();

export function buildApp(deps: AppDeps) {
  const { config, log } = deps;
  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple');

  app.get('/healthz', (_req, res) => {
    res.json({ ok: true });
  });
  app.get(
    '/readyz',
    asyncRoute(async (_req, res) => {
      try {
        await deps.redis.ping();
      } catch (error) {
        res.status(503).json({ ready: false, reason: `Redis does not answer: ${(error as Error).message}` });
        return;
      }
      const readiness = await deps.liveness.readiness(2 * config.stages.heartbeatIntervalMs);
      res.status(readiness.ready ? 200 : 503).json(readiness);
    }),
  );
  app.get(
    '/metrics',
    asyncRoute(async (_req, res) => {
      res.type(deps.metrics.contentType).send(await deps.metrics.text());
    }),
  );

  // LlamaCloud webhooks authenticate by signature, not by API key, and need the raw body.
  app.post(
    WEBHOOK_PATH,
    express.raw({ type: () => true, limit: '1mb' }),
    asyncRoute(async (req, res) => {
      const answer = await handleLlamaCloudWebhook(deps, req.body as Buffer, req.headers);
      res.status(answer.status).json(answer.body);
    }),
  );

  const v1 = express.Router();
  if (config.api.corsOrigins.length > 0) {
    v1.use((req, res, next) => {
      const origin = req.get('origin');
      if (origin && config.api.corsOrigins.includes(origin)) {
        res.set({
          'access-control-allow-origin': origin,
          'access-control-allow-headers': 'authorization, content-type, last-event-id',
          'access-control-allow-methods': 'GET, POST',
          vary: 'origin',
        });
        if (req.method === 'OPTIONS') return void res.status(204).end();
      }
      next();
    });
  }
  v1.use(requireKey(config.api.tenants, 'bearer'));
  v1.use(express.json({ limit: Math.ceil(config.storage.blobMaxBytes * 1.4) + 1024 * 1024 }));

  v1.post(
    '/batches',
    asyncRoute(async (req, res) => {
      const type = req.get('content-type') ?? '';
      let created: Awaited<ReturnType<typeof acceptJson>>;
      if (type.startsWith('multipart/form-data'))
        created = await acceptMultipart(deps, req, res.locals.caller as Caller);
      else if (req.is('application/json'))
        created = await acceptJson(deps, req.body, res.locals.caller as Caller);
      else
        throw new ApiError(
          415,
          'unsupported_media_type',
          `send the batch as application/json or multipart/form-data, not ${type || 'no content type'}`,
        );
      log.info(
        { batchId: created.batch.id, files: created.files.length, created: created.created },
        'batch accepted',
      );
      res
        .status(created.created ? 201 : 200)
        .location(`/v1/batches/${created.batch.id}`)
        .json(batchView(created.batch));
    }),
  );
  v1.get(
    '/batches',
    asyncRoute(async (req, res) => {
      const query = parseOr400(batchesQuery, req.query, 'query');
      const page = await deps.state.listBatches(query);
      res.json({ items: page.items.map((b) => batchView(b)), next_cursor: page.nextCursor ?? null });
    }),
  );
  v1.get(
    '/batches/:id',
    asyncRoute(async (req, res) => {
      res.json(batchView(await deps.state.getBatch(String(req.params.id))));
    }),
  );
  v1.get(
    '/batches/:id/files',
    asyncRoute(async (req, res) => {
      const query = parseOr400(filesQuery, req.query, 'query');
      const batchId = String(req.params.id);
      await deps.state.getBatch(batchId);
      const page = await deps.state.listFiles(batchId, query);
      res.json({
        items: page.items.map((file) => fileView(file, config.redis.queueFamilies)),
        next_cursor: page.nextCursor ?? null,
      });
    }),
  );
  v1.get(
    '/batches/:id/results',
    asyncRoute(async (req, res) => {
      const batchId = String(req.params.id);
      await deps.state.getBatch(batchId);
      res.status(200).type('application/x-ndjson');
      for await (const doc of deps.results.list(batchId)) {
        if (!res.write(`${JSON.stringify(doc)}\n`)) await once(res, 'drain');
      }
      res.end();
    }),
  );
  v1.get(
    '/batches/:id/events',
    asyncRoute((req, res) => streamBatchEvents(deps, req, res, String(req.params.id))),
  );
  v1.post(
    '/batches/:id/retry-failed',
    asyncRoute(async (req, res) => {
      const body = parseOr400(retryBody, req.body ?? {});
      const report = await retryFailed(
        deps,
        String(req.params.id),
        body.file_ids ? { fileIds: body.file_ids } : {},
      );
      res.status(202).json({
        retried: report.retried,
        batch: batchView(await deps.state.getBatch(String(req.params.id))),
      });
    }),
  );
  v1.post(
    '/batches/:id/cancel',
    asyncRoute(async (req, res) => {
      const report = await cancelBatch(deps, String(req.params.id));
      res.status(202).json({
        cancelled: report.cancelled,
        remote_cancelled: report.remoteCancelled,
        batch: batchView(await deps.state.getBatch(String(req.params.id))),
      });
    }),
  );
  v1.get(
    '/files/:id',
    asyncRoute(async (req, res) => {
      res.json(fileView(await deps.state.getFile(String(req.params.id)), config.redis.queueFamilies));
    }),
  );
  v1.get(
    '/tenants',
    asyncRoute(async (_req, res) => {
      const caller = res.locals.caller as Caller;
      const all = await deps.dispatcher.status();
      const visible = caller.admin ? all : all.filter((t) => t.tenant === caller.tenant);
      res.json({ items: visible.map(tenantView) });
    }),
  );
  v1.put(
    '/tenants/:tenant',
    asyncRoute(async (req, res) => {
      const caller = res.locals.caller as Caller;
      if (!caller.admin)
        throw new ApiError(
          403,
          'admin_only',
          `only keys of tenant "${ADMIN_TENANT}" may set shares and quotas`,
        );
      const tenant = parseOr400(tenantSchema, req.params.tenant, 'tenant');
      const config = parseOr400(tenantConfigSchema, req.body);
      await deps.dispatcher.configure(tenant, config);
      await deps.dispatcher.soon(); // a raised quota admits waiting files now
      log.info({ tenant, config }, 'tenant configured');
      const status = (await deps.dispatcher.status()).find((t) => t.tenant === tenant)!;
      res.json(tenantView(status));
    }),
  );
  v1.use((req: Request, _res: Response) => {
    throw new ApiError(404, 'not_found', `no route ${req.method} /v1${req.path}`);
  });
  app.use('/v1', v1);

  // People: the batch pages and Bull Board, behind the same keys (basic auth in a browser).
  const boardQueue = (queue: Queue, prefix = '') =>
    new BullMQAdapter(queue, {
      readOnlyMode: config.api.readOnly,
      description: `docpipe ${queue.name} stage`,
      prefix,
    });
  const board = new ExpressAdapter();
  board.setBasePath('/admin/queues');
  createBullBoard({
    queues: [
      // Families share queue names and the board keys queues by name: `family<k>-upload` …
      ...deps.queues.families.flatMap((family, k) =>
        FAMILY_QUEUES.map((name) =>
          boardQueue(family[name], deps.queues.families.length > 1 ? `family${k}-` : ''),
        ),
      ),
      boardQueue(deps.queues.poll),
      boardQueue(deps.queues.notify),
    ],
    serverAdapter: board,
    options: { uiConfig: { boardTitle: 'docpipe queues' } },
  });
  app.use('/admin/queues', requireKey(config.api.tenants, 'browser'), board.getRouter());
  app.use(requireKey(config.api.tenants, 'browser'), dashboardRouter(deps));

  app.use((req: Request, res: Response) => {
    res
      .status(404)
      .json({ error: { code: 'not_found', message: `no route ${req.method} ${req.path}`, details: null } });
  });
  app.use(errorMiddleware(log));
  return app;
}
