import type { FastifyBaseLogger } from 'fastify';
import type { Config } from './config.ts';
import type { Captcha } from './features/abuse/captcha.ts';
import type { PasswordHasher } from './features/accounts/password-hash.ts';
import type { Sessions } from './features/sessions/sessions.ts';
import type { ResetCounts } from './features/password-reset/metrics.ts';
import type { SsoFailures } from './features/sso/metrics.ts';
import type { StrengthEstimator } from './features/password-policy/policy.ts';
import type { Clock } from './platform/clock.ts';
import type { Secrets } from './platform/crypto.ts';
import type { Database, Db } from './platform/db.ts';
import type { Worker } from './platform/jobs.ts';
import type { MailTransport } from './platform/mail/transport.ts';
import type { DeliveryKinds } from './platform/outbox/http.ts';
import type { RateLimits } from './platform/rate-limit.ts';

/** What every feature may use; built once in app.ts. */
export interface Ctx {
  config: Config;
  database: Database;
  db: Db;
  secrets: Secrets;
  clock: Clock;
  hasher: PasswordHasher;
  limits: RateLimits;
  /** The adaptive captcha's provider (ALTCHA, Turnstile, hCaptcha or off). */
  captcha: Captcha;
  worker: Worker;
  transport: MailTransport;
  /**
   * The kinds of outgoing HTTP delivery (platform/outbox): a feature registers the preparer of its
   * kind while the app is built, then queues rows with enqueueHttp.
   */
  deliveries: DeliveryKinds;
  log: FastifyBaseLogger;
  strength: () => Promise<StrengthEstimator>;
  /** The only door to sessions: read one, create one, change an account's. */
  sessions: Sessions;
  /** What the features count for /metrics, per app. */
  tallies: { resets: ResetCounts; ssoFailures: SsoFailures };
}
