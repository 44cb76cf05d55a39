// The named limits and their defaults, with no dependency so config.ts can validate overrides.
// RATE_LIMIT_SCALE multiplies every count and divides every window; RATE_LIMITS and CAPTCHA_AFTER
// override single rules ("forgotPerIp=40/10m", "loginFailuresPerIp=off").

export interface LimitRule {
  /** Requests (or failures) allowed per window; null = counted but never refused. */
  points: number | null;
  windowSec: number;
  /** From this count on the adaptive captcha is asked for; null = never. */
  captchaAfter: number | null;
}

export const LIMITS = {
  // OWASP Forgot Password: per account and per IP; the cooldown coalesces repeat emails.
  forgotPerAccount: { points: 5, windowSec: 3600, captchaAfter: 3 },
  forgotPerIp: { points: 20, windowSec: 600, captchaAfter: 10 },
  forgotPerTenant: { points: null, windowSec: 600, captchaAfter: 500 },
  // Instead of forgotPerIp, for requests naming a tenant from one of its trusted networks (an office).
  forgotPerTrustedNetwork: { points: 1000, windowSec: 600, captchaAfter: 500 },
  forgotEmailCooldown: { points: 1, windowSec: 60, captchaAfter: null }, // one email per window; "off" = none
  // Login: failures only. Account+IP gets exponential delays after `points`, never a lockout;
  // the account as a whole has the NIST SP 800-63B ceiling of 100 failures, for browsers the
  // address has not signed in with before (the owner is emailed an unlock link when it trips).
  loginFailuresPerAccountIp: { points: 10, windowSec: 900, captchaAfter: 3 },
  loginFailuresPerAccount: { points: 100, windowSec: 3600, captchaAfter: 10 },
  // A browser that signed in to the address before (device cookie) is not held to the account's
  // budget, which strangers can spend, but to its own.
  loginFailuresPerDevice: { points: 10, windowSec: 900, captchaAfter: 5 },
  loginFailuresPerIp: { points: null, windowSec: 900, captchaAfter: 20 },
  loginFailuresPerTrustedNetwork: { points: null, windowSec: 900, captchaAfter: 1000 },
  loginFailuresPerTenant: { points: null, windowSec: 600, captchaAfter: 1000 },
  // Inspect and reset by link or code that find nothing (a good link opened again and again, or by
  // a whole office behind one address, is never counted).
  resetPerIp: { points: 30, windowSec: 600, captchaAfter: null },
  changeFailuresPerUser: { points: 10, windowSec: 900, captchaAfter: null },
  // Wrong second-factor answers per account, wherever asked (sign-in, reset): a six-digit code
  // must not be guessable, and no answer ever locks the account for good.
  mfaFailuresPerAccount: { points: 10, windowSec: 900, captchaAfter: null },
  // Reset (and welcome) emails an admin sends to one user: each supersedes the last, so a few suffice.
  adminResendPerUser: { points: 5, windowSec: 3600, captchaAfter: null },
  // Links an admin makes to hand over (no email): each supersedes that account's last link, so an
  // admin cannot churn them without bound.
  adminLinksPerUser: { points: 10, windowSec: 3600, captchaAfter: null },
} as const satisfies Record<string, LimitRule>;

export type LimitName = keyof typeof LIMITS;
export type LimitOverrides = Partial<Record<LimitName, Partial<LimitRule>>>;

export const isLimitName = (name: string): name is LimitName => Object.hasOwn(LIMITS, name);

const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 };

/**
 * Parses RATE_LIMITS: comma-separated `name=points/window` (window like 90s, 10m, 1h) or
 * `name=off` (counted, never refused). Returns an error sentence instead of throwing.
 */
export function parseRateLimits(value: string): { overrides: LimitOverrides } | { error: string } {
  const overrides: LimitOverrides = {};
  for (const part of value.split(',').map((s) => s.trim()).filter(Boolean)) {
    const m = /^([A-Za-z]+)\s*=\s*(?:(off)|(\d+)\s*\/\s*(\d+)\s*([smhd]))$/.exec(part);
    if (!m) return { error: `"${part}" is not name=points/window (like forgotPerIp=20/10m) or name=off` };
    const name = m[1]!;
    if (!isLimitName(name)) return { error: `"${name}" is not a limit (one of ${Object.keys(LIMITS).join(', ')})` };
    if (m[2]) { overrides[name] = { ...overrides[name], points: null }; continue; }
    const points = Number(m[3]);
    const windowSec = Number(m[4]) * UNITS[m[5]!]!;
    if (points < 1 || windowSec < 1) return { error: `"${part}": points and window must be at least 1` };
    overrides[name] = { ...overrides[name], points, windowSec };
  }
  return { overrides };
}

/** Parses CAPTCHA_AFTER: comma-separated `name=count` or `name=off`. */
export function parseCaptchaAfter(value: string): { overrides: LimitOverrides } | { error: string } {
  const overrides: LimitOverrides = {};
  for (const part of value.split(',').map((s) => s.trim()).filter(Boolean)) {
    const m = /^([A-Za-z]+)\s*=\s*(?:(off)|(\d+))$/.exec(part);
    if (!m) return { error: `"${part}" is not name=count (like loginFailuresPerAccount=5) or name=off` };
    const name = m[1]!;
    if (!isLimitName(name)) return { error: `"${name}" is not a limit (one of ${Object.keys(LIMITS).join(', ')})` };
    overrides[name] = { ...overrides[name], captchaAfter: m[2] ? null : Number(m[3]) };
  }
  return { overrides };
}

/** A rule with overrides and RATE_LIMIT_SCALE applied. */
export interface ScaledRule { points: number | null; windowMs: number; captchaAfter: number | null; }

export function scaledRules(scale: number, overrides: LimitOverrides = {}): Record<LimitName, ScaledRule> {
  const count = (n: number | null) => (n === null ? null : Math.max(1, Math.round(n * scale)));
  const out = {} as Record<LimitName, ScaledRule>;
  for (const name of Object.keys(LIMITS) as LimitName[]) {
    const rule: LimitRule = { ...LIMITS[name], ...overrides[name] };
    out[name] = { points: count(rule.points), windowMs: Math.max(1, Math.round((rule.windowSec * 1000) / scale)), captchaAfter: count(rule.captchaAfter) };
  }
  return out;
}
