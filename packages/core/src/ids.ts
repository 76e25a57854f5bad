import { randomBytes } from 'node:crypto';

/**
 * Ids of batches and files: a type prefix, then a time-ordered part (milliseconds in base 36) and
 * 10 random base-36 characters, so they sort by creation and never collide in practice.
 * They contain neither `:` nor `.`, which separate the parts of BullMQ job ids and Redis keys.
 */
export function newId(prefix: 'bat' | 'fil'): string {
  const time = Date.now().toString(36).padStart(9, '0');
  const bytes = randomBytes(10);
  let random = '';
  for (const byte of bytes) random += (byte % 36).toString(36);
  return `${prefix}_${time}${random}`;
}

const ID_PART = /^[A-Za-z0-9_-]+$/;

/** Checks a part of a job id or Redis key: letters, digits, `_` and `-` only. */
export function assertIdPart(value: string, what: string): string {
  if (!ID_PART.test(value)) {
    throw new TypeError(`${what} "${value}" may only contain letters, digits, "_" and "-"`);
  }
  return value;
}

/**
 * A deterministic BullMQ job id `{batch}.{file}.{stage}[.{task}][.r{round}]`. Adding a job with
 * an id that exists is a no-op in BullMQ, which makes enqueueing idempotent. Round 1 (the first
 * run) has no suffix; a retry of failed work gets `.r2`, `.r3` …
 */
export function jobId(parts: {
  batchId: string;
  fileId: string;
  stage: string;
  task?: string;
  round?: number;
}): string {
  const segments = [
    assertIdPart(parts.batchId, 'batch id'),
    assertIdPart(parts.fileId, 'file id'),
    assertIdPart(parts.stage, 'stage'),
  ];
  if (parts.task !== undefined) segments.push(assertIdPart(parts.task, 'task name'));
  if (parts.round !== undefined && parts.round > 1) segments.push(`r${parts.round}`);
  const id = segments.join('.');
  // BullMQ treats all-digit ids as its own counters and rejects ":" (key separator).
  if (/^\d+$/.test(id)) throw new TypeError(`job id "${id}" must not be all digits`);
  return id;
}

/** The file id inside a job id made by jobId(). */
export function fileIdOfJob(id: string): string {
  const fileId = id.split('.')[1];
  if (!fileId) throw new TypeError(`job id "${id}" is not {batch}.{file}.{stage}…`);
  return fileId;
}
