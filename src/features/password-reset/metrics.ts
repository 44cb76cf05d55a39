// Reset outcomes by stage and reason, counted per app; /metrics exports them as
// keyturn_password_resets_total. Counted in the flow, so the hosted pages and the JSON API land
// in the same series.
import { Tally } from '../../platform/tally.ts';

export type ResetStage = 'requested' | 'request_refused' | 'completed' | 'failed';
export type ResetCounts = Tally<'stage' | 'reason'>;

export const resetCounts = (): ResetCounts => new Tally('keyturn_password_resets_total',
  'Password resets by stage (requested, request_refused, completed, failed) and reason (this instance). '
  + 'requested: self_service|admin; request_refused and failed: the error code; completed: link|code.',
  ['stage', 'reason']);

export function countReset(counts: ResetCounts, stage: ResetStage, reason: string, n = 1): void {
  counts.add({ stage, reason }, n);
}

/** The error code a failure is counted under. */
export const reasonOf = (e: unknown): string =>
  typeof (e as { code?: unknown })?.code === 'string' && /^[a-z_]+$/.test((e as { code: string }).code) ? (e as { code: string }).code : 'error';
