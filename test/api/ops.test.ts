import { describe, expect, it } from 'vitest';
import { useTestApp, withTestApp } from '../helpers/app.ts';
import { account } from '../helpers/fixtures.ts';
import { asSession } from '../helpers/http.ts';

const t = useTestApp();

const admin = (url: string) => t.app.adminApp.inject({ method: 'GET', url });

describe('operations endpoints on the admin listener', () => {
  it('healthz answers while the process is up; readyz checks database, migrations and outbox lag', async () => {
    expect((await admin('/healthz')).json()).toEqual({ status: 'ok' });
    const ready = await admin('/readyz');
    expect(ready.statusCode).toBe(200);
    expect(ready.json().checks).toMatchObject({ database: { ok: true }, migrations: { ok: true }, outbox: { ok: true } });
  });

  it('readyz turns 503 when mail has waited too long', async () => {
    const { email } = await account(t, { prefix: 'lag' });
    await t.mail.stop();
    try {
      await t.forgot(email);
      await t.drain();
      t.clock.advance(10 * 60_000);
      const res = await admin('/readyz');
      expect(res.statusCode).toBe(503);
      expect(res.json().checks.outbox.ok).toBe(false);
    } finally {
      t.clock.advance(-10 * 60_000);
      await t.mail.start();
      t.clock.advance(60_000);
      await t.drain();
      t.clock.advance(-60_000);
    }
  });

  it('metrics count answers by route and outcome, and read mail from the database', async () => {
    await t.api('POST', '/api/v1/password/reset/inspect', { token: 'A'.repeat(43) });
    const text = (await admin('/metrics')).body;
    expect(text).toMatch(/keyturn_http_requests_total\{route="\/api\/v1\/password\/reset\/inspect",method="POST",status="404",outcome="token_invalid"\} \d+/);
    expect(text).toMatch(/keyturn_http_request_duration_seconds_bucket\{le="0.005",route="\/api\/v1\/password\/forgot"/);
    expect(text).toMatch(/keyturn_outbox_messages\{status="sent"\} \d+/);
    expect(text).toContain('keyturn_outbox_lag_seconds');
    expect(text).toContain('# TYPE keyturn_sessions_revoked_total counter');
    // Not on the public listener.
    expect((await t.api('GET', '/metrics')).status).toBe(404);
  });
});

describe('reset counters and the request log', () => {
  it('keyturn_password_resets_total counts requested, refused, completed and failed resets by reason', async () => {
    const { email } = await account(t, { prefix: 'count' });
    const { token } = await t.resetMail(email);
    expect((await t.api('POST', '/api/v1/password/reset', { token, password: 'Quiet-Meadow-77#' })).status).toBe(200);
    expect((await t.api('POST', '/api/v1/password/reset', { token, password: 'Quiet-Meadow-77#' })).status).toBe(410);
    expect((await t.api('POST', '/api/v1/password/reset', { token: 'B'.repeat(43), password: 'Quiet-Meadow-77#' })).status).toBe(404);
    const text = (await admin('/metrics')).body;
    const count = (stage: string, reason: string) =>
      Number(new RegExp(`keyturn_password_resets_total\\{stage="${stage}",reason="${reason}"\\} (\\d+)`).exec(text)?.[1] ?? 0);
    expect(count('requested', 'self_service')).toBeGreaterThanOrEqual(1);
    expect(count('completed', 'link')).toBeGreaterThanOrEqual(1);
    expect(count('failed', 'token_used')).toBeGreaterThanOrEqual(1);
    expect(count('failed', 'token_invalid')).toBeGreaterThanOrEqual(1);
  });

  it('keyturn_sessions_revoked_total counts the sessions a reset and a sign-out ended, by reason', async () => {
    const revoked = async (reason: string) =>
      Number(new RegExp(`keyturn_sessions_revoked_total\\{reason="${reason}"\\} (\\d+)`).exec((await admin('/metrics')).body)?.[1] ?? 0);
    const { email } = await account(t, { prefix: 'rev' });
    const [resetBefore, signOutBefore] = [await revoked('password_reset'), await revoked('sign_out')];
    const one = await t.login(email);
    await t.login(email);
    await t.login(email);
    expect((await t.api('POST', '/api/v1/logout', undefined, asSession(one))).status).toBe(204);
    const { token } = await t.resetMail(email);
    expect((await t.api('POST', '/api/v1/password/reset', { token, password: 'Quiet-Meadow-77#' })).status).toBe(200);
    expect(await revoked('sign_out')).toBe(signOutBefore + 1);
    expect(await revoked('password_reset')).toBe(resetBefore + 2); // the two sessions still live
  });

  it('one log line per request with request id, route, outcome and tenant — never the body', async () => {
    const { slug, email } = await account(t, { prefix: 'log' });
    const from = t.logs.length;
    const s = await t.login(email);
    await t.api('GET', '/api/v1/session', undefined, { cookie: s.cookie });
    await t.api('POST', '/api/v1/password/reset/inspect', { token: 'C'.repeat(43) });
    const lines = t.logs.slice(from).map((l) => JSON.parse(l));
    const done = lines.filter((l) => l.msg === 'request completed');
    expect(lines.filter((l) => l.msg === 'incoming request')).toEqual([]); // debug only
    const login = done.find((l) => l.route === '/api/v1/login')!;
    expect(login).toMatchObject({ level: 30, outcome: 'ok', tenant: slug, res: { statusCode: 200 }, req: { method: 'POST', url: '/api/v1/login' } });
    expect(login.reqId).toMatch(/^[0-9a-f-]{36}$/);
    expect(done.find((l) => l.route === '/api/v1/session')).toMatchObject({ outcome: 'ok', tenant: slug });
    expect(done.find((l) => l.route === '/api/v1/password/reset/inspect')).toMatchObject({ outcome: 'token_invalid', res: { statusCode: 404 } });
    const text = t.logs.slice(from).join('\n');
    expect(text).not.toContain('Sunny-Harbor-42!');
    expect(text).not.toContain('C'.repeat(43));
  });
});

describe('readyz with Redis configured', () => {
  it('reports Redis, and an unreachable Redis degrades readiness without failing it', async () => {
    await withTestApp({ env: { REDIS_URL: 'redis://127.0.0.1:1' } }, async (r) => {
      const res = await r.app.adminApp.inject({ method: 'GET', url: '/readyz' });
      expect(res.statusCode).toBe(200);
      expect(res.json()).toMatchObject({ status: 'degraded', checks: { database: { ok: true }, redis: { ok: false, required: false } } });
    });
  });

  it.skipIf(!process.env.TEST_REDIS_URL)(`a reachable Redis is ready${process.env.TEST_REDIS_URL ? '' : ' — SKIPPED: set TEST_REDIS_URL to run'}`, async () => {
    await withTestApp({ env: { REDIS_URL: process.env.TEST_REDIS_URL! } }, async (r) => {
      const res = await r.app.adminApp.inject({ method: 'GET', url: '/readyz' });
      expect(res.json()).toMatchObject({ status: 'ready', checks: { redis: { ok: true } } });
    });
  });
});
