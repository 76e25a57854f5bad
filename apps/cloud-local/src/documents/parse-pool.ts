import { availableParallelism } from 'node:os';
import { Piscina } from 'piscina';
import type { ParseOutcome, ParseTask } from './parse-worker.js';

/** Longest a single document may take to parse before its worker is stopped. */
export const DEFAULT_PARSE_TIMEOUT_MS = 60_000;

/**
 * A pool of worker threads, sized to the cores, that parses documents so the HTTP server stays
 * responsive while a 100-page PDF is read. A parse that runs past its time limit is aborted
 * (its thread is torn down) and fails that one job.
 */
export class ParsePool {
  private readonly pool: Piscina;

  constructor(
    private readonly timeoutMs = DEFAULT_PARSE_TIMEOUT_MS,
    threads = Math.max(1, availableParallelism()),
  ) {
    // From TypeScript sources (tests, tsx) the worker needs tsx's loader; built code runs as is.
    const fromSource = import.meta.url.endsWith('.ts');
    this.pool = new Piscina({
      filename: new URL(fromSource ? './parse-worker.ts' : './parse-worker.js', import.meta.url).href,
      minThreads: 1,
      maxThreads: threads,
      idleTimeout: 30_000,
      ...(fromSource
        ? { execArgv: ['--import', import.meta.resolve('tsx'), '--conditions=@docpipe/source'] }
        : {}),
    });
  }

  async parse(name: string, bytes: Uint8Array): Promise<ParseOutcome> {
    const signal = AbortSignal.timeout(this.timeoutMs);
    try {
      return (await this.pool.run({ name, bytes } satisfies ParseTask, { signal })) as ParseOutcome;
    } catch (error) {
      if (signal.aborted)
        return { ok: false, message: `Parsing took longer than ${this.timeoutMs} ms and was stopped` };
      return { ok: false, message: `The parser crashed on this document: ${(error as Error).message}` };
    }
  }

  async close(): Promise<void> {
    await this.pool.destroy();
  }
}
