// Revoked sessions by reason, counted in memory per instance; /metrics exports them as
// keyturn_sessions_revoked_total (platform/ops.ts). A counter, not a count of the sessions table:
// a scrape must cost the same with ten sessions or ten million.
export type RevokeReason =
  | 'sign_out' | 'password_reset' | 'password_change' | 'sign_out_everywhere'
  | 'account_disabled' | 'account_locked' | 'identity_unlinked';

const counts = new Map<RevokeReason, number>();

export function countRevoked(reason: RevokeReason, n: number): void {
  if (n > 0) counts.set(reason, (counts.get(reason) ?? 0) + n);
}

/** A snapshot since this process started. */
export function revokedCounts(): Partial<Record<RevokeReason, number>> {
  return Object.fromEntries(counts);
}
