import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, unique, type TestApp } from '../helpers/app.ts';

let t: TestApp;
beforeAll(async () => { t = await startTestApp(); });
afterAll(async () => { await t?.close(); });

const admin = (url: string) => t.app.adminApp.inject({ method: 'GET', url });

describe('operations endpoints on the admin listener', () => {
  it('healthz answers while the process is up; readyz checks database, migrations and outbox lag', async () => {
    expect((await admin('/healthz')).json()).toEqual({ status: 'ok' });
    const ready = await admin('/readyz');
    expect(ready.statusCode).toBe(200);
    expect(ready.json().checks).toMatchObject({ database: { ok: true }, migrations: { ok: true }, outbox: { ok: true } });
  });

  it('readyz turns 503 when mail has waited too long', async () => {
    const { slug } = await t.tenant();
    const email = `${unique('lag')}@example.com`;
    await t.user(slug, email);
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

  it('metrics count answers by route and outcome, and read mail and sessions from the database', async () => {
    await t.api('POST', '/api/v1/password/reset/inspect', { token: 'A'.repeat(43) });
    const text = (await admin('/metrics')).body;
    expect(text).toMatch(/keyturn_http_requests_total\{route="\/api\/v1\/password\/reset\/inspect",method="POST",status="404",outcome="token_invalid"\} \d+/);
    expect(text).toMatch(/keyturn_http_request_duration_seconds_bucket\{le="0.005",route="\/api\/v1\/password\/forgot"/);
    expect(text).toMatch(/keyturn_outbox_messages\{status="sent"\} \d+/);
    expect(text).toContain('keyturn_outbox_lag_seconds');
    expect(text).toContain('keyturn_sessions_revoked');
    // Not on the public listener.
    expect((await t.api('GET', '/metrics')).status).toBe(404);
  });
});
