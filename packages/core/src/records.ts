import { z } from 'zod';

/** Where one file is in the pipeline. */
export const FILE_STATES = [
  'queued',
  'uploading',
  'parsing',
  'extracting',
  'completed',
  'failed',
  'skipped',
  'cancelled',
] as const;
export type FileState = (typeof FILE_STATES)[number];

export const TERMINAL_FILE_STATES: readonly FileState[] = ['completed', 'failed', 'skipped', 'cancelled'];

/**
 * The legal moves of the file state machine, keyed by target state. A move into the state a file
 * is already in is a no-op (a retried job re-enters its stage), never an error.
 * A failed file reopens only through an explicit retry, which restarts it where it failed
 * (→ queued, parsing or extracting).
 */
export const FILE_TRANSITIONS: Readonly<Record<FileState, readonly FileState[]>> = {
  queued: ['failed', 'skipped', 'cancelled'],
  // (And from parsing or extracting when the upstream lost the file, but only as the restart's own
  // move, guarded by round: StateStore.restartAtUpload. A late rerun of an upload must not move back.)
  uploading: ['queued'],
  parsing: ['uploading', 'failed'],
  extracting: ['uploading', 'parsing', 'failed'],
  completed: ['extracting'],
  failed: ['queued', 'uploading', 'parsing', 'extracting'],
  skipped: ['queued', 'uploading', 'parsing', 'extracting'],
  cancelled: ['queued', 'uploading', 'parsing', 'extracting'],
};

export const BATCH_STATUSES = ['running', 'completed', 'completed_with_errors', 'cancelled'] as const;
export type BatchStatus = (typeof BATCH_STATUSES)[number];

export const EXTRACT_TIERS = ['cost_effective', 'agentic', 'agentic_plus', 'turbo'] as const;
export type ExtractTier = (typeof EXTRACT_TIERS)[number];

const taskName = z
  .string()
  .regex(
    /^[A-Za-z0-9_-]{1,64}$/,
    'use 1–64 letters, digits, "_" or "-" (it is part of job ids and file names)',
  );

/** One extraction a batch asks for: each file gets one task per extraction. */
export const extractionSpecSchema = z
  .object({
    name: taskName,
    data_schema: z.record(z.string(), z.unknown()).optional(),
    configuration_id: z.string().min(1).optional(),
    tier: z.enum(EXTRACT_TIERS).default('cost_effective'),
    extraction_target: z.enum(['per_doc', 'per_page', 'per_table_row']).default('per_doc'),
    target_pages: z.string().min(1).optional(),
    cite_sources: z.boolean().default(true),
    confidence_scores: z.boolean().default(true),
  })
  .refine((spec) => (spec.data_schema === undefined) !== (spec.configuration_id === undefined), {
    message: 'give exactly one of data_schema or configuration_id',
    path: ['data_schema'],
  });
export type ExtractionSpec = z.output<typeof extractionSpecSchema>;

export const parseSpecSchema = z.object({
  tier: z.enum(['fast', 'cost_effective', 'agentic', 'agentic_plus']).default('cost_effective'),
  version: z.string().default('latest'),
});
export type ParseSpec = z.output<typeof parseSpecSchema>;

/** What a batch asks the pipeline to do with each of its files. */
export const batchSpecSchema = z
  .object({
    parse: parseSpecSchema.optional(),
    extract: z.array(extractionSpecSchema).min(1, 'give at least one extraction'),
  })
  .refine((spec) => new Set(spec.extract.map((e) => e.name)).size === spec.extract.length, {
    message: 'extraction names must be unique within a batch',
    path: ['extract'],
  });
export type BatchSpec = z.output<typeof batchSpecSchema>;

/** A file as it is accepted: its bytes already in the blob store under `sha256`. */
export interface NewFile {
  name: string;
  sha256: string;
  sizeBytes: number;
  metadata?: Record<string, unknown>;
}

export interface FileError {
  stage: string;
  code: string;
  message: string;
  /** The attempt of the stage job that gave up. */
  attempt?: number;
  /** The LlamaCloud file or job the failure concerns, when there was one. */
  remote_id?: string;
}

export interface FileRecord {
  id: string;
  batchId: string;
  ordinal: number;
  name: string;
  sha256: string;
  sizeBytes: number;
  metadata: Record<string, unknown>;
  state: FileState;
  /** Times the file was (re)queued: 1 for the first run, 2 after one retry … */
  round: number;
  createdAt: number;
  updatedAt: number;
  startedAt?: number;
  finishedAt?: number;
  remoteFileId?: string;
  parseJobId?: string;
  error?: FileError;
  skipReason?: string;
}

export interface BatchCounters {
  total: number;
  byState: Record<FileState, number>;
}

export interface BatchRecord {
  id: string;
  status: BatchStatus;
  spec: BatchSpec;
  createdAt: number;
  updatedAt: number;
  finishedAt?: number;
  counters: BatchCounters;
  creditsUsed: number;
  /** Credits held for files still running (only batches with a budget reserve). */
  creditsReserved: number;
  /** Incremented each time the batch reaches a terminal status (callbacks carry it). */
  sequence: number;
  callbackUrl?: string;
  budgetCredits?: number;
  idempotencyKey?: string;
  /** Set by a cancel: the batch ends `cancelled` once every file is terminal. */
  cancelRequested?: boolean;
  /** 1 (most urgent) … 10; every job of the batch carries it as its BullMQ priority. */
  priority: number;
  /** The service that enqueued it: dispatch shares capacity fairly between tenants. */
  tenant: string;
}

export const DEFAULT_PRIORITY = 5;

/** A batch enqueued without a tenant (single-service deployments) belongs to this one. */
export const DEFAULT_TENANT = 'default';
/** What a tenant's name may be (it is part of Redis keys). */
export const TENANT_NAME = /^[a-z0-9][a-z0-9_-]{0,39}$/;
export const tenantSchema = z.string().regex(TENANT_NAME, 'use 1–40 lowercase letters, digits, "_" or "-"');
export const prioritySchema = z
  .number()
  .int()
  .min(1, 'use 1 (most urgent) to 10')
  .max(10, 'use 1 (most urgent) to 10');
