import type { BatchRecord } from '@docpipe/core';
import { MultiBar, Presets, type SingleBar } from 'cli-progress';

export interface ProgressView {
  update(batch: BatchRecord): void;
  stop(): void;
}

/** Files at or past each stage. */
function stageCounts(batch: BatchRecord, parses: boolean) {
  const n = batch.counters.byState;
  const done = n.completed + n.failed + n.skipped + n.cancelled;
  return {
    upload: n.parsing + n.extracting + done,
    ...(parses ? { parse: n.extracting + done } : {}),
    extract: done,
  };
}

/**
 * Per-stage progress: bars (cli-progress) on a terminal, otherwise one plain line whenever the
 * counts change, at most every two seconds, so logs of scripts and CI stay readable.
 */
export function progressView(stream: NodeJS.WriteStream, total: number, parses: boolean): ProgressView {
  if (stream.isTTY) {
    const multi = new MultiBar(
      {
        stream,
        format: ' {stage} |{bar}| {value}/{total} {extra}',
        barsize: 30,
        hideCursor: true,
        clearOnComplete: false,
        autopadding: true,
      },
      Presets.shades_classic,
    );
    const bars: Record<string, SingleBar> = {};
    for (const stage of Object.keys(stageCounts({ counters: { total, byState: {} } } as never, parses)))
      bars[stage] = multi.create(total, 0, { stage: stage.padEnd(7), extra: '' });
    return {
      update(batch) {
        const counts = stageCounts(batch, parses) as Record<string, number>;
        const n = batch.counters.byState;
        for (const [stage, value] of Object.entries(counts)) {
          const extra =
            stage === 'extract'
              ? `completed ${n.completed}, failed ${n.failed}, credits ${batch.creditsUsed}`
              : '';
          bars[stage]?.update(value, { extra });
        }
      },
      stop: () => multi.stop(),
    };
  }
  let last = '';
  let lastAt = 0;
  return {
    update(batch) {
      const counts = Object.entries(stageCounts(batch, parses))
        .map(([stage, value]) => `${stage} ${value}/${total}`)
        .join(', ');
      const line = `progress: ${counts}; failed ${batch.counters.byState.failed}`;
      const terminal = batch.status !== 'running';
      if (line === last || (!terminal && Date.now() - lastAt < 2000)) return;
      last = line;
      lastAt = Date.now();
      stream.write(`${line}\n`);
    },
    stop() {},
  };
}
