import { IllegalTransitionError, NotFoundError } from './errors.js';
import { newId } from './ids.js';
import {
  type BatchRecord,
  type BatchSpec,
  type BatchStatus,
  DEFAULT_PRIORITY,
  DEFAULT_TENANT,
  FILE_STATES,
  FILE_TRANSITIONS,
  type FileError,
  type FileRecord,
  type FileState,
  type NewFile,
  TERMINAL_FILE_STATES,
} from './records.js';
import type { Redis } from './redis.js';

/**
 * Batch and file records in Redis. Every key starts with the configured prefix (which carries a
 * hash tag), so all of them live in one Redis Cluster slot and multi-key scripts stay legal.
 *
 *   {p}:batch:{id}                 hash: status, spec, counters n_<state>, credits, sequence …
 *   {p}:batch:{id}:files           zset of file ids by ordinal (all files)
 *   {p}:batch:{id}:files:{state}   zset of file ids by ordinal, one per state
 *   {p}:batch:{id}:events          stream of file transitions (file, from, to, at), for SSE
 *   {p}:file:{id}                  hash: state, names, remote ids, error …
 *   {p}:batches                    zset of batch ids by creation time
 *   {p}:idempotency:{key}          batch id created for a producer's idempotency key
 *   {p}:credits:day:{YYYY-MM-DD}   hash: credits used and reserved that UTC day, all batches
 */
export class StateKeys {
  constructor(readonly prefix: string) {}
  batch(batchId: string) {
    return `${this.prefix}:batch:${batchId}`;
  }
  batchEvents(batchId: string) {
    return `${this.prefix}:batch:${batchId}:events`;
  }
  batchFiles(batchId: string, state?: FileState) {
    return state ? `${this.prefix}:batch:${batchId}:files:${state}` : `${this.prefix}:batch:${batchId}:files`;
  }
  file(fileId: string) {
    return `${this.prefix}:file:${fileId}`;
  }
  batches() {
    return `${this.prefix}:batches`;
  }
  idempotency(key: string) {
    return `${this.prefix}:idempotency:${key}`;
  }
  /** Credits used and held by all batches on one UTC day. */
  creditDay(date = new Date()) {
    return `${this.prefix}:credits:day:${date.toISOString().slice(0, 10)}`;
  }
}

/**
 * Writes a batch and its files atomically, all `queued`. With an idempotency key that is already
 * taken, writes nothing and returns the batch id that holds the key.
 *
 * KEYS: batches index, idempotency key.  ARGV: use-idempotency (0/1), batch id, now, key prefix,
 * batch hash fields (JSON array), file hash field arrays (JSON array of arrays), tenant, priority.
 */
const CREATE_BATCH_SCRIPT = `
local batchesKey, idemKey = KEYS[1], KEYS[2]
local useIdem, batchId, now, prefix = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
if useIdem == '1' then
  local existing = redis.call('GET', idemKey)
  if existing then return existing end
  redis.call('SET', idemKey, batchId)
end
local batchKey = prefix .. ':batch:' .. batchId
redis.call('HSET', batchKey, unpack(cjson.decode(ARGV[5])))
redis.call('ZADD', batchesKey, now, batchId)
-- Every file also waits in its tenant's ready set (by priority, then arrival) for fair dispatch.
local tenant, priority = ARGV[7], tonumber(ARGV[8])
local files = cjson.decode(ARGV[6])
local seq = redis.call('INCRBY', prefix .. ':dispatch:seq', #files) - #files
local readyKey = prefix .. ':tenant:' .. tenant .. ':ready'
for n, fields in ipairs(files) do
  local id, ordinal
  for i = 1, #fields, 2 do
    if fields[i] == 'id' then id = fields[i + 1] elseif fields[i] == 'ordinal' then ordinal = fields[i + 1] end
  end
  redis.call('HSET', prefix .. ':file:' .. id, unpack(fields))
  redis.call('ZADD', batchKey .. ':files', ordinal, id)
  redis.call('ZADD', batchKey .. ':files:queued', ordinal, id)
  redis.call('ZADD', readyKey, priority * 1e12 + seq + n, id)
end
if redis.call('LPOS', prefix .. ':tenants:active', tenant) == false then
  redis.call('RPUSH', prefix .. ':tenants:active', tenant)
end
redis.call('SADD', prefix .. ':tenants', tenant)
return batchId
`;

/**
 * Moves one file to a new state and keeps the batch counters and per-state sets in step, in one
 * atomic step. Detects the batch reaching a terminal status exactly once (the caller that gets
 * batch_done = 1 sends the completion callback).
 *
 * KEYS: file hash, batch hash.  ARGV: to, allowed-from (comma list), now, key prefix of the batch,
 * terminal states (comma list), then field/value pairs to set on the file.
 * Returns: { outcome, from, batch_done, batch_status }.
 */
const TRANSITION_SCRIPT = `
local fileKey, batchKey = KEYS[1], KEYS[2]
local to, allowed, now, batchPrefix, terminalList = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local from = redis.call('HGET', fileKey, 'state')
if not from then return {'missing', '', 0, ''} end
if redis.call('EXISTS', batchKey) == 0 then return {'missing', from, 0, ''} end
if from == to then return {'noop', from, 0, redis.call('HGET', batchKey, 'status')} end
local ok = false
for s in string.gmatch(allowed, '[^,]+') do if s == from then ok = true end end
if not ok then return {'illegal', from, 0, redis.call('HGET', batchKey, 'status')} end
for i = 6, #ARGV, 2 do
  if ARGV[i] == 'if_round' and redis.call('HGET', fileKey, 'round') ~= ARGV[i + 1] then
    return {'illegal', from, 0, redis.call('HGET', batchKey, 'status')}
  end
end
local terminal = {}
for s in string.gmatch(terminalList, '[^,]+') do terminal[s] = true end

local ordinal = redis.call('HGET', fileKey, 'ordinal')
local fileId = redis.call('HGET', fileKey, 'id')
redis.call('HSET', fileKey, 'state', to, 'updated_at', now)
for i = 6, #ARGV, 2 do
  if ARGV[i] == 'if_round' then
  elseif ARGV[i + 1] == '' then redis.call('HDEL', fileKey, ARGV[i]) else redis.call('HSET', fileKey, ARGV[i], ARGV[i + 1]) end
end
if terminal[to] then
  redis.call('HSET', fileKey, 'finished_at', now)
  -- A finished file gives back what is left of its credit reservation.
  local held = tonumber(redis.call('HGET', fileKey, 'reserved_credits') or '0')
  if held ~= 0 then
    redis.call('HINCRBYFLOAT', batchKey, 'credits_reserved', -held)
    local day = redis.call('HGET', fileKey, 'reserved_day')
    if day then redis.call('HINCRBYFLOAT', day, 'reserved', -held) end
    redis.call('HDEL', fileKey, 'reserved_credits')
  end
end
if from == 'queued' and not terminal[to] and redis.call('HEXISTS', fileKey, 'started_at') == 0 then
  redis.call('HSET', fileKey, 'started_at', now)
end
local prefix = string.sub(batchPrefix, 1, string.find(batchPrefix, ':batch:', 1, true) - 1)
local tenant = redis.call('HGET', batchKey, 'tenant') or 'default'
if from == 'queued' then redis.call('ZREM', prefix .. ':tenant:' .. tenant .. ':ready', fileId) end
if terminal[to] and redis.call('HGET', fileKey, 'admitted') == '1' then
  redis.call('HDEL', fileKey, 'admitted')
  redis.call('HINCRBY', prefix .. ':tenants:inflight', tenant, -1)
  redis.call('DECR', prefix .. ':dispatch:inflight')
end
redis.call('ZREM', batchPrefix .. ':files:' .. from, fileId)
redis.call('ZADD', batchPrefix .. ':files:' .. to, ordinal, fileId)
redis.call('HINCRBY', batchKey, 'n_' .. from, -1)
redis.call('HINCRBY', batchKey, 'n_' .. to, 1)
redis.call('HSET', batchKey, 'updated_at', now)
redis.call('XADD', batchKey .. ':events', 'MAXLEN', '~', '100000', '*',
  'file', fileId, 'from', from, 'to', to, 'at', now)

local status = redis.call('HGET', batchKey, 'status')
local done = 0
if terminal[from] and not terminal[to] and status ~= 'running' then
  status = 'running'
  redis.call('HSET', batchKey, 'status', status)
  redis.call('HDEL', batchKey, 'finished_at')
end
if terminal[to] and status == 'running' then
  local finished = 0
  for s, _ in pairs(terminal) do finished = finished + tonumber(redis.call('HGET', batchKey, 'n_' .. s) or '0') end
  if finished == tonumber(redis.call('HGET', batchKey, 'total')) then
    local failed = tonumber(redis.call('HGET', batchKey, 'n_failed') or '0') + tonumber(redis.call('HGET', batchKey, 'n_skipped') or '0')
    if redis.call('HGET', batchKey, 'cancel_requested') == '1' then status = 'cancelled'
    elseif failed > 0 then status = 'completed_with_errors'
    else status = 'completed' end
    redis.call('HSET', batchKey, 'status', status, 'finished_at', now)
    redis.call('HINCRBY', batchKey, 'sequence', 1)
    done = 1
  end
end
return {'ok', from, done, status}
`;

/**
 * Sets a file's credit reservation to ARGV[1], refusing a raise that would take the batch's
 * used + reserved credits past its budget, or the day's past the daily cap. Setting the amount a
 * file already holds is a no-op, so a re-delivered job reserves once. A file stays on the day it
 * first reserved on (`reserved_day`), so its charges and release land there.
 *
 * KEYS: file hash, batch hash.  ARGV: amount, today's day key, daily cap ('' for none), TTL s.
 * Returns: { granted 1 | 0, refused by ('' | 'batch' | 'day'), used, reserved, day used, day reserved }.
 */
const RESERVE_SCRIPT = `
local fileKey, batchKey = KEYS[1], KEYS[2]
local amount = tonumber(ARGV[1])
local day = redis.call('HGET', fileKey, 'reserved_day') or ARGV[2]
local cap = tonumber(ARGV[3])
local held = tonumber(redis.call('HGET', fileKey, 'reserved_credits') or '0')
local used = tonumber(redis.call('HGET', batchKey, 'credits_used') or '0')
local reserved = tonumber(redis.call('HGET', batchKey, 'credits_reserved') or '0')
local budget = tonumber(redis.call('HGET', batchKey, 'budget_credits') or '')
local dayUsed = tonumber(redis.call('HGET', day, 'used') or '0')
local dayReserved = tonumber(redis.call('HGET', day, 'reserved') or '0')
local delta = amount - held
local refused = ''
if delta > 0 and budget and used + reserved + delta > budget then refused = 'batch'
elseif delta > 0 and cap and dayUsed + dayReserved + delta > cap then refused = 'day' end
if refused == '' and delta ~= 0 then
  reserved = tonumber(redis.call('HINCRBYFLOAT', batchKey, 'credits_reserved', delta))
  dayReserved = tonumber(redis.call('HINCRBYFLOAT', day, 'reserved', delta))
  redis.call('EXPIRE', day, ARGV[4])
  redis.call('HSET', fileKey, 'reserved_credits', amount, 'reserved_day', day)
end
return {refused == '' and 1 or 0, refused, tostring(used), tostring(reserved), tostring(dayUsed), tostring(dayReserved)}
`;

/**
 * Adds credits a file's remote job was billed to its batch and to the day (the file's
 * reservation day, else today), and takes them out of the file's reservation as far as it
 * goes, so used + reserved stays the expected spend.
 *
 * KEYS: file hash, batch hash.  ARGV: credits, today's day key, TTL s.  Returns the batch's credits used.
 */
const CHARGE_SCRIPT = `
local fileKey, batchKey = KEYS[1], KEYS[2]
local credits = tonumber(ARGV[1])
local day = redis.call('HGET', fileKey, 'reserved_day') or ARGV[2]
local used = redis.call('HINCRBYFLOAT', batchKey, 'credits_used', credits)
redis.call('HINCRBYFLOAT', day, 'used', credits)
redis.call('EXPIRE', day, ARGV[3])
redis.call('HINCRBYFLOAT', day .. ':tenants', redis.call('HGET', batchKey, 'tenant') or 'default', credits)
redis.call('EXPIRE', day .. ':tenants', ARGV[3])
local held = tonumber(redis.call('HGET', fileKey, 'reserved_credits') or '0')
local take = math.min(held, credits)
if take > 0 then
  redis.call('HINCRBYFLOAT', batchKey, 'credits_reserved', -take)
  redis.call('HINCRBYFLOAT', day, 'reserved', -take)
  redis.call('HSET', fileKey, 'reserved_credits', held - take)
end
return used
`;

/** Day records live a little longer than their day, for the API and operators to read. */
const CREDIT_DAY_TTL_SECONDS = 3 * 24 * 3600;

/** What a credit reservation found: granted or refused (by what), and the spend after it. */
export interface Reservation {
  granted: boolean;
  refusedBy?: 'batch' | 'day';
  /** The batch's credits used and held. */
  used: number;
  reserved: number;
  /** The UTC day's, over all batches. */
  day: { used: number; reserved: number };
}

/** One file transition as the batch's event stream records it. */
export interface FileEvent {
  /** Stream id: pass it back (SSE Last-Event-ID) to continue after this event. */
  id: string;
  fileId: string;
  from: FileState;
  to: FileState;
  at: number;
}

export interface TransitionResult {
  /** `noop`: the file was already in the target state. */
  outcome: 'ok' | 'noop';
  from: FileState;
  /** True for exactly one transition: the one that made the batch terminal. */
  batchDone: boolean;
  batchStatus: BatchStatus;
}

export interface TransitionFields {
  remoteFileId?: string;
  parseJobId?: string;
  error?: FileError | null;
  skipReason?: string;
  round?: number;
  /** Only if the file is still at this round (else the move is refused as illegal). */
  ifRound?: number;
}

export interface CreateBatchInput {
  spec: BatchSpec;
  files: readonly NewFile[];
  callbackUrl?: string;
  budgetCredits?: number;
  idempotencyKey?: string;
  priority?: number;
  /** The service the batch belongs to (fair dispatch and quotas); default `default`. */
  tenant?: string;
}

export interface Page<T> {
  items: T[];
  /** Pass back to get the next page; undefined on the last page. */
  nextCursor: string | undefined;
}

type RedisWithScripts = Redis & {
  docpipeCreateBatch(batchesKey: string, idempotencyKey: string, ...args: string[]): Promise<string>;
  docpipeTransition(
    fileKey: string,
    batchKey: string,
    ...args: string[]
  ): Promise<[string, string, number, string]>;
  docpipeReserve(
    fileKey: string,
    batchKey: string,
    ...args: string[]
  ): Promise<[number, string, string, string, string, string]>;
  docpipeCharge(fileKey: string, batchKey: string, ...args: string[]): Promise<string>;
};

export class StateStore {
  readonly keys: StateKeys;
  private readonly redis: RedisWithScripts;
  /** Called when a file reaches a final state: its place in the dispatch window is free. */
  onFinal?: () => void;

  constructor(redis: Redis, prefix: string) {
    this.keys = new StateKeys(prefix);
    if (!('docpipeTransition' in redis)) {
      redis.defineCommand('docpipeTransition', { numberOfKeys: 2, lua: TRANSITION_SCRIPT });
      redis.defineCommand('docpipeCreateBatch', { numberOfKeys: 2, lua: CREATE_BATCH_SCRIPT });
      redis.defineCommand('docpipeReserve', { numberOfKeys: 2, lua: RESERVE_SCRIPT });
      redis.defineCommand('docpipeCharge', { numberOfKeys: 2, lua: CHARGE_SCRIPT });
    }
    this.redis = redis as RedisWithScripts;
  }

  /**
   * Writes the batch and all its file records in one transaction, with every file `queued`.
   * With an idempotency key, a second call returns the batch the first one created
   * (`created: false`) and writes nothing.
   */
  async createBatch(
    input: CreateBatchInput,
  ): Promise<{ batch: BatchRecord; files: FileRecord[]; created: boolean }> {
    const now = Date.now();
    const batchId = newId('bat');
    const files: FileRecord[] = input.files.map((file, ordinal) => ({
      id: newId('fil'),
      batchId,
      ordinal,
      name: file.name,
      sha256: file.sha256,
      sizeBytes: file.sizeBytes,
      metadata: file.metadata ?? {},
      state: 'queued',
      round: 1,
      createdAt: now,
      updatedAt: now,
    }));
    const batchFields: Record<string, string | number> = {
      id: batchId,
      status: 'running',
      spec: JSON.stringify(input.spec),
      created_at: now,
      updated_at: now,
      total: files.length,
      credits_used: 0,
      sequence: 0,
    };
    for (const state of FILE_STATES) batchFields[`n_${state}`] = state === 'queued' ? files.length : 0;
    if (input.callbackUrl) batchFields.callback_url = input.callbackUrl;
    if (input.budgetCredits !== undefined) batchFields.budget_credits = input.budgetCredits;
    if (input.idempotencyKey) batchFields.idempotency_key = input.idempotencyKey;
    batchFields.priority = input.priority ?? DEFAULT_PRIORITY;
    batchFields.tenant = input.tenant ?? DEFAULT_TENANT;

    const winner = await this.redis.docpipeCreateBatch(
      this.keys.batches(),
      this.keys.idempotency(input.idempotencyKey ?? ''),
      input.idempotencyKey ? '1' : '0',
      batchId,
      String(now),
      this.keys.prefix,
      JSON.stringify(Object.entries(batchFields).flat().map(String)),
      JSON.stringify(files.map((file) => Object.entries(fileToHash(file)).flat().map(String))),
      String(batchFields.tenant),
      String(batchFields.priority),
    );
    return { ...(await this.getBatchWithFiles(winner)), created: winner === batchId };
  }

  /** Moves a file to `to`; rejects moves the state machine forbids with IllegalTransitionError. */
  async transition(
    fileId: string,
    to: FileState,
    fields: TransitionFields = {},
    allowedFrom: readonly FileState[] = FILE_TRANSITIONS[to],
  ): Promise<TransitionResult> {
    const batchId = await this.redis.hget(this.keys.file(fileId), 'batch_id');
    if (!batchId) throw new NotFoundError(`file ${fileId} does not exist`, { code: 'file_not_found' });
    const [outcome, from, done, status] = await this.redis.docpipeTransition(
      this.keys.file(fileId),
      this.keys.batch(batchId),
      to,
      allowedFrom.join(','),
      String(Date.now()),
      this.keys.batch(batchId),
      TERMINAL_FILE_STATES.join(','),
      ...transitionArgs(fields),
    );
    if (outcome === 'missing')
      throw new NotFoundError(`file ${fileId} or its batch does not exist`, { code: 'file_not_found' });
    if (outcome === 'illegal') {
      throw new IllegalTransitionError(`file ${fileId} cannot move from ${from} to ${to}`, {
        code: 'illegal_transition',
        details: { fileId, from, to },
      });
    }
    if (outcome === 'ok' && TERMINAL_FILE_STATES.includes(to)) this.onFinal?.();
    return {
      outcome: outcome as 'ok' | 'noop',
      from: from as FileState,
      batchDone: done === 1,
      batchStatus: status as BatchStatus,
    };
  }

  /**
   * Starts round `round + 1` of a file in parsing or extracting at `round`, back at uploading (its
   * upload is gone upstream). False when the file has moved on meanwhile: another run of the
   * restart did it, so a late or concurrent run never moves a file back twice.
   */
  async restartAtUpload(fileId: string, round: number): Promise<boolean> {
    try {
      await this.transition(fileId, 'uploading', { round: round + 1, ifRound: round }, [
        'parsing',
        'extracting',
      ]);
      return true;
    } catch (error) {
      if (error instanceof IllegalTransitionError) return false;
      throw error;
    }
  }

  async getBatch(batchId: string): Promise<BatchRecord> {
    const hash = await this.redis.hgetall(this.keys.batch(batchId));
    if (!hash.id) throw new NotFoundError(`batch ${batchId} does not exist`, { code: 'batch_not_found' });
    return batchFromHash(hash);
  }

  async getFile(fileId: string): Promise<FileRecord> {
    const hash = await this.redis.hgetall(this.keys.file(fileId));
    if (!hash.id) throw new NotFoundError(`file ${fileId} does not exist`, { code: 'file_not_found' });
    return fileFromHash(hash);
  }

  /** Files of a batch in enqueue order, optionally only those in one state; `limit` per page. */
  async listFiles(
    batchId: string,
    options: { state?: FileState; cursor?: string; limit?: number } = {},
  ): Promise<Page<FileRecord>> {
    const limit = Math.min(Math.max(options.limit ?? 100, 1), 1000);
    // Ordinals are unique within a batch, so the last one seen is an exact cursor.
    const after = options.cursor === undefined ? '-inf' : `(${Number.parseInt(options.cursor, 10)}`;
    const entries = await this.redis.zrangebyscore(
      this.keys.batchFiles(batchId, options.state),
      after,
      '+inf',
      'WITHSCORES',
      'LIMIT',
      0,
      limit + 1,
    );
    const page = pairs(entries);
    const items = await this.readHashes(
      page.slice(0, limit).map(([id]) => this.keys.file(id)),
      fileFromHash,
    );
    return { items, nextCursor: page.length > limit ? page[limit - 1]![1] : undefined };
  }

  /**
   * Batches, newest first. The cursor is `<created ms>|<id>` of the last batch seen: batches
   * created in the same millisecond are told apart by id, so none is skipped.
   */
  async listBatches(options: { cursor?: string; limit?: number } = {}): Promise<Page<BatchRecord>> {
    const limit = Math.min(Math.max(options.limit ?? 50, 1), 500);
    const [score, lastId] = options.cursor === undefined ? [] : options.cursor.split('|');
    const entries = await this.redis.zrevrangebyscore(
      this.keys.batches(),
      score === undefined ? '+inf' : Number.parseInt(score, 10),
      '-inf',
      'WITHSCORES',
      'LIMIT',
      0,
      limit + 65,
    );
    // Same-score members come in reverse lexicographic order: skip those at or above the cursor.
    const page = pairs(entries)
      .filter(([id, s]) => score === undefined || s !== score || id < lastId!)
      .slice(0, limit + 1);
    const items = await this.readHashes(
      page.slice(0, limit).map(([id]) => this.keys.batch(id)),
      batchFromHash,
    );
    const last = page[limit - 1];
    return { items, nextCursor: page.length > limit && last ? `${last[1]}|${last[0]}` : undefined };
  }

  private async readHashes<T>(keys: string[], fromHash: (hash: Record<string, string>) => T): Promise<T[]> {
    const pipeline = this.redis.pipeline();
    for (const key of keys) pipeline.hgetall(key);
    return ((await pipeline.exec()) ?? []).flatMap(([error, hash]) => {
      if (error) throw error;
      const fields = hash as Record<string, string>;
      return fields.id ? [fromHash(fields)] : [];
    });
  }

  /** Marks a batch as being cancelled: once every file is terminal its status is `cancelled`. */
  async requestCancel(batchId: string): Promise<void> {
    await this.getBatch(batchId);
    await this.redis.hset(this.keys.batch(batchId), 'cancel_requested', '1');
  }

  /**
   * File transitions of a batch after stream id `after` (`0`: from the start), waiting up to
   * `blockMs` for the first one when there are none yet. Needs a connection of its own when it
   * blocks.
   */
  async readEvents(
    batchId: string,
    after: string,
    options: { blockMs?: number; count?: number; connection?: Redis } = {},
  ): Promise<FileEvent[]> {
    const redis = options.connection ?? this.redis;
    const count = options.count ?? 500;
    const key = this.keys.batchEvents(batchId);
    const reply =
      options.blockMs === undefined
        ? await redis.xread('COUNT', count, 'STREAMS', key, after)
        : await redis.xread('COUNT', count, 'BLOCK', options.blockMs, 'STREAMS', key, after);
    const entries = reply?.[0]?.[1] ?? [];
    return entries.map(([id, fields]) => {
      const map: Record<string, string> = {};
      for (let i = 0; i < fields.length; i += 2) map[fields[i]!] = fields[i + 1]!;
      return {
        id,
        fileId: map.file!,
        from: map.from as FileState,
        to: map.to as FileState,
        at: Number(map.at),
      };
    });
  }

  /**
   * Holds `amount` credits for a file (replacing what it held before), unless that would take
   * the batch's used + reserved credits past its budget, or the UTC day's past `dailyCap`.
   * The hold shrinks as the file is charged and is released when the file reaches a terminal
   * state.
   */
  async reserveCredits(
    file: Pick<FileRecord, 'id' | 'batchId'>,
    amount: number,
    dailyCap?: number,
  ): Promise<Reservation> {
    const [granted, refusedBy, used, reserved, dayUsed, dayReserved] = await this.redis.docpipeReserve(
      this.keys.file(file.id),
      this.keys.batch(file.batchId),
      String(amount),
      this.keys.creditDay(),
      dailyCap === undefined ? '' : String(dailyCap),
      String(CREDIT_DAY_TTL_SECONDS),
    );
    return {
      granted: granted === 1,
      ...(refusedBy ? { refusedBy: refusedBy as 'batch' | 'day' } : {}),
      used: Number(used),
      reserved: Number(reserved),
      day: { used: Number(dayUsed), reserved: Number(dayReserved) },
    };
  }

  /** Adds billed credits to the batch and the day, out of the file's hold; returns the batch total. */
  async chargeCredits(file: Pick<FileRecord, 'id' | 'batchId'>, credits: number): Promise<number> {
    return Number(
      await this.redis.docpipeCharge(
        this.keys.file(file.id),
        this.keys.batch(file.batchId),
        String(credits),
        this.keys.creditDay(),
        String(CREDIT_DAY_TTL_SECONDS),
      ),
    );
  }

  /** Credits used and held on a UTC day (default today) by every batch. */
  async creditDay(date = new Date()): Promise<{ used: number; reserved: number }> {
    const hash = await this.redis.hgetall(this.keys.creditDay(date));
    return { used: Number(hash.used ?? 0), reserved: Math.max(0, Number(hash.reserved ?? 0)) };
  }

  private async getBatchWithFiles(batchId: string) {
    const batch = await this.getBatch(batchId);
    const files: FileRecord[] = [];
    let cursor: string | undefined;
    do {
      const page = await this.listFiles(batchId, { limit: 1000, ...(cursor ? { cursor } : {}) });
      files.push(...page.items);
      cursor = page.nextCursor;
    } while (cursor !== undefined);
    return { batch, files };
  }
}

/** `[member, score, member, score …]` (WITHSCORES) as pairs. */
function pairs(entries: string[]): [string, string][] {
  const out: [string, string][] = [];
  for (let i = 0; i < entries.length; i += 2) out.push([entries[i]!, entries[i + 1]!]);
  return out;
}

function transitionArgs(fields: TransitionFields): string[] {
  const args: string[] = [];
  if (fields.remoteFileId !== undefined) args.push('remote_file_id', fields.remoteFileId);
  if (fields.parseJobId !== undefined) args.push('parse_job_id', fields.parseJobId);
  if (fields.skipReason !== undefined) args.push('skip_reason', fields.skipReason);
  if (fields.round !== undefined) args.push('round', String(fields.round));
  if (fields.ifRound !== undefined) args.push('if_round', String(fields.ifRound));
  if (fields.error === null) args.push('error', '');
  else if (fields.error !== undefined) args.push('error', JSON.stringify(fields.error));
  return args;
}

function fileToHash(file: FileRecord): Record<string, string | number> {
  return {
    id: file.id,
    batch_id: file.batchId,
    ordinal: file.ordinal,
    name: file.name,
    sha256: file.sha256,
    size_bytes: file.sizeBytes,
    metadata: JSON.stringify(file.metadata),
    state: file.state,
    round: file.round,
    created_at: file.createdAt,
    updated_at: file.updatedAt,
  };
}

const optionalNumber = (value: string | undefined) => (value === undefined ? undefined : Number(value));

function fileFromHash(hash: Record<string, string>): FileRecord {
  const record: FileRecord = {
    id: hash.id!,
    batchId: hash.batch_id!,
    ordinal: Number(hash.ordinal),
    name: hash.name!,
    sha256: hash.sha256!,
    sizeBytes: Number(hash.size_bytes),
    metadata: JSON.parse(hash.metadata ?? '{}') as Record<string, unknown>,
    state: hash.state as FileState,
    round: Number(hash.round ?? 1),
    createdAt: Number(hash.created_at),
    updatedAt: Number(hash.updated_at),
  };
  const startedAt = optionalNumber(hash.started_at);
  if (startedAt !== undefined) record.startedAt = startedAt;
  const finishedAt = optionalNumber(hash.finished_at);
  if (finishedAt !== undefined) record.finishedAt = finishedAt;
  if (hash.remote_file_id) record.remoteFileId = hash.remote_file_id;
  if (hash.parse_job_id) record.parseJobId = hash.parse_job_id;
  if (hash.error) record.error = JSON.parse(hash.error) as FileError;
  if (hash.skip_reason) record.skipReason = hash.skip_reason;
  return record;
}

function batchFromHash(hash: Record<string, string>): BatchRecord {
  const byState = Object.fromEntries(
    FILE_STATES.map((state) => [state, Number(hash[`n_${state}`] ?? 0)]),
  ) as Record<FileState, number>;
  const record: BatchRecord = {
    id: hash.id!,
    status: hash.status as BatchStatus,
    spec: JSON.parse(hash.spec!) as BatchSpec,
    createdAt: Number(hash.created_at),
    updatedAt: Number(hash.updated_at),
    counters: { total: Number(hash.total), byState },
    creditsUsed: Number(hash.credits_used ?? 0),
    creditsReserved: Math.max(0, Number(hash.credits_reserved ?? 0)),
    sequence: Number(hash.sequence ?? 0),
    priority: Number(hash.priority ?? DEFAULT_PRIORITY),
    tenant: hash.tenant ?? DEFAULT_TENANT,
  };
  const finishedAt = optionalNumber(hash.finished_at);
  if (finishedAt !== undefined) record.finishedAt = finishedAt;
  if (hash.callback_url) record.callbackUrl = hash.callback_url;
  const budget = optionalNumber(hash.budget_credits);
  if (budget !== undefined) record.budgetCredits = budget;
  if (hash.idempotency_key) record.idempotencyKey = hash.idempotency_key;
  if (hash.cancel_requested === '1') record.cancelRequested = true;
  return record;
}
