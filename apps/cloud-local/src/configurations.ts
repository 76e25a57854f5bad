import { randomUUID } from 'node:crypto';
import type express from 'express';
import { z } from 'zod';
import { asyncRoute, HttpError, notFound, parseOr422 } from './http-errors.js';
import { schemaProblemsOr422 } from './schema-validation.js';
import type { CloudStore, Configuration } from './store.js';

/**
 * Saved product configurations (`/api/v1/beta/configurations`), as the SDK 2.16 describes
 * them: create upserts by name and product type, list filters by name and product type (newest
 * version first), retrieve, update (a new version) and delete. Built-in parse presets
 * (`cfg-PARSE_AGENTIC` …) can be used and read but not changed.
 */

const PRODUCT_TYPES = [
  'extract_v2',
  'parse_v2',
  'classify_v2',
  'split_v1',
  'spreadsheet_v1',
  'unknown',
] as const;
const EPOCH = '2025-01-01T00:00:00.000Z';

export const PRESETS: readonly Configuration[] = (
  ['fast', 'cost_effective', 'agentic', 'agentic_plus'] as const
).map((tier) => ({
  id: `cfg-PARSE_${tier.toUpperCase()}`,
  name: `PARSE_${tier.toUpperCase()}`,
  product_type: 'parse_v2',
  parameters: { product_type: 'parse_v2', tier, version: 'latest' },
  version: EPOCH,
  created_at: EPOCH,
  updated_at: EPOCH,
}));

const parametersSchema = z.looseObject({ product_type: z.enum(PRODUCT_TYPES) });

/** A configuration by id (presets included), or undefined. */
export function findConfiguration(store: CloudStore, id: string): Configuration | undefined {
  return PRESETS.find((preset) => preset.id === id) ?? store.configurations.get(id);
}

/**
 * The configuration a job names, checked to be of the job's product: 404 when there is none,
 * 422 when it configures another product.
 */
export function configurationFor(store: CloudStore, id: string, productType: 'extract_v2' | 'parse_v2') {
  const configuration = findConfiguration(store, id);
  if (!configuration) throw notFound(`Configuration ${id}`);
  if (configuration.product_type !== productType) {
    throw new HttpError(422, [
      {
        loc: ['body', 'configuration_id'],
        msg: `Configuration ${id} is a ${configuration.product_type} configuration; this job needs ${productType}`,
        type: 'value_error',
      },
    ]);
  }
  return configuration.parameters;
}

function checkParameters(parameters: z.output<typeof parametersSchema>): void {
  if (parameters.product_type === 'extract_v2')
    schemaProblemsOr422(parameters.data_schema, ['body', 'parameters', 'data_schema']);
}

export function configurationRoutes(app: express.Express, store: CloudStore, paginate: Paginate): void {
  const base = '/api/v1/beta/configurations';

  app.post(
    base,
    asyncRoute(async (req, res) => {
      const body = parseOr422(z.object({ name: z.string().min(1), parameters: parametersSchema }), req.body);
      checkParameters(body.parameters);
      const now = new Date().toISOString();
      const existing = store.configurations
        .all()
        .find((c) => c.name === body.name && c.product_type === body.parameters.product_type);
      const configuration: Configuration = {
        id: existing?.id ?? `cfg-${randomUUID()}`,
        name: body.name,
        product_type: body.parameters.product_type,
        parameters: body.parameters,
        version: now,
        created_at: existing?.created_at ?? now,
        updated_at: now,
      };
      await store.configurations.save(configuration);
      res.json(configuration);
    }),
  );

  app.get(base, (req, res) => {
    const types = ([] as unknown[]).concat(req.query.product_type ?? []).map(String);
    const items = store.configurations
      .all()
      .filter(
        (c) =>
          (!req.query.name || c.name === String(req.query.name)) &&
          (!types.length || types.includes(c.product_type)),
      )
      .sort((a, b) => b.updated_at.localeCompare(a.updated_at));
    const page = paginate(items, req.query);
    res.json(page);
  });

  app.get(`${base}/:id`, (req, res) => {
    const configuration = findConfiguration(store, req.params.id);
    if (!configuration) throw notFound(`Configuration ${req.params.id}`);
    res.json(configuration);
  });

  app.put(
    `${base}/:id`,
    asyncRoute(async (req, res) => {
      const id = String(req.params.id);
      if (PRESETS.some((preset) => preset.id === id))
        throw new HttpError(403, `Configuration ${id} is a built-in preset and cannot be changed`);
      const configuration = store.configurations.get(id);
      if (!configuration) throw notFound(`Configuration ${id}`);
      const body = parseOr422(
        z.object({ name: z.string().min(1).nullish(), parameters: parametersSchema.nullish() }),
        req.body,
      );
      if (body.parameters) {
        checkParameters(body.parameters);
        if (body.parameters.product_type !== configuration.product_type) {
          throw new HttpError(422, [
            {
              loc: ['body', 'parameters', 'product_type'],
              msg: 'The product type cannot change',
              type: 'value_error',
            },
          ]);
        }
      }
      const updated: Configuration = {
        ...configuration,
        ...(body.name ? { name: body.name } : {}),
        ...(body.parameters ? { parameters: body.parameters } : {}),
        version: new Date().toISOString(),
        updated_at: new Date().toISOString(),
      };
      await store.configurations.save(updated);
      res.json(updated);
    }),
  );

  app.delete(
    `${base}/:id`,
    asyncRoute(async (req, res) => {
      const id = String(req.params.id);
      if (PRESETS.some((preset) => preset.id === id))
        throw new HttpError(403, `Configuration ${id} is a built-in preset and cannot be deleted`);
      if (!(await store.configurations.delete(id))) throw notFound(`Configuration ${id}`);
      res.status(204).end();
    }),
  );
}

export type Paginate = <T>(
  items: T[],
  query: express.Request['query'],
) => { items: T[]; next_page_token: string | null; total_size: number };
