// SMTP down for 30 seconds under a real `keyturn serve` on PostgreSQL: requests keep answering 202,
// the mail waits in the outbox (retried with backoff, visible in the deliveries view) and every
// message goes out once SMTP is back.
import { describe, expect, it } from 'vitest';
import type { MailCatcher } from '../helpers/mail-catcher.ts';
import { deployment, seedUsers, servicesMissing, sleep, suiteName, type Instance } from './helpers.ts';

describe.skipIf(servicesMissing)(suiteName('SMTP outage'), () => {
  let mail: MailCatcher;
  let k: Instance;

  deployment(async (d) => {
    mail = d.mail;
    k = await d.start('K');
  });

  it('SMTP stopped for 30 s then restarted: every message waits, is retried, and arrives once', async () => {
    const { slug, emails } = await seedUsers(k, 5, 'smtp');
    await mail.stop();
    const downAt = Date.now();
    for (const email of emails) expect((await k.api('POST', '/api/v1/password/forgot', { email })).status).toBe(202);

    // While SMTP is down the deliveries view shows the retries and the reason. The view is read
    // between attempts: caught during a retry, the message reads `sending` (a flake seen in CI).
    const { users } = (await k.op('GET', `/admin/v1/tenants/${slug}/users?q=smtp0`)).body;
    const delivery = async () => (await k.op('GET', `/admin/v1/tenants/${slug}/users/${users[0].id}/deliveries`)).body.deliveries[0];
    let waiting: { kind: string; status: string; attempts: number; lastError: string } | undefined;
    await expect.poll(async () => {
      const d = await delivery();
      if (d?.status === 'queued' && d.attempts >= 2) waiting = d;
      return waiting !== undefined;
    }, { timeout: 20_000, interval: 250 }).toBe(true);
    expect(waiting).toMatchObject({ kind: 'password_reset', status: 'queued' });
    expect(waiting!.lastError).toMatch(/ECONNREFUSED|ECONNECTION|connect/i);
    const ready = await fetch(`${k.adminUrl}/readyz`);
    expect(ready.status).toBe(200); // mail waiting 30 s is not yet a reason to leave the load balancer

    await sleep(Math.max(0, 30_000 - (Date.now() - downAt)));
    await mail.start();
    await mail.waitForCount(emails.length, 30_000);
    await sleep(3_000); // nothing more arrives
    for (const email of emails) expect(mail.messages.filter((m) => m.to.includes(email))).toHaveLength(1);
    const sent = (await k.op('GET', `/admin/v1/tenants/${slug}/users/${users[0].id}/deliveries`)).body.deliveries[0];
    expect(sent.status).toBe('sent');
    expect(sent.attempts).toBeGreaterThanOrEqual(3);
    expect(sent.smtpResponse).toMatch(/^250/);
  }, 120_000);
});
