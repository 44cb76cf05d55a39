import { describe, expect, it } from 'vitest';
import { ConfigError, configFrom, parseDuration } from './config.ts';

describe('configuration', () => {
  it('has the contract defaults', () => {
    const c = configFrom({});
    expect(c).toMatchObject({
      port: 3000, host: '127.0.0.1', adminPort: 3001, adminHost: '127.0.0.1', publicUrl: 'http://localhost:3000',
      dataDir: './data', resetTokenTtlMs: 3_600_000, adminResetTokenTtlMs: 72 * 3_600_000, rateLimitScale: 1,
      logLevel: 'info', trustedProxies: [],
    });
    expect(c.argon2).toEqual({ memoryCost: 19456, timeCost: 2, parallelism: 1 });
  });

  it('uses cheap argon2 parameters only under NODE_ENV=test', () => {
    expect(configFrom({ NODE_ENV: 'test' }).argon2.memoryCost).toBeLessThan(1024);
  });

  it.each([
    [{ PORT: 'eighty' }, 'PORT'],
    [{ PUBLIC_URL: 'not a url' }, 'PUBLIC_URL'],
    [{ DATABASE_URL: 'mysql://x' }, 'DATABASE_URL'],
    [{ SMTP_URL: 'http://mail' }, 'SMTP_URL'],
    [{ RESET_TOKEN_TTL: 'soon' }, 'RESET_TOKEN_TTL'],
    [{ TRUSTED_PROXIES: '10.0.0.0/8, nonsense!' }, 'TRUSTED_PROXIES'],
    [{ RATE_LIMIT_SCALE: '0.5' }, 'RATE_LIMIT_SCALE'],
    [{ LOG_LEVEL: 'loud' }, 'LOG_LEVEL'],
    [{ ADMIN_API_KEY: 'short' }, 'ADMIN_API_KEY'],
    [{ DATABASE_POOL_SIZE: '0' }, 'DATABASE_POOL_SIZE'],
    [{ DATABASE_STATEMENT_TIMEOUT: 'forever' }, 'DATABASE_STATEMENT_TIMEOUT'],
    [{ DATABASE_URL: 'postgres://db/k', DATABASE_SSL: 'prefer' }, 'DATABASE_SSL'],
    [{ DATABASE_URL: 'postgres://db/k', DATABASE_SSL: 'require', DATABASE_SSL_CA: '/etc/hostname' }, 'DATABASE_SSL_CA'],
    [{ DATABASE_URL: 'postgres://db/k', DATABASE_SSL: 'verify-full', DATABASE_SSL_CA: '/nonexistent.pem' }, 'DATABASE_SSL_CA'],
    [{ DATABASE_SSL: 'require' }, 'DATABASE_SSL'],
    [{ OUTBOX_LEASE: '0s' }, 'OUTBOX_LEASE'],
    [{ OUTBOX_MAX_BACKOFF: 'soon' }, 'OUTBOX_MAX_BACKOFF'],
    [{ WEBHOOK_RETRY_WINDOW: 'a while' }, 'WEBHOOK_RETRY_WINDOW'],
    [{ WEBHOOK_ALLOWED_HOSTS: '127.0.0.1, http://hooks.internal' }, 'WEBHOOK_ALLOWED_HOSTS'],
    [{ WEBHOOK_ALLOWED_HOSTS: '10.0.0.0/33' }, 'WEBHOOK_ALLOWED_HOSTS'],
  ])('refuses %o with one line naming %s', (values, key) => {
    let error: unknown;
    try { configFrom(values); } catch (e) { error = e; }
    expect(error).toBeInstanceOf(ConfigError);
    const message = (error as Error).message;
    expect(message).toContain(key);
    expect(message.split('\n')).toHaveLength(1);
  });

  it('has production-mode defaults: pool, timeouts, TLS as the URL says, outbox lease and backoff', () => {
    const c = configFrom({ DATABASE_URL: 'postgres://db/k' });
    expect(c.database).toEqual({ poolSize: 10, statementTimeoutMs: 10_000, connectTimeoutMs: 5_000, ssl: undefined, sslCaFile: undefined });
    expect(c.outbox).toEqual({ leaseMs: 60_000, maxBackoffMs: 15 * 60_000, retryForMs: 24 * 3_600_000 });
    const set = configFrom({
      DATABASE_URL: 'postgres://db/k', DATABASE_POOL_SIZE: '25', DATABASE_STATEMENT_TIMEOUT: '3s', DATABASE_SSL: 'verify-full',
      DATABASE_SSL_CA: '/etc/hostname', OUTBOX_LEASE: '5s', OUTBOX_MAX_BACKOFF: '1m',
    });
    expect(set.database).toMatchObject({ poolSize: 25, statementTimeoutMs: 3_000, ssl: 'verify-full', sslCaFile: '/etc/hostname' });
    expect(set.outbox).toMatchObject({ leaseMs: 5_000, maxBackoffMs: 60_000 });
  });

  it('outgoing HTTP: a 24h retry window and no allowed private hosts by default; hosts, IPs and CIDRs when set', () => {
    expect(configFrom({}).webhooks).toEqual({ retryWindowMs: 24 * 3_600_000, allowedHosts: [] });
    const set = configFrom({ WEBHOOK_RETRY_WINDOW: '2h', WEBHOOK_ALLOWED_HOSTS: '127.0.0.1, hooks.internal,10.0.0.0/8, fd00::/8' });
    expect(set.webhooks).toEqual({ retryWindowMs: 2 * 3_600_000, allowedHosts: ['127.0.0.1', 'hooks.internal', '10.0.0.0/8', 'fd00::/8'] });
  });

  it('allows RATE_LIMIT_SCALE below 1 only in tests', () => {
    expect(configFrom({ NODE_ENV: 'test', RATE_LIMIT_SCALE: '0.5' }).rateLimitScale).toBe(0.5);
  });

  it('parses durations', () => {
    expect(parseDuration('45s')).toBe(45_000);
    expect(parseDuration('30m')).toBe(1_800_000);
    expect(parseDuration('7d')).toBe(604_800_000);
    expect(parseDuration('90')).toBe(90_000);
    expect(parseDuration('1 fortnight')).toBeNull();
  });

  it('splits TRUSTED_PROXIES and strips a trailing slash from PUBLIC_URL', () => {
    const c = configFrom({ TRUSTED_PROXIES: '10.0.0.0/8, 127.0.0.1', PUBLIC_URL: 'https://id.example.com/' });
    expect(c.trustedProxies).toEqual(['10.0.0.0/8', '127.0.0.1']);
    expect(c.publicUrl).toBe('https://id.example.com');
  });
});
