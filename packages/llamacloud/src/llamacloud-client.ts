import type { Config } from '@docpipe/core';
import { FormData } from 'undici';
import {
  batchSchema,
  type Directory,
  type DirectoryFile,
  directoryFileSchema,
  directorySchema,
  type ExtractConfiguration,
  type ExtractJob,
  extractJobSchema,
  fileSchema,
  type GeneratedConfiguration,
  generatedConfigurationSchema,
  type LlamaBatch,
  type LlamaFile,
  type Page,
  type ParseJob,
  type ParseResult,
  pageSchema,
  parseJobSchema,
  parseResultSchema,
  presignedUrlSchema,
  type SavedConfiguration,
  savedConfigurationSchema,
  schemaValidationSchema,
  type WebhookConfiguration,
} from './schemas.js';
import { type CallOptions, Transport, type TransportOptions } from './transport.js';

export type LlamaCloudClientOptions = TransportOptions;

const toPage = <T>(page: {
  items: T[];
  next_page_token?: string | null;
  total_size?: number | null;
}): Page<T> => ({
  items: page.items,
  nextPageToken: page.next_page_token || undefined,
  totalSize: page.total_size ?? undefined,
});

const pathId = (id: string) => encodeURIComponent(id);

export interface UploadInput {
  /** The bytes: a Blob (`fs.openAsBlob` streams from disk without buffering) or a buffer. */
  file: Blob | Uint8Array;
  name: string;
  purpose?: string;
  externalFileId?: string;
}

export interface ParseCreateInput {
  fileId: string;
  tier: string;
  version?: string;
  name?: string;
  pageRanges?: Record<string, unknown>;
  webhookConfigurations?: WebhookConfiguration[];
  userMetadata?: Record<string, string>;
}

export interface ExtractCreateInput {
  /** A `dfl-…` file id or a completed `pjb-…` parse job id. */
  fileInput: string;
  configuration?: ExtractConfiguration;
  configurationId?: string;
  webhookConfigurations?: WebhookConfiguration[];
}

export interface ListJobsInput {
  jobIds?: readonly string[];
  status?: string;
  pageSize?: number;
  pageToken?: string;
  expand?: readonly string[];
  createdAtOnOrAfter?: string;
  createdAtOnOrBefore?: string;
}

/**
 * The LlamaCloud API as docpipe uses it, shapes as in the official SDK 2.16. Knows nothing of
 * queues. One instance per process and origin: it owns a keep-alive connection pool.
 */
export class LlamaCloudClient {
  private readonly http: Transport;
  /** The origin this client talks to (caches of remote ids are kept per origin). */
  readonly baseUrl: string;

  constructor(options: LlamaCloudClientOptions) {
    this.http = new Transport(options);
    this.baseUrl = options.baseUrl;
  }

  readonly files = {
    upload: (input: UploadInput, call?: CallOptions): Promise<LlamaFile> =>
      this.http.request(
        {
          method: 'POST',
          path: '/api/v1/beta/files',
          route: '/api/v1/beta/files',
          idempotent: false,
          schema: fileSchema,
          form: () => {
            const form = new FormData();
            const blob = input.file instanceof Blob ? input.file : new Blob([input.file]);
            form.append('file', blob, input.name);
            form.append('purpose', input.purpose ?? 'extract');
            if (input.externalFileId) form.append('external_file_id', input.externalFileId);
            return form;
          },
        },
        call,
      ),
    get: (fileId: string, call?: CallOptions): Promise<LlamaFile> =>
      this.http.request(
        {
          method: 'GET',
          path: `/api/v1/beta/files/${pathId(fileId)}`,
          route: '/api/v1/beta/files/:id',
          idempotent: true,
          schema: fileSchema,
        },
        call,
      ),
    list: async (
      input: {
        fileIds?: readonly string[];
        fileName?: string;
        externalFileId?: string;
        pageSize?: number;
        pageToken?: string;
      } = {},
      call?: CallOptions,
    ): Promise<Page<LlamaFile>> =>
      toPage(
        await this.http.request(
          {
            method: 'GET',
            path: '/api/v1/beta/files',
            route: '/api/v1/beta/files',
            idempotent: true,
            schema: pageSchema(fileSchema),
            query: {
              file_ids: input.fileIds,
              file_name: input.fileName,
              external_file_id: input.externalFileId,
              page_size: input.pageSize,
              page_token: input.pageToken,
            },
          },
          call,
        ),
      ),
    delete: async (fileId: string, call?: CallOptions): Promise<void> => {
      await this.http.request(
        {
          method: 'DELETE',
          path: `/api/v1/beta/files/${pathId(fileId)}`,
          route: '/api/v1/beta/files/:id',
          idempotent: true,
        },
        call,
      );
    },
    contentUrl: (fileId: string, call?: CallOptions) =>
      this.http.request(
        {
          method: 'GET',
          path: `/api/v1/beta/files/${pathId(fileId)}/content`,
          route: '/api/v1/beta/files/:id/content',
          idempotent: true,
          schema: presignedUrlSchema,
        },
        call,
      ),
  };

  readonly parse = {
    create: (input: ParseCreateInput, call?: CallOptions): Promise<ParseJob> =>
      this.http.request(
        {
          method: 'POST',
          path: '/api/v2/parse',
          route: '/api/v2/parse',
          idempotent: false,
          schema: parseJobSchema,
          json: {
            file_id: input.fileId,
            tier: input.tier,
            version: input.version ?? 'latest',
            ...(input.name ? { name: input.name } : {}),
            ...(input.pageRanges ? { page_ranges: input.pageRanges } : {}),
            ...(input.userMetadata ? { user_metadata: input.userMetadata } : {}),
            ...(input.webhookConfigurations ? { webhook_configurations: input.webhookConfigurations } : {}),
          },
        },
        call,
      ),
    get: (
      jobId: string,
      input: { expand?: readonly string[] } = {},
      call?: CallOptions,
    ): Promise<ParseResult> =>
      this.http.request(
        {
          method: 'GET',
          path: `/api/v2/parse/${pathId(jobId)}`,
          route: '/api/v2/parse/:id',
          idempotent: true,
          schema: parseResultSchema,
          query: { expand: input.expand },
        },
        call,
      ),
    list: async (input: ListJobsInput = {}, call?: CallOptions): Promise<Page<ParseJob>> =>
      toPage(
        await this.http.request(
          {
            method: 'GET',
            path: '/api/v2/parse',
            route: '/api/v2/parse',
            idempotent: true,
            schema: pageSchema(parseJobSchema),
            query: listQuery(input),
          },
          call,
        ),
      ),
    cancel: (jobId: string, call?: CallOptions): Promise<ParseJob> =>
      this.http.request(
        {
          method: 'POST',
          path: `/api/v2/parse/${pathId(jobId)}/cancel`,
          route: '/api/v2/parse/:id/cancel',
          idempotent: true,
          schema: parseJobSchema,
        },
        call,
      ),
  };

  readonly extract = {
    create: (input: ExtractCreateInput, call?: CallOptions): Promise<ExtractJob> =>
      this.http.request(
        {
          method: 'POST',
          path: '/api/v2/extract',
          route: '/api/v2/extract',
          idempotent: false,
          schema: extractJobSchema,
          json: {
            file_input: input.fileInput,
            ...(input.configuration ? { configuration: input.configuration } : {}),
            ...(input.configurationId ? { configuration_id: input.configurationId } : {}),
            ...(input.webhookConfigurations ? { webhook_configurations: input.webhookConfigurations } : {}),
          },
        },
        call,
      ),
    get: (
      jobId: string,
      input: { expand?: readonly string[] } = {},
      call?: CallOptions,
    ): Promise<ExtractJob> =>
      this.http.request(
        {
          method: 'GET',
          path: `/api/v2/extract/${pathId(jobId)}`,
          route: '/api/v2/extract/:id',
          idempotent: true,
          schema: extractJobSchema,
          query: { expand: input.expand },
        },
        call,
      ),
    list: async (
      input: ListJobsInput & { fileInput?: string; configurationId?: string } = {},
      call?: CallOptions,
    ): Promise<Page<ExtractJob>> =>
      toPage(
        await this.http.request(
          {
            method: 'GET',
            path: '/api/v2/extract',
            route: '/api/v2/extract',
            idempotent: true,
            schema: pageSchema(extractJobSchema),
            query: {
              ...listQuery(input),
              file_input: input.fileInput,
              configuration_id: input.configurationId,
            },
          },
          call,
        ),
      ),
    cancel: (jobId: string, call?: CallOptions): Promise<ExtractJob> =>
      this.http.request(
        {
          method: 'POST',
          path: `/api/v2/extract/${pathId(jobId)}/cancel`,
          route: '/api/v2/extract/:id/cancel',
          idempotent: true,
          schema: extractJobSchema,
        },
        call,
      ),
    validateSchema: async (
      dataSchema: Record<string, unknown>,
      call?: CallOptions,
    ): Promise<Record<string, unknown>> =>
      (
        await this.http.request(
          {
            method: 'POST',
            path: '/api/v2/extract/schema/validation',
            route: '/api/v2/extract/schema/validation',
            idempotent: true,
            schema: schemaValidationSchema,
            json: { data_schema: dataSchema },
          },
          call,
        )
      ).data_schema,
    /** A schema from a prompt, a file's labelled fields and/or a schema to extend. */
    generateSchema: (
      input: { prompt?: string; fileId?: string; dataSchema?: Record<string, unknown>; name?: string },
      call?: CallOptions,
    ): Promise<GeneratedConfiguration> =>
      this.http.request(
        {
          method: 'POST',
          path: '/api/v2/extract/schema/generate',
          route: '/api/v2/extract/schema/generate',
          idempotent: true,
          schema: generatedConfigurationSchema,
          json: {
            ...(input.prompt ? { prompt: input.prompt } : {}),
            ...(input.fileId ? { file_id: input.fileId } : {}),
            ...(input.dataSchema ? { data_schema: input.dataSchema } : {}),
            ...(input.name ? { name: input.name } : {}),
          },
        },
        call,
      ),
  };

  /** Saved product configurations: create upserts by name and product type. */
  readonly configurations = {
    create: (input: ConfigurationInput, call?: CallOptions): Promise<SavedConfiguration> =>
      this.http.request(
        {
          method: 'POST',
          path: '/api/v1/beta/configurations',
          route: '/api/v1/beta/configurations',
          // An upsert by name: sending it again changes nothing more.
          idempotent: true,
          schema: savedConfigurationSchema,
          json: input,
        },
        call,
      ),
    get: (id: string, call?: CallOptions): Promise<SavedConfiguration> =>
      this.http.request(
        {
          method: 'GET',
          path: `/api/v1/beta/configurations/${pathId(id)}`,
          route: '/api/v1/beta/configurations/:id',
          idempotent: true,
          schema: savedConfigurationSchema,
        },
        call,
      ),
    list: async (
      input: { name?: string; productType?: readonly string[]; pageSize?: number; pageToken?: string } = {},
      call?: CallOptions,
    ): Promise<Page<SavedConfiguration>> =>
      toPage(
        await this.http.request(
          {
            method: 'GET',
            path: '/api/v1/beta/configurations',
            route: '/api/v1/beta/configurations',
            idempotent: true,
            schema: pageSchema(savedConfigurationSchema),
            query: {
              name: input.name,
              product_type: input.productType,
              page_size: input.pageSize,
              page_token: input.pageToken,
            },
          },
          call,
        ),
      ),
    update: (
      id: string,
      input: Partial<ConfigurationInput>,
      call?: CallOptions,
    ): Promise<SavedConfiguration> =>
      this.http.request(
        {
          method: 'PUT',
          path: `/api/v1/beta/configurations/${pathId(id)}`,
          route: '/api/v1/beta/configurations/:id',
          idempotent: true,
          schema: savedConfigurationSchema,
          json: input,
        },
        call,
      ),
    delete: async (id: string, call?: CallOptions): Promise<void> => {
      await this.http.request(
        {
          method: 'DELETE',
          path: `/api/v1/beta/configurations/${pathId(id)}`,
          route: '/api/v1/beta/configurations/:id',
          idempotent: true,
        },
        call,
      );
    },
  };

  /** Directories: the sources of batches. */
  readonly directories = {
    create: (
      input: { name: string; type?: 'ephemeral' | 'user'; expiresAt?: string; description?: string },
      call?: CallOptions,
    ): Promise<Directory> =>
      this.http.request(
        {
          method: 'POST',
          path: '/api/v1/beta/directories',
          route: '/api/v1/beta/directories',
          idempotent: false,
          schema: directorySchema,
          json: {
            name: input.name,
            ...(input.type ? { type: input.type } : {}),
            ...(input.expiresAt ? { expires_at: input.expiresAt } : {}),
            ...(input.description ? { description: input.description } : {}),
          },
        },
        call,
      ),
    get: (id: string, call?: CallOptions): Promise<Directory> =>
      this.http.request(
        {
          method: 'GET',
          path: `/api/v1/beta/directories/${pathId(id)}`,
          route: '/api/v1/beta/directories/:id',
          idempotent: true,
          schema: directorySchema,
        },
        call,
      ),
    list: async (
      input: { name?: string; pageSize?: number; pageToken?: string } = {},
      call?: CallOptions,
    ): Promise<Page<Directory>> =>
      toPage(
        await this.http.request(
          {
            method: 'GET',
            path: '/api/v1/beta/directories',
            route: '/api/v1/beta/directories',
            idempotent: true,
            schema: pageSchema(directorySchema),
            query: { name: input.name, page_size: input.pageSize, page_token: input.pageToken },
          },
          call,
        ),
      ),
    delete: async (id: string, call?: CallOptions): Promise<void> => {
      await this.http.request(
        {
          method: 'DELETE',
          path: `/api/v1/beta/directories/${pathId(id)}`,
          route: '/api/v1/beta/directories/:id',
          idempotent: true,
        },
        call,
      );
    },
    /** Uploads a file into a directory (multipart field `upload_file`). */
    uploadFile: (
      directoryId: string,
      input: { file: Blob | Uint8Array; name: string; externalFileId?: string },
      call?: CallOptions,
    ): Promise<DirectoryFile> =>
      this.http.request(
        {
          method: 'POST',
          path: `/api/v1/beta/directories/${pathId(directoryId)}/files/upload`,
          route: '/api/v1/beta/directories/:id/files/upload',
          idempotent: false,
          schema: directoryFileSchema,
          form: () => {
            const form = new FormData();
            const blob = input.file instanceof Blob ? input.file : new Blob([input.file]);
            form.append('upload_file', blob, input.name);
            form.append('display_name', input.name);
            if (input.externalFileId) form.append('external_file_id', input.externalFileId);
            return form;
          },
        },
        call,
      ),
    /** Adds an uploaded file (`dfl-…`) to a directory. */
    addFile: (
      directoryId: string,
      input: { fileId: string; displayName?: string },
      call?: CallOptions,
    ): Promise<DirectoryFile> =>
      this.http.request(
        {
          method: 'POST',
          path: `/api/v1/beta/directories/${pathId(directoryId)}/files`,
          route: '/api/v1/beta/directories/:id/files',
          idempotent: false,
          schema: directoryFileSchema,
          json: { file_id: input.fileId, ...(input.displayName ? { display_name: input.displayName } : {}) },
        },
        call,
      ),
    listFiles: async (
      directoryId: string,
      input: { pageSize?: number; pageToken?: string } = {},
      call?: CallOptions,
    ): Promise<Page<DirectoryFile>> =>
      toPage(
        await this.http.request(
          {
            method: 'GET',
            path: `/api/v1/beta/directories/${pathId(directoryId)}/files`,
            route: '/api/v1/beta/directories/:id/files',
            idempotent: true,
            schema: pageSchema(directoryFileSchema),
            query: { page_size: input.pageSize, page_token: input.pageToken },
          },
          call,
        ),
      ),
  };

  /** Batches (seed 001): one job of a saved configuration per file of a directory. */
  readonly batches = {
    create: (
      input: {
        sourceDirectoryId: string;
        type: 'parse_v2' | 'extract_v2';
        configurationId: string;
        webhookConfigurations?: WebhookConfiguration[];
      },
      call?: CallOptions,
    ): Promise<LlamaBatch> =>
      this.http.request(
        {
          method: 'POST',
          path: '/api/v2/batches',
          route: '/api/v2/batches',
          idempotent: false,
          schema: batchSchema,
          json: {
            source_directory_id: input.sourceDirectoryId,
            config: { job: { type: input.type, configuration_id: input.configurationId } },
            ...(input.webhookConfigurations ? { webhook_configurations: input.webhookConfigurations } : {}),
          },
        },
        call,
      ),
    get: (id: string, input: { expand?: readonly string[] } = {}, call?: CallOptions): Promise<LlamaBatch> =>
      this.http.request(
        {
          method: 'GET',
          path: `/api/v2/batches/${pathId(id)}`,
          route: '/api/v2/batches/:id',
          idempotent: true,
          schema: batchSchema,
          query: { expand: input.expand },
        },
        call,
      ),
    list: async (
      input: { status?: string; sourceDirectoryId?: string; pageSize?: number; pageToken?: string } = {},
      call?: CallOptions,
    ): Promise<Page<LlamaBatch>> =>
      toPage(
        await this.http.request(
          {
            method: 'GET',
            path: '/api/v2/batches',
            route: '/api/v2/batches',
            idempotent: true,
            schema: pageSchema(batchSchema),
            query: {
              status: input.status,
              source_directory_id: input.sourceDirectoryId,
              page_size: input.pageSize,
              page_token: input.pageToken,
            },
          },
          call,
        ),
      ),
    cancel: (id: string, call?: CallOptions): Promise<LlamaBatch> =>
      this.http.request(
        {
          method: 'POST',
          path: `/api/v2/batches/${pathId(id)}/cancel`,
          route: '/api/v2/batches/:id/cancel',
          idempotent: true,
          schema: batchSchema,
        },
        call,
      ),
  };

  async close(): Promise<void> {
    await this.http.close();
  }
}

export interface ConfigurationInput {
  name: string;
  parameters: { product_type: string } & Record<string, unknown>;
}

function listQuery(input: ListJobsInput) {
  return {
    job_ids: input.jobIds,
    status: input.status,
    page_size: input.pageSize,
    page_token: input.pageToken,
    expand: input.expand,
    created_at_on_or_after: input.createdAtOnOrAfter,
    created_at_on_or_before: input.createdAtOnOrBefore,
  };
}

/**
 * The client a docpipe process uses: the configured (or given) upstream, timeouts and pool size
 * from config, and optionally the fleet's request budget and a metrics hook.
 */
export function clientFromConfig(
  config: Config,
  upstream: { baseUrl: string; apiKey: string },
  extra: Pick<LlamaCloudClientOptions, 'limiter' | 'onRequest' | 'connections'> = {},
): LlamaCloudClient {
  return new LlamaCloudClient({
    baseUrl: upstream.baseUrl,
    apiKey: upstream.apiKey,
    projectId: config.llamaCloud.projectId,
    connections: config.llamaCloud.connections,
    connectTimeoutMs: config.llamaCloud.connectTimeoutMs,
    headersTimeoutMs: config.llamaCloud.headersTimeoutMs,
    bodyTimeoutMs: config.llamaCloud.bodyTimeoutMs,
    ...extra,
  });
}
