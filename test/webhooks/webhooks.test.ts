// Issue 15, webhooks (CONTRACT §10): a real receiver on 127.0.0.1 (WEBHOOK_ALLOWED_HOSTS lists it),
// the app's own outbox worker, signatures checked with the `standardwebhooks` library a receiver uses.
import { Secret, TOTP } from 'otpauth';
import { Webhook } from 'standardwebhooks';
import { describe, expect, it } from 'vitest';
import { databaseKinds, STRONG, STRONG2, unique, useTestApp, withTestApp, type Session, type TestApp } from '../helpers/app.ts';
import { tenantWithAdmin } from '../helpers/fixtures.ts';
import { asSession, expectError, postForm } from '../helpers/http.ts';
import { receiver, type Received } from '../helpers/receiver.ts';


const headersOf = (r: Received) => ({
  'webhook-id': String(r.headers['webhook-id']), 'webhook-timestamp': String(r.headers['webhook-timestamp']), 'webhook-signature': String(r.headers['webhook-signature']),
});
/** What a receiver does: verify with the endpoint's secret, then trust the JSON. */
const verified = (secret: string, r: Received) => new Webhook(secret).verify(r.body, headersOf(r)) as { id: string; type: string; tenant: { slug: string }; data: Record<string, unknown> };

const ENV = { WEBHOOK_ALLOWED_HOSTS: '127.0.0.1', WEBHOOK_RETRY_WINDOW: '10m' };

async function register(t: TestApp, body: Record<string, unknown>): Promise<{ id: string; secret: string }> {
  const res = await t.op('POST', '/admin/v1/webhooks', body);
  expect(res.status, res.raw).toBe(201);
  return res.body;
}

async function enrolTotp(t: TestApp, s: Session, password: string): Promise<string> {
  const started = await t.api('POST', '/api/v1/mfa/totp', { currentPassword: password }, asSession(s));
  expect(started.status, started.raw).toBe(200);
  const code = new TOTP({ secret: Secret.fromBase32(started.body.secret) }).generate({ timestamp: t.clock.now().getTime() });
  const verifiedTotp = await t.api('POST', `/api/v1/mfa/totp/${started.body.id}/verify`, { code }, asSession(s));
  expect(verifiedTotp.status, verifiedTotp.raw).toBe(200);
  return started.body.id;
}

describe.each(databaseKinds())('webhooks (%s)', (db) => {
  const t = useTestApp({ db, env: ENV });
  const rx = receiver();

  it('every event of §10 arrives after its action, signed, verifiable with standardwebhooks, with no secret in it', async () => {
    const { slug } = await t.tenant();
    const path = `/${unique('all')}`;
    const ep = await register(t, { url: rx.url(path), events: ['*'], tenants: [slug], description: 'CRM sync' });
    expect(ep.secret).toMatch(/^whsec_[A-Za-z0-9+/=]{40,}$/);
    const listed = await t.op('GET', '/admin/v1/webhooks');
    expect(listed.raw).not.toContain(ep.secret);
    expect(listed.body.webhooks.find((w: { id: string }) => w.id === ep.id)).toMatchObject({ tenants: [slug], tenant: null, events: ['*'], disabled: false });

    const email = `${unique('agent')}@example.com`;
    const user = await t.user(slug, email, { name: 'Agent' });
    expect((await t.op('PATCH', `/admin/v1/tenants/${slug}/users/${user.id}`, { name: 'Agent Smith', role: 'admin' })).status).toBe(200);
    const s = await t.login(email);
    const changed = await t.api('POST', '/api/v1/password/change', { currentPassword: STRONG, newPassword: STRONG2 }, asSession(s));
    expect(changed.status, changed.raw).toBe(200);
    expect((await t.op('POST', `/admin/v1/tenants/${slug}/users/${user.id}/sign-out-everywhere`)).status).toBe(200);
    const s2 = await t.login(email, STRONG2);
    const factorId = await enrolTotp(t, s2, STRONG2);
    const removed = await t.api('DELETE', `/api/v1/mfa/${factorId}`, { currentPassword: STRONG2 }, asSession(s2));
    expect(removed.status, removed.raw).toBe(204);
    expect((await t.op('POST', `/admin/v1/tenants/${slug}/users/${user.id}/mfa-reset`, { reason: 'lost phone' })).status).toBe(200);
    const { token } = await t.resetMail(email, slug);
    const reset = await t.api('POST', '/api/v1/password/reset', { token, password: 'Bright-Canyon-93$' });
    expect(reset.status, reset.raw).toBe(200);
    await t.drain();
    const notice = await t.mail.waitFor((m) => m.to.includes(email) && /account\/lock\?token=/.test(m.text));
    const lockToken = /account\/lock\?token=([A-Za-z0-9_-]+)/.exec(notice.text)![1]!;
    expect((await postForm(t, '/account/lock', { token: lockToken })).status).toBe(200);
    expect((await t.op('PATCH', `/admin/v1/tenants/${slug}/users/${user.id}`, { disabled: true })).status).toBe(200);
    expect((await t.op('PATCH', `/admin/v1/tenants/${slug}/users/${user.id}`, { disabled: false })).status).toBe(200);
    await t.drain();

    const events = rx.to(path).map((r) => verified(ep.secret, r));
    const types = new Set(events.map((e) => e.type));
    for (const type of ['user.created', 'user.updated', 'user.disabled', 'user.enabled', 'user.locked', 'user.password_reset',
      'user.password_changed', 'user.sessions_revoked', 'user.mfa_enrolled', 'user.mfa_removed', 'user.mfa_reset']) {
      expect(types, type).toContain(type);
    }
    for (const e of events) expect(e).toMatchObject({ tenant: { slug }, data: { userId: user.id, email } });
    expect(events.find((e) => e.type === 'user.updated')!.data).toMatchObject({ changed: expect.any(Array) });
    expect(events.find((e) => e.type === 'user.mfa_enrolled')!.data).toMatchObject({ factorType: 'totp' });
    const all = rx.to(path).map((r) => r.body).join('\n');
    for (const secret of [STRONG, STRONG2, token, lockToken, ep.secret]) expect(all).not.toContain(secret);
    expect(all).not.toMatch(/argon2|password_hash|passwordHash/);
  });

  it('an import sends one user.created per user it made, none for the rows it skipped', async () => {
    const { slug } = await t.tenant();
    const path = `/${unique('import')}`;
    await register(t, { url: rx.url(path), events: ['user.created'], tenants: [slug] });
    const existing = `${unique('u')}@example.com`;
    await t.user(slug, existing);
    const made = [`${unique('i')}@example.com`, `${unique('i')}@example.com`];
    const res = await t.op('POST', `/admin/v1/tenants/${slug}/users/import`, { users: [...made.map((email) => ({ email })), { email: existing }] });
    expect(res.status, res.raw).toBe(200);
    await t.drain();
    const emails = rx.to(path).map((r) => JSON.parse(r.body).data.email as string);
    expect(emails.sort()).toEqual([existing, ...made].sort());
  });

  it('a tampered body, or the wrong secret, fails verification', async () => {
    const { slug } = await t.tenant();
    const path = `/${unique('tamper')}`;
    const ep = await register(t, { url: rx.url(path), events: ['user.created'], tenants: [slug] });
    const user = await t.user(slug, `${unique('u')}@example.com`);
    await t.drain();
    const [got] = rx.to(path);
    expect(verified(ep.secret, got!).data.userId).toBe(user.id);
    const tampered = { ...got!, body: got!.body.replace(user.id, '00000000-0000-4000-8000-000000000000') };
    expect(() => verified(ep.secret, tampered)).toThrow();
    expect(() => verified(`whsec_${Buffer.alloc(32, 1).toString('base64')}`, got!)).toThrow();
  });

  it('a receiver answering 500 gets the same webhook-id again once it is up; every attempt is listed; retry redelivers it', async () => {
    const { slug } = await t.tenant();
    const path = `/${unique('flaky')}`;
    rx.answers.set(path, { status: 500, body: 'database down' });
    const ep = await register(t, { url: rx.url(path), events: ['user.created'], tenants: [slug] });
    await t.user(slug, `${unique('u')}@example.com`);
    await t.drain();
    expect(rx.to(path)).toHaveLength(1);
    rx.answers.set(path, { status: 200, body: 'thanks' });
    t.clock.advance(6_000);
    await t.drain();
    const [first, second] = rx.to(path);
    expect(second!.headers['webhook-id']).toBe(first!.headers['webhook-id']);
    expect(verified(ep.secret, second!).type).toBe('user.created');

    const list = await t.op('GET', `/admin/v1/webhooks/${ep.id}/deliveries`);
    expect(list.status).toBe(200);
    const [delivery] = list.body.deliveries;
    expect(delivery).toMatchObject({ id: first!.headers['webhook-id'], type: 'user.created', status: 'sent' });
    expect(delivery.attempts).toMatchObject([
      { attempt: 1, outcome: 'retry', status: 500, responseBody: 'database down' },
      { attempt: 2, outcome: 'delivered', status: 200, responseBody: 'thanks' },
    ]);

    const retried = await t.op('POST', `/admin/v1/webhooks/${ep.id}/deliveries/${delivery.id}/retry`);
    expect(retried.status, retried.raw).toBe(202);
    await t.drain();
    expect(rx.to(path)).toHaveLength(3);
    expect(rx.to(path)[2]!.headers['webhook-id']).toBe(delivery.id);
    expectError(await t.op('POST', `/admin/v1/webhooks/${ep.id}/deliveries/${crypto.randomUUID()}/retry`), 404, 'not_found');
  });

  it("tenant filtering: a tenant admin's endpoint hears its tenant only, and another tenant's admin cannot see it", async () => {
    const a = await tenantWithAdmin(t);
    const b = await tenantWithAdmin(t);
    const pathA = `/${unique('a')}`;
    const pathOpB = `/${unique('opb')}`;
    const created = await t.api('POST', '/api/v1/admin/webhooks', { url: rx.url(pathA), events: ['user.created', 'user.updated'] }, asSession(a.adminSession));
    expect(created.status, created.raw).toBe(201);
    expect(created.body).toMatchObject({ tenant: a.slug, secret: expect.stringMatching(/^whsec_/) });
    await register(t, { url: rx.url(pathOpB), events: ['user.created'], tenants: [b.slug] });
    expectError(await t.api('POST', '/api/v1/admin/webhooks', { url: rx.url(pathA), events: ['*'], tenants: [b.slug] }, asSession(a.adminSession)), 400, 'invalid_request');

    const inA = await t.user(a.slug, `${unique('u')}@example.com`);
    const inB = await t.user(b.slug, `${unique('u')}@example.com`);
    await t.drain();
    expect(rx.to(pathA).map((r) => verified(created.body.secret, r).data.userId)).toEqual([inA.id]);
    expect(rx.to(pathOpB).map((r) => JSON.parse(r.body).data.userId)).toEqual([inB.id]);

    expect((await t.api('GET', '/api/v1/admin/webhooks', undefined, asSession(b.adminSession))).body.webhooks).toEqual([]);
    expectError(await t.api('GET', `/api/v1/admin/webhooks/${created.body.id}`, undefined, asSession(b.adminSession)), 404, 'not_found');
    expectError(await t.api('DELETE', `/api/v1/admin/webhooks/${created.body.id}`, undefined, asSession(b.adminSession)), 404, 'not_found');
    expect((await t.api('GET', '/api/v1/admin/webhooks', undefined, asSession(a.memberSession))).status).toBe(403);
    const own = await t.api('GET', `/api/v1/admin/webhooks/${created.body.id}/deliveries`, undefined, asSession(a.adminSession));
    expect(own.body.deliveries).toMatchObject([{ type: 'user.created', status: 'sent', attempts: [{ outcome: 'delivered', status: 200 }] }]);
  });

  it('a disabled endpoint gets nothing, not even what was queued before it was disabled; a deleted one neither', async () => {
    const { slug } = await t.tenant();
    const path = `/${unique('off')}`;
    const ep = await register(t, { url: rx.url(path), events: ['*'], tenants: [slug] });
    await t.user(slug, `${unique('u')}@example.com`); // queued, not yet sent
    const off = await t.op('PATCH', `/admin/v1/webhooks/${ep.id}`, { disabled: true });
    expect(off.body).toMatchObject({ disabled: true, disabledReason: 'admin' });
    await t.user(slug, `${unique('u')}@example.com`);
    await t.drain();
    expect(rx.to(path)).toEqual([]);
    const list = await t.op('GET', `/admin/v1/webhooks/${ep.id}/deliveries`);
    expect(list.body.deliveries).toMatchObject([{ status: 'failed', attempts: [{ outcome: 'failed', error: expect.stringContaining('disabled') }] }]);
    expectError(await t.op('POST', `/admin/v1/webhooks/${ep.id}/test`), 409, 'endpoint_disabled');

    expect((await t.op('PATCH', `/admin/v1/webhooks/${ep.id}`, { disabled: false })).body.disabled).toBe(false);
    await t.user(slug, `${unique('u')}@example.com`);
    expect((await t.op('DELETE', `/admin/v1/webhooks/${ep.id}`)).status).toBe(204);
    await t.drain();
    expect(rx.to(path)).toEqual([]);
    expectError(await t.op('GET', `/admin/v1/webhooks/${ep.id}`), 404, 'not_found');
  });

  it('"send test event" delivers a signed webhook.test', async () => {
    const a = await tenantWithAdmin(t);
    const path = `/${unique('test')}`;
    const created = await t.api('POST', '/api/v1/admin/webhooks', { url: rx.url(path), events: ['user.disabled'] }, asSession(a.adminSession));
    const sent = await t.api('POST', `/api/v1/admin/webhooks/${created.body.id}/test`, undefined, asSession(a.adminSession));
    expect(sent.status, sent.raw).toBe(202);
    await t.drain();
    expect(verified(created.body.secret, rx.to(path)[0]!)).toMatchObject({ id: sent.body.eventId, type: 'webhook.test', tenant: { slug: a.slug } });
  });

  it('SSRF: loopback, private, link-local and metadata destinations are refused at registration unless allowed', async () => {
    for (const url of ['http://169.254.169.254/latest/meta-data/', 'http://10.0.0.1/hook', 'http://127.0.0.2/hook', 'http://[::1]/hook', 'http://192.168.1.10/', 'http://[::ffff:169.254.169.254]/']) {
      expectError(await t.op('POST', '/admin/v1/webhooks', { url, events: ['*'] }), 422, 'destination_refused');
    }
    expectError(await t.op('POST', '/admin/v1/webhooks', { url: 'file:///etc/passwd', events: ['*'] }), 422, 'destination_refused');
    expectError(await t.op('POST', '/admin/v1/webhooks', { url: 'http://user:pw@example.com/', events: ['*'] }), 422, 'destination_refused');
    expectError(await t.op('POST', '/admin/v1/webhooks', { url: rx.url('/x'), events: ['user.nope'] }), 400, 'invalid_request');
    const ep = await register(t, { url: rx.url('/ok'), events: ['*'] });
    expectError(await t.op('PATCH', `/admin/v1/webhooks/${ep.id}`, { url: 'http://10.1.2.3/' }), 422, 'destination_refused');
    await t.op('DELETE', `/admin/v1/webhooks/${ep.id}`);
  });

  it('after a secret rotation both signatures are sent for 24 hours, then only the new one', async () => {
    const { slug } = await t.tenant();
    const path = `/${unique('rot')}`;
    const ep = await register(t, { url: rx.url(path), events: ['user.created'], tenants: [slug] });
    const rotated = await t.op('PATCH', `/admin/v1/webhooks/${ep.id}`, { rotateSecret: true });
    expect(rotated.status, rotated.raw).toBe(200);
    expect(rotated.body.secret).toMatch(/^whsec_/);
    expect(rotated.body.secret).not.toBe(ep.secret);
    expect(rotated.body.previousSecretValidUntil).toEqual(expect.any(String));
    await t.user(slug, `${unique('u')}@example.com`);
    await t.drain();
    const [got] = rx.to(path);
    expect(String(got!.headers['webhook-signature']).split(' ')).toHaveLength(2);
    expect(verified(ep.secret, got!).type).toBe('user.created');
    expect(verified(rotated.body.secret, got!).type).toBe('user.created');

    t.clock.advance(25 * 3_600_000);
    await t.user(slug, `${unique('u')}@example.com`);
    await t.drain();
    const later = rx.to(path)[1]!;
    const signatures = String(later.headers['webhook-signature']).split(' ');
    expect(signatures).toHaveLength(1);
    // The clock moved a day ahead of the library's: check the signature itself.
    const [, , body] = [later.headers['webhook-id'], later.headers['webhook-timestamp'], later.body];
    const expected = new Webhook(rotated.body.secret).sign(String(later.headers['webhook-id']), new Date(Number(later.headers['webhook-timestamp']) * 1000), body);
    expect(signatures[0]).toBe(expected);
  });
});

describe('an endpoint that fails for the whole retry window', () => {
  const rx = receiver();
  it('is disabled and its tenant\'s admins are emailed', async () => {
    await withTestApp({ env: { WEBHOOK_ALLOWED_HOSTS: '127.0.0.1', WEBHOOK_RETRY_WINDOW: '1m' } }, async (t) => {
      const a = await tenantWithAdmin(t);
      const path = `/${unique('down')}`;
      rx.answers.set(path, { status: 503, body: 'maintenance' });
      const created = await t.api('POST', '/api/v1/admin/webhooks', { url: rx.url(path), events: ['user.created'] }, asSession(a.adminSession));
      await t.user(a.slug, `${unique('u')}@example.com`);
      await t.drain();
      for (let i = 0; i < 4; i++) { t.clock.advance(20_000); await t.drain(); }
      const ep = await t.api('GET', `/api/v1/admin/webhooks/${created.body.id}`, undefined, asSession(a.adminSession));
      expect(ep.body).toMatchObject({ disabled: true, disabledReason: 'failing' });
      const mail = await t.mail.waitFor((m) => m.to.includes(a.adminEmail) && m.subject === 'A webhook endpoint was disabled');
      expect(mail.text).toContain(rx.url(path));
      const deliveries = await t.api('GET', `/api/v1/admin/webhooks/${created.body.id}/deliveries`, undefined, asSession(a.adminSession));
      expect(deliveries.body.deliveries[0].status).toBe('failed');
      expect(deliveries.body.deliveries[0].attempts.at(-1)).toMatchObject({ outcome: 'failed', status: 503, responseBody: 'maintenance' });
    });
  });
});
