import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, unique, type TestApp } from '../helpers/app.ts';

let t: TestApp;
beforeAll(async () => { t = await startTestApp(); });
afterAll(async () => { await t?.close(); });

describe('mail leaves through the outbox', () => {
  it('forgot-password answers 202 while SMTP is down; the mail waits, is retried with backoff, and goes out when SMTP is back', async () => {
    const { slug } = await t.tenant();
    const email = `${unique('smtp')}@example.com`;
    const user = await t.user(slug, email);
    await t.mail.stop();
    try {
      expect((await t.forgot(email)).status).toBe(202);
      await t.drain();
      const queued = await t.op('GET', `/admin/v1/tenants/${slug}/users/${user.id}/deliveries`);
      const d = queued.body.deliveries[0];
      expect(d).toMatchObject({ kind: 'password_reset', status: 'queued', attempts: 1 });
      expect(d.lastError).toMatch(/ECONNREFUSED|connect/i);
      expect(Date.parse(d.nextAttemptAt)).toBeGreaterThan(t.clock.now().getTime());
    } finally {
      await t.mail.start();
    }
    // Not due yet: nothing is sent before the backoff has passed.
    await t.drain();
    expect(t.mail.messages.some((m) => m.to.includes(email))).toBe(false);
    t.clock.advance(10_000);
    await t.drain();
    await t.mail.waitFor((m) => m.to.includes(email) && m.subject === 'Reset your password');
    const sent = await t.op('GET', `/admin/v1/tenants/${slug}/users/${user.id}/deliveries`);
    expect(sent.body.deliveries[0]).toMatchObject({ status: 'sent', attempts: 2 });
    expect(sent.body.deliveries[0].smtpResponse).toMatch(/^250/);
  });

  it('records a rejection with the SMTP reply and sends each message exactly once', async () => {
    const { slug } = await t.tenant();
    const email = `${unique('rej')}@example.com`;
    const user = await t.user(slug, email);
    t.mail.setFailing(451);
    try {
      await t.forgot(email);
      await t.drain();
    } finally {
      t.mail.setFailing(null);
    }
    const failed = await t.op('GET', `/admin/v1/tenants/${slug}/users/${user.id}/deliveries`);
    expect(failed.body.deliveries[0].lastError).toContain('451');
    t.clock.advance(10_000);
    await Promise.all([t.drain(), t.drain(), t.drain()]);
    await t.mail.waitFor((m) => m.to.includes(email));
    expect(t.mail.messages.filter((m) => m.to.includes(email))).toHaveLength(1);
  });
});
