import { AmbiguousCreateError, type Logger } from '@docpipe/core';

/**
 * Creates a remote object once. When the create may have reached LlamaCloud anyway (timeout or
 * reset after sending), the object `find` finds is adopted instead of creating a second one.
 */
export async function createOrAdopt(
  log: Logger,
  what: string,
  create: () => Promise<string>,
  find: (since: number) => Promise<string | undefined>,
): Promise<string> {
  const startedAt = Date.now();
  try {
    return await create();
  } catch (error) {
    if (!(error instanceof AmbiguousCreateError)) throw error;
    const found = await find(startedAt);
    log.warn({ what, adopted: found }, 'ambiguous create; looked it up before creating again');
    return found ?? create();
  }
}
