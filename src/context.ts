import type { FastifyBaseLogger } from 'fastify';
import type { Config } from '../config.ts';
import type { Captcha } from '../features/abuse/captcha.ts';
import type { PasswordHasher } from '../features/accounts/password-hash.ts';
import type { SessionCache } from '../features/sessions/cache.ts';
import type { StrengthEstimator } from '../features/password-policy/policy.ts';
import type { Clock } from './clock.ts';
import type { Secrets } from './crypto.ts';
import type { Database, Db } from './db.ts';
import type { Worker } from './jobs.ts';
import type { MailTransport } from './mail/transport.ts';
import type { RateLimits } from './rate-limit.ts';

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
  log: FastifyBaseLogger;
  strength: () => Promise<StrengthEstimator>;
  /** Sessions kept between requests; absent when every request reads the row (embedded, or SESSION_CACHE_SIZE=0). */
  sessionCache?: SessionCache;
}
