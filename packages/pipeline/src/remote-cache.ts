import { createHash } from 'node:crypto';
import { UpstreamNotFoundError } from '@docpipe/llamacloud';
import type { PipelineContext } from './pipeline-context.js';

/**
 * Remote ids reused across files and batches: uploaded files by sha256, completed parses by
 * sha256 and parse configuration. Entries are kept per upstream origin, and one is trusted only
 * after the upstream confirms it still has it (a restarted or different upstream has forgotten
 * it: then the work is done again instead of failing on an unknown id).
 */
export class RemoteCache {
  private readonly prefix: string;

  constructor(
    private readonly ctx: Pick<PipelineContext, 'redis' | 'config' | 'llama' | 'log'>,
    kind: 'file' | 'parse',
    private readonly ttlSeconds: number,
  ) {
    const origin = createHash('sha256').update(ctx.llama.baseUrl).digest('hex').slice(0, 12);
    this.prefix = `${ctx.config.redis.keyPrefix}:cache:${kind}:${origin}`;
  }

  /** The cached remote id for `key`, if `confirm` finds it upstream (a 404 counts as gone). */
  async get(key: string, confirm: (remoteId: string) => Promise<boolean>): Promise<string | undefined> {
    const remoteId = await this.ctx.redis.get(`${this.prefix}:${key}`);
    if (!remoteId) return undefined;
    const present = await confirm(remoteId).catch((error: unknown) => {
      if (error instanceof UpstreamNotFoundError) return false;
      throw error;
    });
    if (present) return remoteId;
    this.ctx.log.info({ remoteId }, 'cached remote id is gone upstream; doing the work again');
    await this.ctx.redis.del(`${this.prefix}:${key}`);
    return undefined;
  }

  async set(key: string, remoteId: string): Promise<void> {
    await this.ctx.redis.set(`${this.prefix}:${key}`, remoteId, 'EX', this.ttlSeconds);
  }
}
