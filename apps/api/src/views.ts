import type { BatchRecord, FileRecord, TenantStatus } from '@docpipe/core';
import { familyOf, TERMINAL_FILE_STATES } from '@docpipe/core';

const iso = (ms: number | undefined) => (ms === undefined ? null : new Date(ms).toISOString());

/** A batch as the API shows it: counters, progress, credits and an ETA from the rate so far. */
export function batchView(batch: BatchRecord, now = Date.now()) {
  const { total, byState } = batch.counters;
  const finished = TERMINAL_FILE_STATES.reduce((sum, state) => sum + byState[state], 0);
  const elapsed = (batch.finishedAt ?? now) - batch.createdAt;
  const remaining = total - finished;
  const eta =
    batch.status !== 'running'
      ? 0
      : finished > 0
        ? Math.round(((elapsed / finished) * remaining) / 1000)
        : null;
  return {
    id: batch.id,
    status: batch.status,
    created_at: iso(batch.createdAt),
    updated_at: iso(batch.updatedAt),
    finished_at: iso(batch.finishedAt),
    counters: { total, ...byState },
    progress: { finished, percent: total === 0 ? 100 : Math.floor((finished / total) * 1000) / 10 },
    eta_seconds: eta,
    credits_used: batch.creditsUsed,
    credits_reserved: batch.creditsReserved,
    budget_credits: batch.budgetCredits ?? null,
    sequence: batch.sequence,
    priority: batch.priority,
    tenant: batch.tenant,
    cancel_requested: batch.cancelRequested ?? false,
    callback_url: batch.callbackUrl ?? null,
    idempotency_key: batch.idempotencyKey ?? null,
    spec: batch.spec,
  };
}

/**
 * A file as the API shows it: state, round (attempt of the file), failure, remote ids, and the
 * queue family holding its jobs (Bull Board names a family's queues `family<k>-<stage>`).
 */
export function fileView(file: FileRecord, queueFamilies: number) {
  return {
    id: file.id,
    batch_id: file.batchId,
    ordinal: file.ordinal,
    name: file.name,
    state: file.state,
    round: file.round,
    size_bytes: file.sizeBytes,
    sha256: file.sha256,
    metadata: file.metadata,
    remote: { file_id: file.remoteFileId ?? null, parse_job_id: file.parseJobId ?? null },
    error: file.error ?? null,
    queue_family: familyOf(file.id, queueFamilies),
    skip_reason: file.skipReason ?? null,
    created_at: iso(file.createdAt),
    started_at: iso(file.startedAt),
    finished_at: iso(file.finishedAt),
  };
}

export function tenantView(status: TenantStatus) {
  return {
    tenant: status.tenant,
    weight: status.config.weight ?? 1,
    max_in_flight: status.config.max_in_flight ?? null,
    files_per_second: status.config.files_per_second ?? null,
    credits_per_day: status.config.credits_per_day ?? null,
    ready: status.ready,
    in_flight: status.inFlight,
    admitted: status.admitted,
    credits_today: status.creditsToday,
  };
}
