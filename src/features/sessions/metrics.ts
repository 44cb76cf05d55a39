// What /metrics shows of sessions: revocations by reason and, with the cache, how checks were
// answered. Read from this app's Sessions, so two apps in one process never mix their figures.
import type { CounterSource } from '../../platform/tally.ts';
import type { RevokeReason, Sessions } from './sessions.ts';

export function sessionCounters(sessions: Sessions): CounterSource[] {
  return [
    {
      name: 'keyturn_session_cache_lookups_total',
      help: 'Session checks answered from memory (hit) or by reading the row (miss); absent without the session cache.',
      labelNames: ['result'],
      read: () => {
        const lookups = sessions.stats().lookups;
        return lookups ? (['hit', 'miss'] as const).map((result) => ({ labels: { result }, n: lookups[result] })) : [];
      },
    },
    {
      name: 'keyturn_sessions_revoked_total',
      help: 'Sessions revoked by reason (this instance): sign_out, password_reset, password_change, sign_out_everywhere, account_disabled, account_locked, identity_unlinked, mfa_reset, session_ended (one session ended from the device list).',
      labelNames: ['reason'],
      read: () => Object.entries(sessions.stats().revoked).map(([reason, n]) => ({ labels: { reason: reason as RevokeReason }, n: n ?? 0 })),
    },
  ];
}
