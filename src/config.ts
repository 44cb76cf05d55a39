import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { parseCaptchaAfter, parseRateLimits, type LimitOverrides } from './platform/limit-rules.ts';
import { allowEntryError } from './platform/outbox/ssrf.ts';

/** "45s", "30m", "1h", "7d" (or plain seconds) → milliseconds. */
export function parseDuration(value: string): number | null {
  const m = /^(\d+)\s*(ms|s|m|h|d)?$/.exec(value.trim());
  if (!m) return null;
  const n = Number(m[1]);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[(m[2] ?? 's') as 'ms' | 's' | 'm' | 'h' | 'd'];
  return n * unit;
}

const duration = (fallback: string) =>
  z.string().default(fallback).transform((v, ctx) => {
    const ms = parseDuration(v);
    if (ms === null || ms <= 0) {
      ctx.addIssue({ code: 'custom', message: `"${v}" is not a duration like 45s, 30m, 1h or 7d` });
      return z.NEVER;
    }
    return ms;
  });

const port = (fallback: number) => z.coerce.number().int().min(0).max(65535).default(fallback);

const cidr = z.string().refine((v) => /^[0-9a-fA-F:.]+(\/\d{1,3})?$/.test(v), 'not an IP address or CIDR');

const schema = z
  .object({
    NODE_ENV: z.string().default('development'),
    PORT: port(3000),
    HOST: z.string().min(1).default('127.0.0.1'),
    ADMIN_PORT: port(3001),
    ADMIN_HOST: z.string().min(1).default('127.0.0.1'),
    ADMIN_API_KEY: z.string().min(24, 'must be at least 24 characters').optional(),
    PUBLIC_URL: z.url({ protocol: /^https?$/ }).optional(),
    DATA_DIR: z.string().min(1).default('./data'),
    DATABASE_URL: z
      .string()
      .refine((v) => v === 'memory://' || /^postgres(ql)?:\/\//.test(v), 'must be memory:// or postgres://…')
      .optional(),
    DATABASE_POOL_SIZE: z.coerce.number().int().min(1, 'must be at least 1').max(1000, 'must be at most 1000').default(10),
    DATABASE_STATEMENT_TIMEOUT: duration('10s'),
    DATABASE_CONNECT_TIMEOUT: duration('5s'),
    // libpq's words: disable = plain TCP; require = TLS without checking the certificate;
    // verify-full = TLS, certificate chain and host name checked (against DATABASE_SSL_CA if given).
    DATABASE_SSL: z.enum(['disable', 'require', 'verify-full'], { error: 'must be disable, require or verify-full' }).optional(),
    DATABASE_SSL_CA: z.string().min(1).refine((v) => existsSync(v), 'names no readable file').optional(),
    REDIS_URL: z.string().refine((v) => /^rediss?:\/\//.test(v), 'must be redis://… or rediss://…').optional(),
    SMTP_URL: z.string().refine((v) => /^smtps?:\/\//.test(v), 'must be smtp://user:pass@host:port or smtps://…').optional(),
    MAIL_FROM: z.string().min(3).default('Keyturn <no-reply@keyturn.local>'),
    TRUSTED_PROXIES: z
      .string()
      .default('')
      .transform((v) => v.split(',').map((s) => s.trim()).filter(Boolean))
      .pipe(z.array(cidr)),
    RESET_TOKEN_TTL: duration('1h'),
    ADMIN_RESET_TOKEN_TTL: duration('72h'),
    OIDC_ACCESS_TOKEN_TTL: duration('5m'),
    SESSION_TTL: duration('12h'),
    // Sessions an instance keeps in memory between requests (PostgreSQL server only: a write that
    // ends or changes a session reaches every instance through LISTEN/NOTIFY). 0 = read every time.
    SESSION_CACHE_SIZE: z.coerce.number().int().min(0, 'must be 0 or more').max(10_000_000, 'must be at most 10000000').default(20_000),
    RATE_LIMIT_SCALE: z.coerce.number().min(0.0001).default(1),
    RATE_LIMITS: z.string().default('').transform((v, ctx) => {
      const r = parseRateLimits(v);
      if ('error' in r) { ctx.addIssue({ code: 'custom', message: r.error }); return z.NEVER; }
      return r.overrides;
    }),
    RATE_LIMIT_PREFIX: z.string().regex(/^[A-Za-z0-9_-]{1,40}$/, 'must be 1–40 letters, digits, - or _').default('keyturn'),
    CAPTCHA_PROVIDER: z.enum(['altcha', 'turnstile', 'hcaptcha', 'off']).default('altcha'),
    CAPTCHA_AFTER: z.string().default('').transform((v, ctx) => {
      const r = parseCaptchaAfter(v);
      if ('error' in r) { ctx.addIssue({ code: 'custom', message: r.error }); return z.NEVER; }
      return r.overrides;
    }),
    CAPTCHA_SECRET: z.string().min(1).optional(),
    CAPTCHA_SITE_KEY: z.string().min(1).optional(),
    CAPTCHA_VERIFY_URL: z.url({ protocol: /^https?$/ }).optional(),
    CAPTCHA_FALLBACK: z.enum(['stricter', 'block']).default('stricter'),
    CAPTCHA_DIFFICULTY: z.coerce.number().int().min(10, 'must be at least 10').max(10_000_000, 'must be at most 10000000').default(50_000),
    // Background work: a claim (outbox message, reset request) that is not finished within the
    // lease is taken over by another instance; failed sends back off up to the cap and are retried
    // until the message is OUTBOX_RETRY_FOR old.
    OUTBOX_LEASE: duration('60s'),
    OUTBOX_MAX_BACKOFF: duration('15m'),
    OUTBOX_RETRY_FOR: duration('24h'),
    // Outgoing HTTP (back-channel logout, webhooks): retried this long after it was queued; hosts,
    // IPs or CIDRs on loopback/private/link-local addresses it may reach all the same.
    WEBHOOK_RETRY_WINDOW: duration('24h'),
    WEBHOOK_ALLOWED_HOSTS: z.string().default('').transform((v, ctx) => {
      const entries = v.split(',').map((s) => s.trim()).filter(Boolean);
      for (const e of entries) {
        const error = allowEntryError(e);
        if (error) { ctx.addIssue({ code: 'custom', message: error }); return z.NEVER; }
      }
      return entries;
    }),
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    SECRET_KEY: z.string().min(32, 'must be at least 32 characters').optional(),
    // Argon2id cost; NODE_ENV=test picks cheap defaults so suites stay fast.
    ARGON2_MEMORY_KIB: z.coerce.number().int().min(8).optional(),
    ARGON2_ITERATIONS: z.coerce.number().int().min(1).optional(),
  })
  .superRefine((c, ctx) => {
    if (c.RATE_LIMIT_SCALE < 1 && c.NODE_ENV !== 'test')
      ctx.addIssue({ code: 'custom', path: ['RATE_LIMIT_SCALE'], message: 'must be ≥ 1 outside NODE_ENV=test' });
    if (c.DATABASE_SSL_CA && c.DATABASE_SSL !== 'verify-full')
      ctx.addIssue({ code: 'custom', path: ['DATABASE_SSL_CA'], message: 'needs DATABASE_SSL=verify-full' });
    if (((c.DATABASE_SSL && c.DATABASE_SSL !== 'disable') || c.DATABASE_SSL_CA) && !/^postgres(ql)?:\/\//.test(c.DATABASE_URL ?? ''))
      ctx.addIssue({ code: 'custom', path: [c.DATABASE_SSL ? 'DATABASE_SSL' : 'DATABASE_SSL_CA'], message: 'applies only to a postgres:// DATABASE_URL' });
    if (c.CAPTCHA_PROVIDER === 'turnstile' || c.CAPTCHA_PROVIDER === 'hcaptcha') {
      for (const key of ['CAPTCHA_SECRET', 'CAPTCHA_SITE_KEY'] as const)
        if (!c[key]) ctx.addIssue({ code: 'custom', path: [key], message: `is required when CAPTCHA_PROVIDER is ${c.CAPTCHA_PROVIDER}` });
    }
  });

export type RawConfig = z.infer<typeof schema>;

/** Every configuration key, in schema order (docs/configuration.md must name each one). */
export const CONFIG_KEYS = Object.keys(schema.shape) as (keyof RawConfig)[];

export interface Config {
  env: string;
  port: number;
  host: string;
  adminPort: number;
  adminHost: string;
  adminApiKey?: string;
  publicUrl: string;
  dataDir: string;
  databaseUrl?: string;
  /** PostgreSQL server settings (ignored by the embedded database). */
  database: {
    poolSize: number;
    statementTimeoutMs: number;
    connectTimeoutMs: number;
    /** Unset: as the URL says (`?sslmode=`), plain TCP otherwise. */
    ssl?: 'disable' | 'require' | 'verify-full';
    sslCaFile?: string;
  };
  redisUrl?: string;
  smtpUrl?: string;
  mailFrom: string;
  trustedProxies: string[];
  resetTokenTtlMs: number;
  /** Lifetime of the access tokens issued to the platform's apps (OpenID provider). */
  oidcAccessTokenTtlMs: number;
  adminResetTokenTtlMs: number;
  sessionTtlMs: number;
  /** Sessions kept in memory per instance (PostgreSQL server only); 0 = off. */
  sessionCacheSize: number;
  rateLimitScale: number;
  rateLimits: {
    /** Overrides of single rules (RATE_LIMITS, CAPTCHA_AFTER) over the defaults in platform/limit-rules.ts. */
    overrides: LimitOverrides;
    /** Namespace of the keys in Redis / PostgreSQL, so several deployments can share one store. */
    prefix: string;
  };
  captcha: {
    provider: 'altcha' | 'turnstile' | 'hcaptcha' | 'off';
    secret?: string;
    siteKey?: string;
    verifyUrl?: string;
    /** When Turnstile/hCaptcha cannot be reached: count the request double (stricter) or refuse it (block). */
    fallback: 'stricter' | 'block';
    /** ALTCHA: the largest counter the browser may have to try. */
    difficulty: number;
  };
  outbox: { leaseMs: number; maxBackoffMs: number; retryForMs: number };
  /** Outgoing HTTP deliveries (back-channel logout, webhooks). */
  webhooks: { retryWindowMs: number; allowedHosts: string[] };
  logLevel: string;
  secretKey?: string;
  argon2: { memoryCost: number; timeCost: number; parallelism: number };
}

export class ConfigError extends Error {}

/** Reads keyturn.config.json (if present) under the environment; environment wins. One line per bad key. */
export function loadConfig(env: Record<string, string | undefined> = process.env, cwd = process.cwd()): Config {
  const file = resolve(cwd, 'keyturn.config.json');
  let fromFile: Record<string, unknown> = {};
  if (existsSync(file)) {
    try {
      fromFile = JSON.parse(readFileSync(file, 'utf8'));
    } catch (e) {
      throw new ConfigError(`keyturn.config.json: not valid JSON (${(e as Error).message})`);
    }
  }
  const merged: Record<string, string> = {};
  for (const [k, v] of Object.entries(fromFile)) if (v !== undefined && v !== null) merged[k] = String(v);
  for (const [k, v] of Object.entries(env)) if (v !== undefined && v !== '' && k in schema.shape) merged[k] = v;
  return configFrom(merged);
}

export function configFrom(values: Record<string, string | undefined>): Config {
  const parsed = schema.safeParse(values);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const key = String(issue.path[0] ?? 'config');
    throw new ConfigError(`Invalid configuration: ${key} ${issue.message}`);
  }
  const c = parsed.data;
  const isTest = c.NODE_ENV === 'test';
  return {
    env: c.NODE_ENV,
    port: c.PORT,
    host: c.HOST,
    adminPort: c.ADMIN_PORT,
    adminHost: c.ADMIN_HOST,
    adminApiKey: c.ADMIN_API_KEY,
    publicUrl: (c.PUBLIC_URL ?? `http://localhost:${c.PORT}`).replace(/\/+$/, ''),
    dataDir: c.DATA_DIR,
    databaseUrl: c.DATABASE_URL,
    database: {
      poolSize: c.DATABASE_POOL_SIZE,
      statementTimeoutMs: c.DATABASE_STATEMENT_TIMEOUT,
      connectTimeoutMs: c.DATABASE_CONNECT_TIMEOUT,
      ssl: c.DATABASE_SSL,
      sslCaFile: c.DATABASE_SSL_CA,
    },
    redisUrl: c.REDIS_URL,
    smtpUrl: c.SMTP_URL,
    mailFrom: c.MAIL_FROM,
    trustedProxies: c.TRUSTED_PROXIES,
    resetTokenTtlMs: c.RESET_TOKEN_TTL,
    oidcAccessTokenTtlMs: c.OIDC_ACCESS_TOKEN_TTL,
    adminResetTokenTtlMs: c.ADMIN_RESET_TOKEN_TTL,
    sessionTtlMs: c.SESSION_TTL,
    sessionCacheSize: c.SESSION_CACHE_SIZE,
    rateLimitScale: c.RATE_LIMIT_SCALE,
    rateLimits: { overrides: mergeOverrides(c.RATE_LIMITS, c.CAPTCHA_AFTER), prefix: c.RATE_LIMIT_PREFIX },
    captcha: {
      provider: c.CAPTCHA_PROVIDER,
      secret: c.CAPTCHA_SECRET,
      siteKey: c.CAPTCHA_SITE_KEY,
      verifyUrl: c.CAPTCHA_VERIFY_URL,
      fallback: c.CAPTCHA_FALLBACK,
      difficulty: c.CAPTCHA_DIFFICULTY,
    },
    outbox: { leaseMs: c.OUTBOX_LEASE, maxBackoffMs: c.OUTBOX_MAX_BACKOFF, retryForMs: c.OUTBOX_RETRY_FOR },
    webhooks: { retryWindowMs: c.WEBHOOK_RETRY_WINDOW, allowedHosts: c.WEBHOOK_ALLOWED_HOSTS },
    logLevel: c.LOG_LEVEL,
    secretKey: c.SECRET_KEY,
    argon2: {
      memoryCost: c.ARGON2_MEMORY_KIB ?? (isTest ? 64 : 19456),
      timeCost: c.ARGON2_ITERATIONS ?? (isTest ? 1 : 2),
      parallelism: 1,
    },
  };
}

function mergeOverrides(a: LimitOverrides, b: LimitOverrides): LimitOverrides {
  const out: LimitOverrides = { ...a };
  for (const [name, rule] of Object.entries(b) as [keyof LimitOverrides, LimitOverrides[keyof LimitOverrides]][]) out[name] = { ...out[name], ...rule };
  return out;
}

/**
 * What a server (and every CLI command that builds one) needs in production, beyond a valid
 * configuration: it never falls back to laptop conveniences. The dev mailbox would serve live
 * reset links to anyone; secrets made up per instance would not match across instances. One line
 * naming the key; `migrate` needs neither and does not ask.
 */
export function assertProductionReady(config: Pick<Config, 'env' | 'smtpUrl' | 'databaseUrl' | 'secretKey' | 'adminApiKey'>): void {
  if (config.env !== 'production') return;
  if (!config.smtpUrl)
    throw new ConfigError('Invalid configuration: SMTP_URL is required with NODE_ENV=production (the dev mailbox exists only outside production)');
  if (!/^postgres(ql)?:\/\//.test(config.databaseUrl ?? '')) return;
  for (const [key, value] of [['SECRET_KEY', config.secretKey], ['ADMIN_API_KEY', config.adminApiKey]] as const)
    if (!value) throw new ConfigError(`Invalid configuration: ${key} is required with NODE_ENV=production on a PostgreSQL server (every instance must share it)`);
}

/** What openDatabase needs from the configuration (serve, migrate and the CLI open it the same way). */
export const databaseOptions = (config: Pick<Config, 'databaseUrl' | 'dataDir' | 'database'>) => ({
  url: config.databaseUrl,
  dataDir: config.dataDir,
  ...config.database,
});

/** Where a running embedded server says how to reach its operator API (the CLI reads it). */
export const serverFile = (config: Pick<Config, 'dataDir'>) => join(config.dataDir, 'server.json');
