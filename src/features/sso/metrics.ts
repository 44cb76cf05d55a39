// Failed SSO sign-ins by reason, counted per app; /metrics exports them as keyturn_sso_failures_total.
import { Tally } from '../../platform/tally.ts';
import type { SsoErrorReason } from './flow.ts';

export type SsoFailures = Tally<'reason'>;

export const ssoFailures = (): SsoFailures =>
  new Tally('keyturn_sso_failures_total', 'Refused or failed single sign-ons by reason (this instance).', ['reason']);

export function countFailure(failures: SsoFailures, reason: SsoErrorReason): void {
  failures.add({ reason });
}
