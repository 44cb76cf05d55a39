// SMTP down for 30 seconds under a real `keyturn serve` on PostgreSQL: requests keep answering 202,
// the mail waits in the outbox (retried with backoff, visible in the deliveries view) and every
// message goes out once SMTP is back.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { unique } from '../helpers/app.ts';
import { startMailCatcher, type MailCatcher } from '../helpers/mail-catcher.ts';
import { cleanupDirs, freshDatabase, migrate, seedUsers, servicesMissing, sleep, startInstance, suiteName, type Instance } from './helpers.ts';

describe.skipIf(servicesMissing)(suiteName('SMTP outage'), () => {
  let db: Awaited<ReturnType<typeof freshDatabase>>;
  let mail: MailCatcher;
  let k: Instance;

  beforeAll(async () => {
    db = await freshDatabase();
    migrate(db.url);
    mail = await startMailCatcher();
    k = await startInstance({ name: 'K', databaseUrl: db.url, smtpUrl: mail.url, prefix: `kt-rel-${unique()}` });
  }, 120_000);

  afterAll(async () => {
    await k?.stop('SIGKILL');
    await mail?.stop();
    await db?.drop();
    cleanupDirs();
  });

  it('SMTP stopped for 30 s then restarted: every message waits, is retried, and arrives once', async () => {
    const { slug, emails } = await seedUsers(k, 5, 'smtp');
    await mail.stop();
    const downAt = Date.now();
    for (const email of emails) expect((await k.api('POST', '/api/v1/password/forgot', { email })).status).toBe(202);

    // While SMTP is down the deliveries view shows the retries and the reason.
    const { users } = (await k.op('GET', `/admin/v1/tenants/${slug}/users?q=smtp0`)).body;
    await expect.poll(async () => (await k.op('GET', `/admin/v1/tenants/${slug}/users/${users[0].id}/deliveries`)).body.deliveries[0]?.attempts ?? 0,
      { timeout: 20_000, interval: 500 }).toBeGreaterThanOrEqual(2);
    const waiting = (await k.op('GET', `/admin/v1/tenants/${slug}/users/${users[0].id}/deliveries`)).body.deliveries[0];
    expect(waiting).toMatchObject({ kind: 'password_reset', status: 'queued' });
    expect(waiting.lastError).toMatch(/ECONNREFUSED|ECONNECTION|connect/i);
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
