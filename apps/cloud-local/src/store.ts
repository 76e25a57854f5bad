import { randomBytes, randomUUID } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ParsedPage } from './documents/parsed-document.js';

export const PROJECT_ID = 'prj-00000000-0000-0000-0000-000000000000';

export interface StoredFile {
  id: string;
  name: string;
  project_id: string;
  purpose: string | null;
  external_file_id: string | null;
  file_type: string | null;
  size_bytes: number;
  created_at: string;
}

export type JobStatus = 'PENDING' | 'THROTTLED' | 'RUNNING' | 'COMPLETED' | 'FAILED' | 'CANCELLED';

interface JobBase {
  id: string;
  status: JobStatus;
  created_at: string;
  updated_at: string;
  error_message: string | null;
  /** sha256 of file + configuration, for counting duplicate jobs. */
  dedupe_key: string;
  webhook_configurations: unknown[];
  pages: number | null;
  credits: number | null;
}

export interface ParseJob extends JobBase {
  kind: 'parse';
  file_id: string;
  tier: string;
  version: string;
  name: string | null;
  user_metadata: Record<string, string> | null;
  page_ranges?: { max_pages?: number | null | undefined; target_pages?: string | null | undefined } | null;
  result: ParsedPage[] | null;
}

export interface ExtractJob extends JobBase {
  kind: 'extract';
  file_input: string;
  configuration: Record<string, unknown>;
  configuration_id: string | null;
  extract_result: unknown;
  field_metadata: Record<string, unknown> | null;
  parse_job_id: string | null;
  throttled_ms: number;
  throttled_since: number | null;
}

export type Job = ParseJob | ExtractJob;

export const newFileId = () => `dfl-${randomUUID()}`;
export const newParseJobId = () => `pjb-${randomUUID()}`;
export const newExtractJobId = () => `ext-${randomUUID()}`;

/**
 * Files and jobs of cloud-local. With a data directory every change is written through
 * (JSON per record, bytes per file, atomic rename), so a restart keeps them as the real service
 * would; without one (`--ephemeral`) everything lives in memory and a restart forgets it.
 */
export class CloudStore {
  readonly files = new Map<string, StoredFile>();
  readonly jobs = new Map<string, Job>();
  readonly configurations: Records<Configuration>;
  readonly directories: Records<Directory>;
  readonly directoryFiles: Records<DirectoryFile>;
  readonly batches: Records<Batch>;
  private readonly bytes = new Map<string, Buffer>();

  private constructor(private readonly dataDir: string | undefined) {
    const dir = (name: string) => dataDir && join(dataDir, name);
    this.configurations = new Records(dir('configurations'));
    this.directories = new Records(dir('directories'));
    this.directoryFiles = new Records(dir('directory-files'));
    this.batches = new Records(dir('batches'));
  }

  static async open(dataDir: string | undefined): Promise<CloudStore> {
    const store = new CloudStore(dataDir);
    for (const records of [store.configurations, store.directories, store.directoryFiles, store.batches])
      await records.load();
    if (dataDir) {
      for (const dir of ['files', 'blobs', 'jobs']) await mkdir(join(dataDir, dir), { recursive: true });
      for (const name of await readdir(join(dataDir, 'files'))) {
        if (!name.endsWith('.json')) continue;
        const file = JSON.parse(await readFile(join(dataDir, 'files', name), 'utf8')) as StoredFile;
        store.files.set(file.id, file);
      }
      for (const name of await readdir(join(dataDir, 'jobs'))) {
        if (!name.endsWith('.json')) continue;
        const job = JSON.parse(await readFile(join(dataDir, 'jobs', name), 'utf8')) as Job;
        store.jobs.set(job.id, job);
      }
    }
    return store;
  }

  get persistent(): boolean {
    return this.dataDir !== undefined;
  }

  async addFile(file: StoredFile, content: Buffer): Promise<void> {
    if (this.dataDir) {
      await atomicWrite(join(this.dataDir, 'blobs', file.id), content);
      await atomicWrite(join(this.dataDir, 'files', `${file.id}.json`), JSON.stringify(file));
    } else {
      this.bytes.set(file.id, content);
    }
    this.files.set(file.id, file);
  }

  async fileBytes(id: string): Promise<Buffer | undefined> {
    if (!this.files.has(id)) return undefined;
    if (this.dataDir) return readFile(join(this.dataDir, 'blobs', id));
    return this.bytes.get(id);
  }

  async deleteFile(id: string): Promise<boolean> {
    if (!this.files.delete(id)) return false;
    this.bytes.delete(id);
    if (this.dataDir) {
      await rm(join(this.dataDir, 'files', `${id}.json`), { force: true });
      await rm(join(this.dataDir, 'blobs', id), { force: true });
    }
    return true;
  }

  /** Records a job's current state (call after every change). */
  async saveJob(job: Job): Promise<void> {
    this.jobs.set(job.id, job);
    if (this.dataDir) await atomicWrite(join(this.dataDir, 'jobs', `${job.id}.json`), JSON.stringify(job));
  }

  async deleteJob(id: string): Promise<boolean> {
    if (!this.jobs.delete(id)) return false;
    if (this.dataDir) await rm(join(this.dataDir, 'jobs', `${id}.json`), { force: true });
    return true;
  }

  async clear(): Promise<void> {
    for (const id of [...this.files.keys()]) await this.deleteFile(id);
    for (const id of [...this.jobs.keys()]) await this.deleteJob(id);
    for (const records of [
      this.configurations,
      this.directories,
      this.directoryFiles,
      this.batches,
    ] as Records<{
      id: string;
    }>[])
      for (const record of records.all()) await records.delete(record.id);
  }
}

/** A saved product configuration (`/api/v1/beta/configurations`). */
export interface Configuration {
  id: string;
  name: string;
  product_type: string;
  parameters: Record<string, unknown> & { product_type: string };
  version: string;
  created_at: string;
  updated_at: string;
}

/** A directory (`/api/v1/beta/directories`): a named set of files a batch can run over. */
export interface Directory {
  id: string;
  name: string;
  project_id: string;
  description: string | null;
  type: 'ephemeral' | 'user';
  expires_at: string | null;
  system_metadata: Record<string, unknown> | null;
  created_at: string;
  updated_at: string;
  deleted_at: string | null;
}

export interface DirectoryFile {
  id: string;
  directory_id: string;
  display_name: string;
  project_id: string;
  unique_id: string;
  file_id: string;
  metadata: Record<string, string | number | boolean | null | string[]>;
  created_at: string;
  updated_at: string;
  deleted_at: string | null;
}

export type BatchJobType = 'parse_v2' | 'extract_v2';

/** A batch (`/api/v2/batches`): one job of a saved configuration per file of a directory. */
export interface Batch {
  id: string;
  config: { job: { type: BatchJobType; configuration_id: string } };
  project_id: string;
  source_directory_id: string;
  /** The directory's files when the batch was created, in order: one job each. */
  source_files: string[];
  /** PENDING until every file has its job (or its error), CANCELLED when cancelled. */
  status: JobStatus;
  results: {
    source_directory_file_id: string;
    job_reference: { id: string; type: BatchJobType } | null;
    error_message: string | null;
  }[];
  webhook_configurations: unknown[];
  created_at: string;
  updated_at: string;
}

/** Records of one kind by id, written through as JSON files when there is a data directory. */
export class Records<T extends { id: string }> {
  private readonly byId = new Map<string, T>();

  constructor(private readonly dir: string | undefined) {}

  async load(): Promise<void> {
    if (!this.dir) return;
    await mkdir(this.dir, { recursive: true });
    for (const name of await readdir(this.dir)) {
      if (!name.endsWith('.json')) continue;
      const record = JSON.parse(await readFile(join(this.dir, name), 'utf8')) as T;
      this.byId.set(record.id, record);
    }
  }

  get(id: string): T | undefined {
    return this.byId.get(id);
  }

  all(): T[] {
    return [...this.byId.values()];
  }

  async save(record: T): Promise<void> {
    this.byId.set(record.id, record);
    if (this.dir) await atomicWrite(join(this.dir, `${record.id}.json`), JSON.stringify(record));
  }

  async delete(id: string): Promise<boolean> {
    if (!this.byId.delete(id)) return false;
    if (this.dir) await rm(join(this.dir, `${id}.json`), { force: true });
    return true;
  }
}

async function atomicWrite(path: string, content: string | Buffer): Promise<void> {
  const tmp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  await writeFile(tmp, content);
  await rename(tmp, path);
}
