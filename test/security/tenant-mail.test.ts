// Security review, issue 11, item 7: one tenant setting must not be able to stop that tenant's
// mail unnoticed, and mail that can never go out must be visible (deliveries, /metrics, error log).
import { describe, expect, it } from 'vitest';
import { enqueueMail } from '../../src/platform/outbox/outbox.ts';
import { unique, useTestApp } from '../helpers/app.ts';
import { account } from '../helpers/fixtures.ts';

const t = useTestApp();

const failedGauge = async () => {
  const text = (await t.op('GET', '/metrics')).raw;
  return Number(/^keyturn_outbox_messages\{status="failed"\} (\d+)$/m.exec(text)?.[1] ?? 0);
};
const givenUp = (id: string) => t.logs
  .map((line) => JSON.parse(line) as { level: number; msg: string; mail?: { id: string }; reason?: string })
  .filter((l) => l.msg === 'mail not delivered: given up' && l.mail?.id === id);

describe('issue 11 item 7: a sender name stops a tenant\'s mail', () => {
  // Attack: an operator (or whoever holds the operator key) sets the tenant's sender name to
  // "ACME\u2028Support". The API took it; the mailer refuses a From header with a line or paragraph
  // separator, so from then on every email of the tenant — resets included — failed, while
  // forgot-password kept answering 202 and nothing said so. The name is now refused on input.
  it('item 7 (sender name): a sender name with U+2028 or U+2029 is refused on input, naming the field', async () => {
    const { slug } = await t.tenant();
    for (const name of ['ACME\u2028Support', 'ACME\u2029Support']) {
      const res = await t.op('PATCH', `/admin/v1/tenants/${slug}`, { sender: { name } });
      expect(res.status, JSON.stringify(name)).toBe(400);
      expect(res.body).toEqual({ error: 'invalid_request', message: expect.stringMatching(/^sender\.name: /), field: 'sender.name' });
    }
    expect((await t.op('GET', `/admin/v1/tenants/${slug}`)).body.sender).toBeNull();

    expect((await t.op('PATCH', `/admin/v1/tenants/${slug}`, { sender: { name: 'ACME Support' } })).status).toBe(200);
    const email = `${unique('sender')}@example.com`;
    await t.user(slug, email);
    const { mail } = await t.resetMail(email);
    expect(mail.from).toContain('ACME Support');
  });

  // Attack: a message that can never be sent (the server refuses it for good with a 5xx) was
  // retried for a day as if the server were briefly away: the deliveries view said "queued", no
  // metric moved and nothing was logged, so a tenant could lose its mail unnoticed.
  it('item 7 (permanent failure): a message the SMTP server refuses for good (550) fails at once, shows in deliveries and /metrics, and is logged at error level without the address', async () => {
    const user = await account(t, { prefix: 'refused' });
    const { slug, email } = user;
    const before = await failedGauge();
    t.mail.setFailing(550);
    try {
      expect((await t.forgot(email)).status).toBe(202);
      await t.drain();
    } finally {
      t.mail.setFailing(null);
    }
    const d = (await t.op('GET', `/admin/v1/tenants/${slug}/users/${user.id}/deliveries`)).body.deliveries[0];
    expect(d).toMatchObject({ kind: 'password_reset', status: 'failed', attempts: 1, nextAttemptAt: null });
    expect(d.lastError).toContain('550');
    expect(await failedGauge()).toBe(before + 1);
    const lines = givenUp(d.id);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 50, reason: expect.stringContaining('550') });
    expect(t.logs.join('')).not.toContain(email);
    expect(t.logs.join('')).not.toContain('reset-password?token=');

    // Not retried: nothing goes out later either.
    t.clock.advance(60 * 60_000);
    await t.drain();
    expect(t.mail.messages.some((m) => m.to.includes(email))).toBe(false);
  });

  // Attack: a tenant whose bad sender name was stored before the input check (or any message the
  // mailer refuses before connecting) failed every attempt for a day without a trace.
  it('item 7 (mail the mailer refuses): a queued message with a From the mailer refuses fails at once and is reported', async () => {
    const { id: tenantId, slug } = await t.tenant();
    const before = await failedGauge();
    const id = await enqueueMail(t.app.ctx.db, t.app.ctx.secrets, t.clock, {
      kind: 'password_reset', to: `${unique('stored')}@example.com`, tenantId, from: '"ACME\u2028Support" <no-reply@keyturn.test>',
      subject: 'Reset your password', text: 'secret link', html: '<p>secret link</p>',
    });
    await t.drain();
    const failed = (await t.op('GET', `/admin/v1/deliveries?tenant=${slug}&status=failed`)).body.deliveries;
    expect(failed).toEqual([expect.objectContaining({ id, status: 'failed', attempts: 1, lastError: 'Sender must be a single line.' })]);
    expect(await failedGauge()).toBe(before + 1);
    expect(givenUp(id)).toEqual([expect.objectContaining({ level: 50, reason: 'Sender must be a single line.' })]);
  });
});
