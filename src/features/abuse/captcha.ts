// The captcha behind the adaptive gate. ALTCHA (self-hosted proof of work, no third party) by
// default; Cloudflare Turnstile or hCaptcha by configuration, verified server-side with fetch.
// Every accepted answer is remembered until it could have expired, in the same store as the
// limits, so an answer is good for one request on any instance.
import type { Challenge, Solution } from 'altcha-lib';
import type { Config } from '../../config.ts';
import type { Secrets } from '../../platform/crypto.ts';
import type { RateLimits } from '../../platform/rate-limit.ts';
import type { LimitKeys } from './keys.ts';

export type CaptchaProvider = Config['captcha']['provider'];

/** What checking an answer found. `unavailable`: the provider could not be asked. */
export type CaptchaOutcome = 'ok' | 'missing' | 'invalid' | 'used' | 'unavailable';

export interface Captcha {
  readonly provider: CaptchaProvider;
  /** What the client needs to show the captcha (428 body `challenge`). */
  challenge(): Promise<Record<string, unknown>>;
  verify(answer: string | undefined, ip: string): Promise<CaptchaOutcome>;
}

const CHALLENGE_TTL_S = 10 * 60;
const VERIFY_TIMEOUT_MS = 5_000;

const VERIFY_URLS = {
  turnstile: 'https://challenges.cloudflare.com/turnstile/v0/siteverify',
  hcaptcha: 'https://api.hcaptcha.com/siteverify',
} as const;

export function createCaptcha(config: Config['captcha'], deps: { secrets: Secrets; limits: RateLimits; keys: LimitKeys }): Captcha {
  const firstUse = (id: string) => deps.limits.firstUse(deps.keys.captcha(id), CHALLENGE_TTL_S + 60);
  switch (config.provider) {
    case 'off': return { provider: 'off', challenge: async () => ({}), verify: async () => 'ok' };
    case 'altcha': return altcha(config, deps.secrets, firstUse);
    default: return remote(config.provider, config, firstUse);
  }
}

// Loaded on the first captcha, not at start-up (CLI commands build the app too).
let altchaLib: Promise<[typeof import('altcha-lib'), typeof import('altcha-lib/algorithms/sha')]> | undefined;
const loadAltcha = () => (altchaLib ??= Promise.all([import('altcha-lib'), import('altcha-lib/algorithms/sha')]));

function altcha(config: Config['captcha'], secrets: Secrets, firstUse: (id: string) => Promise<boolean>): Captcha {
  // Derived from the server secret: every instance of one deployment signs and checks alike.
  const hmacSignatureSecret = secrets.hash('altcha', 'challenge');
  const hmacKeySignatureSecret = secrets.hash('altcha', 'derived-key');
  return {
    provider: 'altcha',
    async challenge() {
      const [{ createChallenge, randomInt }, { deriveKey }] = await loadAltcha();
      const challenge = await createChallenge({
        algorithm: 'SHA-256',
        cost: 1,
        counter: randomInt(Math.ceil(config.difficulty / 2), config.difficulty),
        deriveKey,
        expiresAt: new Date(Date.now() + CHALLENGE_TTL_S * 1000),
        hmacSignatureSecret,
        hmacKeySignatureSecret,
      });
      return challenge as unknown as Record<string, unknown>;
    },
    async verify(answer) {
      if (!answer) return 'missing';
      let payload: { challenge?: Challenge; solution?: Solution };
      try {
        payload = JSON.parse(Buffer.from(answer, 'base64').toString('utf8'));
      } catch {
        return 'invalid';
      }
      if (!payload || typeof payload !== 'object' || !payload.challenge?.parameters || !payload.solution) return 'invalid';
      const [{ verifySolution }, { deriveKey }] = await loadAltcha();
      try {
        // The signature is checked before any work, so a forged costly challenge costs us nothing.
        const result = await verifySolution({
          challenge: payload.challenge, solution: payload.solution, deriveKey, hmacSignatureSecret, hmacKeySignatureSecret,
        });
        if (!result.verified) return 'invalid';
      } catch {
        return 'invalid';
      }
      return (await firstUse(`altcha:${payload.challenge.parameters.nonce}`)) ? 'ok' : 'used';
    },
  };
}

function remote(provider: 'turnstile' | 'hcaptcha', config: Config['captcha'], firstUse: (id: string) => Promise<boolean>): Captcha {
  const url = config.verifyUrl ?? VERIFY_URLS[provider];
  return {
    provider,
    challenge: async () => ({ provider, siteKey: config.siteKey }),
    async verify(answer, ip) {
      if (!answer) return 'missing';
      let body: { success?: boolean; 'error-codes'?: string[] };
      try {
        const res = await fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ secret: config.secret ?? '', response: answer, remoteip: ip }),
          signal: AbortSignal.timeout(VERIFY_TIMEOUT_MS),
        });
        if (res.status >= 500 || res.status === 429) return 'unavailable';
        body = (await res.json()) as typeof body;
      } catch {
        return 'unavailable'; // refused, timed out, DNS, TLS, not JSON: the provider did not answer
      }
      if (body.success !== true) return body['error-codes']?.includes('timeout-or-duplicate') ? 'used' : 'invalid';
      return (await firstUse(`${provider}:${answer}`)) ? 'ok' : 'used';
    },
  };
}
