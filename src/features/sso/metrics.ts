// Failed SSO sign-ins by reason, counted in memory; /metrics exports them (platform/ops.ts).
import type { SsoErrorReason } from './flow.ts';

const failures = new Map<SsoErrorReason, number>();

export function countFailure(reason: SsoErrorReason): void {
  failures.set(reason, (failures.get(reason) ?? 0) + 1);
}

/** A snapshot: `{ unavailable: 3, not_linked: 1, … }` since this process started. */
export function ssoFailureCounts(): Partial<Record<SsoErrorReason, number>> {
  return Object.fromEntries(failures);
}
