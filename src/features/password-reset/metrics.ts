// Reset outcomes by stage and reason, counted in memory per instance; /metrics exports them as
// keyturn_password_resets_total (platform/ops.ts). Counted in the flow, so the hosted pages and the
// JSON API land in the same series.
export type ResetStage = 'requested' | 'request_refused' | 'completed' | 'failed';

const counts = new Map<string, number>();

export function countReset(stage: ResetStage, reason: string): void {
  const key = `${stage}\u0000${reason}`;
  counts.set(key, (counts.get(key) ?? 0) + 1);
}

/** A snapshot since this process started. */
export function resetCounts(): { stage: ResetStage; reason: string; n: number }[] {
  return [...counts].map(([key, n]) => {
    const [stage, reason] = key.split('\u0000') as [ResetStage, string];
    return { stage, reason, n };
  });
}

/** The error code a failure is counted under. */
export const reasonOf = (e: unknown): string =>
  typeof (e as { code?: unknown })?.code === 'string' && /^[a-z_]+$/.test((e as { code: string }).code) ? (e as { code: string }).code : 'error';
