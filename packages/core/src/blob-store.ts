import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, openAsBlob } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { BlobTooLargeError, NotFoundError } from './errors.js';

export interface StoredBlob {
  /** Hex sha256 of the content: the blob's key. */
  sha256: string;
  sizeBytes: number;
}

export interface StagedBlob extends StoredBlob {
  /** Makes the blob visible under its sha256 (idempotent for equal content). */
  commit(): Promise<void>;
  /** Drops the staged bytes. */
  discard(): Promise<void>;
}

/**
 * Where document bytes live (never in Redis). Content-addressed: the key is the sha256 of the
 * bytes, so storing the same file twice stores it once. A local directory implements it here;
 * an S3-compatible bucket can implement the same methods.
 */
export interface BlobStore {
  /** Streams `source` into the store; rejects with BlobTooLargeError past the limit, storing nothing. */
  put(
    source: Readable | AsyncIterable<Uint8Array> | Uint8Array,
    options?: { maxBytes?: number },
  ): Promise<StoredBlob>;
  /**
   * Streams `source` into a private staging area: nothing is visible until `commit()`, and
   * `discard()` leaves no trace. A producer that accepts several files all or nothing stages
   * them all, then commits.
   */
  stage(
    source: Readable | AsyncIterable<Uint8Array> | Uint8Array,
    options?: { maxBytes?: number },
  ): Promise<StagedBlob>;
  /** Streams a blob out; NotFoundError when absent. */
  get(sha256: string): Promise<Readable>;
  has(sha256: string): Promise<boolean>;
  size(sha256: string): Promise<number>;
  /** The blob as a lazily read `Blob`, so HTTP clients can stream it without buffering. */
  blob(sha256: string): Promise<Blob>;
}

const SHA256_HEX = /^[0-9a-f]{64}$/;

export class LocalBlobStore implements BlobStore {
  constructor(
    readonly root: string,
    private readonly defaultMaxBytes: number,
  ) {}

  async put(
    source: Readable | AsyncIterable<Uint8Array> | Uint8Array,
    options: { maxBytes?: number } = {},
  ): Promise<StoredBlob> {
    const staged = await this.stage(source, options);
    await staged.commit();
    return { sha256: staged.sha256, sizeBytes: staged.sizeBytes };
  }

  async stage(
    source: Readable | AsyncIterable<Uint8Array> | Uint8Array,
    options: { maxBytes?: number } = {},
  ): Promise<StagedBlob> {
    const maxBytes = options.maxBytes ?? this.defaultMaxBytes;
    const tmpDir = join(this.root, 'tmp');
    await mkdir(tmpDir, { recursive: true });
    const tmpPath = join(tmpDir, `${process.pid}-${randomBytes(8).toString('hex')}`);
    const hash = createHash('sha256');
    let sizeBytes = 0;
    const meter = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        sizeBytes += chunk.length;
        if (sizeBytes > maxBytes) {
          callback(new BlobTooLargeError(maxBytes));
          return;
        }
        hash.update(chunk);
        callback(null, chunk);
      },
    });
    const input = source instanceof Uint8Array ? Readable.from([source]) : Readable.from(source);
    try {
      await pipeline(input, meter, createWriteStream(tmpPath, { flags: 'wx' }));
      const sha256 = hash.digest('hex');
      const finalPath = this.pathOf(sha256);
      return {
        sha256,
        sizeBytes,
        async commit() {
          await mkdir(join(finalPath, '..'), { recursive: true });
          // rename is atomic: readers see the whole file or none. Concurrent writers of the same
          // content each rename a complete copy over the other, which is harmless.
          await rename(tmpPath, finalPath);
        },
        discard: () => rm(tmpPath, { force: true }),
      };
    } catch (error) {
      await rm(tmpPath, { force: true });
      throw error;
    }
  }

  async get(sha256: string): Promise<Readable> {
    const path = this.pathOf(sha256);
    if (!(await this.has(sha256)))
      throw new NotFoundError(`blob ${sha256} is not in the store`, { code: 'blob_not_found' });
    return createReadStream(path);
  }

  async has(sha256: string): Promise<boolean> {
    try {
      await stat(this.pathOf(sha256));
      return true;
    } catch {
      return false;
    }
  }

  async size(sha256: string): Promise<number> {
    try {
      return (await stat(this.pathOf(sha256))).size;
    } catch {
      throw new NotFoundError(`blob ${sha256} is not in the store`, { code: 'blob_not_found' });
    }
  }

  async blob(sha256: string): Promise<Blob> {
    if (!(await this.has(sha256)))
      throw new NotFoundError(`blob ${sha256} is not in the store`, { code: 'blob_not_found' });
    return openAsBlob(this.pathOf(sha256));
  }

  private pathOf(sha256: string): string {
    if (!SHA256_HEX.test(sha256)) throw new TypeError(`"${sha256}" is not a hex sha256`);
    return join(this.root, sha256.slice(0, 2), sha256.slice(2, 4), sha256);
  }
}
