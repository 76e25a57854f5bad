import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { assertIdPart } from './ids.js';

/**
 * Where extraction results live: one JSON document per (batch, file, task). Redis only knows
 * that a result exists. Writes are atomic (temp file + rename), so a reader never sees half a
 * document, and writing the same result twice leaves one.
 */
export interface ResultStore {
  put(batchId: string, fileId: string, task: string, document: unknown): Promise<void>;
  get(batchId: string, fileId: string, task: string): Promise<unknown | undefined>;
  /** Every result of a batch, in no particular order. */
  list(batchId: string): AsyncIterable<unknown>;
}

export class LocalResultStore implements ResultStore {
  constructor(readonly root: string) {}

  async put(batchId: string, fileId: string, task: string, document: unknown): Promise<void> {
    const dir = join(this.root, assertIdPart(batchId, 'batch id'));
    await mkdir(dir, { recursive: true });
    const path = this.pathOf(batchId, fileId, task);
    const tmpPath = `${path}.${process.pid}-${randomBytes(6).toString('hex')}.tmp`;
    try {
      await writeFile(tmpPath, `${JSON.stringify(document)}\n`, { flag: 'wx' });
      await rename(tmpPath, path);
    } catch (error) {
      await rm(tmpPath, { force: true });
      throw error;
    }
  }

  async get(batchId: string, fileId: string, task: string): Promise<unknown | undefined> {
    try {
      return JSON.parse(await readFile(this.pathOf(batchId, fileId, task), 'utf8'));
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
  }

  async *list(batchId: string): AsyncIterable<unknown> {
    const dir = join(this.root, assertIdPart(batchId, 'batch id'));
    let names: string[];
    try {
      names = await readdir(dir);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw error;
    }
    for (const name of names.sort()) {
      if (!name.endsWith('.json')) continue;
      yield JSON.parse(await readFile(join(dir, name), 'utf8'));
    }
  }

  private pathOf(batchId: string, fileId: string, task: string): string {
    return join(
      this.root,
      assertIdPart(batchId, 'batch id'),
      `${assertIdPart(fileId, 'file id')}.${assertIdPart(task, 'task name')}.json`,
    );
  }
}
