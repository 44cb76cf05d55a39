import { describe, expect, it } from 'vitest';
import { ConfigError, configFrom } from '../config.ts';
import { LIMITS, parseCaptchaAfter, parseRateLimits, scaledRules } from './limit-rules.ts';

describe('limit rules', () => {
  it('the documented defaults', () => {
    expect(LIMITS.forgotPerAccount).toMatchObject({ points: 5, windowSec: 3600 });
    expect(LIMITS.forgotEmailCooldown).toMatchObject({ windowSec: 60 });
    expect(LIMITS.forgotPerIp).toMatchObject({ points: 20, windowSec: 600 });
    expect(LIMITS.loginFailuresPerAccountIp).toMatchObject({ points: 10, windowSec: 900 });
    expect(LIMITS.loginFailuresPerAccount).toMatchObject({ points: 100, windowSec: 3600 });
    expect(LIMITS.resetPerIp).toMatchObject({ points: 30, windowSec: 600 });
  });

  it('RATE_LIMIT_SCALE multiplies counts (captcha thresholds too) and divides windows', () => {
    const r = scaledRules(10);
    expect(r.forgotPerIp).toEqual({ points: 200, windowMs: 60_000, captchaAfter: 100 });
    expect(r.forgotPerTenant.points).toBeNull();
  });

  it('overrides parse, and bad ones say what is wrong', () => {
    expect(parseRateLimits('forgotPerIp=40/10m, loginFailuresPerIp=off')).toEqual({
      overrides: { forgotPerIp: { points: 40, windowSec: 600 }, loginFailuresPerIp: { points: null } },
    });
    expect(parseCaptchaAfter('loginFailuresPerAccount=5,forgotPerIp=off')).toEqual({
      overrides: { loginFailuresPerAccount: { captchaAfter: 5 }, forgotPerIp: { captchaAfter: null } },
    });
    expect(parseRateLimits('forgotPerIp=40')).toMatchObject({ error: expect.stringContaining('name=points/window') });
    expect(parseRateLimits('nope=1/1m')).toMatchObject({ error: expect.stringContaining('"nope" is not a limit') });
    expect(scaledRules(1, { forgotPerIp: { points: 40, windowSec: 60 } }).forgotPerIp).toEqual({ points: 40, windowMs: 60_000, captchaAfter: 10 });
  });

  it('configuration: one clear line per bad key', () => {
    const bad = (env: Record<string, string>) => {
      try { configFrom(env); } catch (e) { expect(e).toBeInstanceOf(ConfigError); return (e as Error).message; }
      throw new Error('accepted');
    };
    expect(bad({ RATE_LIMITS: 'forgotPerIp=lots' })).toMatch(/^Invalid configuration: RATE_LIMITS "forgotPerIp=lots" is not/);
    expect(bad({ CAPTCHA_AFTER: 'x=1' })).toMatch(/^Invalid configuration: CAPTCHA_AFTER "x" is not a limit/);
    expect(bad({ CAPTCHA_PROVIDER: 'recaptcha' })).toMatch(/^Invalid configuration: CAPTCHA_PROVIDER /);
    expect(bad({ CAPTCHA_PROVIDER: 'turnstile', CAPTCHA_SITE_KEY: 's' })).toBe('Invalid configuration: CAPTCHA_SECRET is required when CAPTCHA_PROVIDER is turnstile');
    expect(bad({ CAPTCHA_FALLBACK: 'open' })).toMatch(/^Invalid configuration: CAPTCHA_FALLBACK /);
    expect(bad({ RATE_LIMIT_PREFIX: 'a b' })).toMatch(/^Invalid configuration: RATE_LIMIT_PREFIX /);
    for (const msg of [bad({ RATE_LIMITS: 'x' }), bad({ CAPTCHA_DIFFICULTY: '1' })]) expect(msg.split('\n')).toHaveLength(1);
  });

  it('configuration defaults', () => {
    const c = configFrom({});
    expect(c.captcha).toEqual({ provider: 'altcha', fallback: 'stricter', difficulty: 50_000, secret: undefined, siteKey: undefined, verifyUrl: undefined });
    expect(c.rateLimits).toEqual({ overrides: {}, prefix: 'keyturn' });
  });
});
