import { describe, expect, it } from 'vitest';
import { eq } from 'drizzle-orm';
import { unique, useTestApp } from '../helpers/app.ts';
import { account } from '../helpers/fixtures.ts';
import { enqueueMail, sendDue } from '../../src/platform/outbox/outbox.ts';
import { DEFAULT_SMTP_CONNECTIONS } from '../../src/platform/mail/smtp.ts';
import type { MailTransport, OutgoingMail } from '../../src/platform/mail/transport.ts';
import { outbox } from '../../src/platform/schema.ts';

const t = useTestApp();

describe('mail leaves through the outbox', () => {
  it('forgot-password answers 202 while SMTP is down; the mail waits, is retried with backoff, and goes out when SMTP is back', async () => {
    const user = await account(t, { prefix: 'smtp' });
    const { slug, email } = user;
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
    const user = await account(t, { prefix: 'rej' });
    const { slug, email } = user;
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

describe('mail throughput', () => {
  const m = useTestApp();

  it('sends several messages at once over pooled connections, each recipient\'s in the order queued', async () => {
    const to = Array.from({ length: 6 }, () => `${unique('lane')}@example.com`);
    for (let round = 0; round < 3; round++) {
      for (const address of to) {
        await enqueueMail(m.app.ctx.db, m.app.ctx.secrets, m.clock, { kind: 'test', to: address, subject: `round ${round}`, text: 't', html: '<p>t</p>' });
      }
      m.clock.advance(1);
    }
    const opened = m.mail.connections;
    m.mail.setDelay(100);
    let most = 0;
    const watch = setInterval(() => { most = Math.max(most, m.mail.receiving); }, 5);
    try {
      await m.drain();
    } finally {
      clearInterval(watch);
      m.mail.setDelay(0);
    }
    expect(most).toBeGreaterThan(1);
    expect(most).toBeLessThanOrEqual(DEFAULT_SMTP_CONNECTIONS);
    expect(m.mail.connections - opened).toBeLessThanOrEqual(DEFAULT_SMTP_CONNECTIONS);
    for (const address of to) {
      expect(m.mail.messages.filter((x) => x.to.includes(address)).map((x) => x.subject)).toEqual(['round 0', 'round 1', 'round 2']);
    }
  });
});

describe('outbox worker details (leases, backoff cap, give-up, shutdown)', () => {
  const u = useTestApp();

  const queue = async (n: number) => {
    const ids: string[] = [];
    for (let i = 0; i < n; i++) {
      ids.push(await enqueueMail(u.app.ctx.db, u.app.ctx.secrets, u.clock, {
        kind: 'test', to: `${unique('ob')}@example.com`, subject: `s${i}`, text: 't', html: '<p>t</p>',
      }));
    }
    return ids;
  };
  const status = async (id: string) => (await u.app.ctx.db.select().from(outbox).where(eq(outbox.id, id)))[0]!;
  const transport = (fail: boolean, seen: OutgoingMail[] = []) => ({
    kind: 'smtp' as const, close: async () => {},
    async send(m: OutgoingMail) { seen.push(m); if (fail) throw new Error('451 try later'); return { response: '250 OK' }; },
  });
  const send = (t: MailTransport, opts: Parameters<typeof sendDue>[4] = {}) =>
    sendDue(u.app.ctx.db, u.app.ctx.secrets, u.clock, { mail: { transport: t, from: 'Keyturn <no-reply@keyturn.test>' } }, opts);

  it('every attempt of one message carries the same Message-ID', async () => {
    const [id] = await queue(1);
    const seen: OutgoingMail[] = [];
    await send(transport(true, seen));
    u.clock.advance(10_000);
    await send(transport(false, seen));
    expect(seen.map((m) => m.messageId)).toEqual([`<${id}@keyturn.test>`, `<${id}@keyturn.test>`]);
    expect((await status(id!)).status).toBe('sent');
  });

  it('waits at most OUTBOX_MAX_BACKOFF between attempts and gives up after OUTBOX_RETRY_FOR', async () => {
    const [id] = await queue(1);
    for (let i = 0; i < 6; i++) {
      await send(transport(true), { maxBackoffMs: 8_000, retryForMs: 60_000 });
      const row = await status(id!);
      expect(row.status).toBe('queued');
      expect(row.nextAttemptAt.getTime() - u.clock.now().getTime()).toBeLessThanOrEqual(8_000);
      u.clock.advance(8_000);
    }
    u.clock.advance(20_000); // 68 s after it was queued
    await send(transport(true), { maxBackoffMs: 8_000, retryForMs: 60_000 });
    expect((await status(id!)).status).toBe('failed');
  });

  it('a message claimed by a sender that died is sent by another once the lease has passed', async () => {
    const [id] = await queue(1);
    // Claimed with a 5 s lease by a sender that never reports back.
    const hung = { kind: 'smtp' as const, close: async () => {}, send: () => new Promise<never>(() => {}) };
    void send(hung, { leaseMs: 5_000 });
    await expect.poll(async () => (await status(id!)).status).toBe('sending');
    const seen: OutgoingMail[] = [];
    expect(await send(transport(false, seen))).toBe(0); // still leased
    u.clock.advance(6_000);
    expect(await send(transport(false, seen))).toBe(1);
    expect((await status(id!)).status).toBe('sent');
  });

  it('on shutdown the send in flight finishes and the rest of the claimed batch is handed back at once', async () => {
    const ids = await queue(3);
    let stopping = false;
    const seen: OutgoingMail[] = [];
    const slowThenStop = {
      kind: 'smtp' as const, close: async () => {},
      async send(m: OutgoingMail) { seen.push(m); stopping = true; return { response: '250 OK' }; },
    };
    expect(await send(slowThenStop, { stopping: () => stopping })).toBe(1);
    const rows = await Promise.all(ids.map(status));
    expect(rows.filter((r) => r.status === 'sent').map((r) => r.attempts)).toEqual([1]);
    const back = rows.filter((r) => r.status !== 'sent');
    expect(back.map((r) => [r.status, r.attempts, r.leaseUntil])).toEqual([['queued', 0, null], ['queued', 0, null]]);
  });
});
