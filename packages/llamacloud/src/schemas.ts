import { z } from 'zod';

/**
 * Response shapes as the official SDK 2.16 defines them, checked at the boundary. Objects are
 * loose (unknown fields pass through) and statuses are any string: the service may add fields
 * and states, and docpipe treats an unknown status as "not terminal yet".
 */

const nullish = <T extends z.ZodType>(schema: T) => schema.nullish();

export const fileSchema = z.looseObject({
  id: z.string(),
  name: z.string(),
  project_id: z.string(),
  external_file_id: nullish(z.string()),
  file_type: nullish(z.string()),
  purpose: nullish(z.string()),
  created_at: nullish(z.string()),
});
export type LlamaFile = z.output<typeof fileSchema>;

export const presignedUrlSchema = z.looseObject({ url: z.string(), expires_at: z.string() });

export const parseJobSchema = z.looseObject({
  id: z.string(),
  project_id: z.string(),
  status: z.string(),
  created_at: nullish(z.string()),
  updated_at: nullish(z.string()),
  error_message: nullish(z.string()),
  name: nullish(z.string()),
  tier: nullish(z.string()),
  usage: nullish(z.looseObject({ credits: nullish(z.number()) })),
});
export type ParseJob = z.output<typeof parseJobSchema>;

export const parseResultSchema = z.looseObject({
  job: parseJobSchema,
  text: nullish(
    z.looseObject({ pages: z.array(z.looseObject({ page_number: z.number(), text: z.string() })) }),
  ),
  markdown: nullish(
    z.looseObject({
      pages: z.array(
        z.looseObject({ page_number: z.number(), success: z.boolean(), markdown: z.string().optional() }),
      ),
    }),
  ),
  text_full: nullish(z.string()),
  markdown_full: nullish(z.string()),
  metadata: nullish(z.looseObject({ pages: z.array(z.looseObject({ page_number: z.number() })) })),
  job_metadata: nullish(z.record(z.string(), z.unknown())),
});
export type ParseResult = z.output<typeof parseResultSchema>;

const extractConfigurationSchema = z.looseObject({
  data_schema: z.record(z.string(), z.unknown()),
  tier: nullish(z.string()),
  extraction_target: nullish(z.string()),
  cite_sources: nullish(z.boolean()),
  confidence_scores: nullish(z.boolean()),
  target_pages: nullish(z.string()),
  parse_tier: nullish(z.string()),
});

export const extractJobSchema = z.looseObject({
  id: z.string(),
  status: z.string(),
  file_input: z.string(),
  project_id: z.string(),
  created_at: z.string(),
  updated_at: z.string(),
  configuration: nullish(extractConfigurationSchema),
  configuration_id: nullish(z.string()),
  error_message: nullish(z.string()),
  extract_result: nullish(
    z.union([z.record(z.string(), z.unknown()), z.array(z.record(z.string(), z.unknown()))]),
  ),
  extract_metadata: nullish(
    z.looseObject({
      field_metadata: nullish(
        z.looseObject({
          document_metadata: nullish(z.record(z.string(), z.unknown())),
          page_metadata: nullish(z.array(z.record(z.string(), z.unknown()))),
          row_metadata: nullish(z.array(z.record(z.string(), z.unknown()))),
        }),
      ),
      parse_job_id: nullish(z.string()),
      parse_tier: nullish(z.string()),
    }),
  ),
  metadata: nullish(
    z.looseObject({
      usage: nullish(
        z.looseObject({ num_pages_extracted: nullish(z.number()), num_pages_billed: nullish(z.number()) }),
      ),
    }),
  ),
  usage: nullish(
    z.looseObject({
      credits: nullish(z.number()),
      extract_credits: nullish(z.number()),
      parse_credits: nullish(z.number()),
    }),
  ),
});
export type ExtractJob = z.output<typeof extractJobSchema>;

export const schemaValidationSchema = z.looseObject({ data_schema: z.record(z.string(), z.unknown()) });

export function pageSchema<T extends z.ZodType>(item: T) {
  return z.looseObject({
    items: z.array(item),
    next_page_token: nullish(z.string()),
    total_size: nullish(z.number()),
  });
}

export interface Page<T> {
  items: T[];
  nextPageToken: string | undefined;
  totalSize: number | undefined;
}

/** Statuses after which a job no longer changes. */
export const TERMINAL_STATUSES = ['COMPLETED', 'FAILED', 'CANCELLED'] as const;
export const isTerminalStatus = (status: string) => (TERMINAL_STATUSES as readonly string[]).includes(status);

export type ExtractTier = 'cost_effective' | 'agentic' | 'agentic_plus' | 'turbo';

export interface WebhookConfiguration {
  webhook_url: string;
  webhook_events?: string[];
  webhook_headers?: Record<string, string>;
  webhook_output_format?: string;
  webhook_signing_secret?: string;
}

export interface ExtractConfiguration {
  data_schema: Record<string, unknown>;
  tier?: ExtractTier;
  extraction_target?: 'per_doc' | 'per_page' | 'per_table_row';
  cite_sources?: boolean;
  confidence_scores?: boolean;
  target_pages?: string;
  max_pages?: number;
  parse_tier?: string;
  system_prompt?: string;
}

/** A product configuration request, as schema generation returns it (`{name, parameters}`). */
export const generatedConfigurationSchema = z.looseObject({
  name: z.string(),
  parameters: z.looseObject({
    product_type: z.string(),
    data_schema: nullish(z.record(z.string(), z.unknown())),
  }),
});
export type GeneratedConfiguration = z.output<typeof generatedConfigurationSchema>;

/** A saved product configuration (`/api/v1/beta/configurations`). */
export const savedConfigurationSchema = z.looseObject({
  id: z.string(),
  name: z.string(),
  product_type: z.string(),
  parameters: z.looseObject({ product_type: z.string() }),
  version: z.string(),
  created_at: nullish(z.string()),
  updated_at: nullish(z.string()),
});
export type SavedConfiguration = z.output<typeof savedConfigurationSchema>;

export const directorySchema = z.looseObject({
  id: z.string(),
  name: z.string(),
  project_id: z.string(),
  type: nullish(z.string()),
  expires_at: nullish(z.string()),
  created_at: nullish(z.string()),
});
export type Directory = z.output<typeof directorySchema>;

export const directoryFileSchema = z.looseObject({
  id: z.string(),
  directory_id: z.string(),
  display_name: z.string(),
  file_id: nullish(z.string()),
  unique_id: z.string(),
});
export type DirectoryFile = z.output<typeof directoryFileSchema>;

/** A batch (`/api/v2/batches`); `results` only with `expand=results`, null entries while unmapped. */
export const batchSchema = z.looseObject({
  id: z.string(),
  status: z.string(),
  source_directory_id: z.string(),
  config: z.looseObject({
    job: z.looseObject({ type: z.string(), configuration_id: z.string() }),
  }),
  results: nullish(
    z.array(
      z.looseObject({
        source_directory_file_id: z.string(),
        job_reference: nullish(z.looseObject({ id: z.string(), type: z.string() })),
        error_message: nullish(z.string()),
      }),
    ),
  ),
  created_at: nullish(z.string()),
});
export type LlamaBatch = z.output<typeof batchSchema>;
