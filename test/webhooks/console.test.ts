// Issue 15 in the tenant admin console: add an endpoint (the secret on that answer only), send a
// test event, follow the delivery and its attempts, redeliver — all plain forms, own tenant only.
import { describe, expect, it } from 'vitest';
import { useTestApp, type Session } from '../helpers/app.ts';
import { tenantWithAdmin } from '../helpers/fixtures.ts';
import { postForm } from '../helpers/http.ts';
import { receiver } from '../helpers/receiver.ts';

const t = useTestApp({ env: { WEBHOOK_ALLOWED_HOSTS: '127.0.0.1' } });
const rx = receiver();
const received = () => rx.seen.map((r) => r.body);
const HOOK = '/hook';

const get = (url: string, s: Session) => t.api('GET', url, undefined, { cookie: s.cookie });
const post = (url: string, s: Session, fields: Record<string, string | string[]> = {}) => postForm(t, url, { _csrf: s.csrf, ...fields }, { cookie: s.cookie });

describe('webhooks in the admin console', () => {
  rx.answers.set(HOOK, { status: 200, body: 'got it' });
  it('an admin adds an endpoint (secret shown once), sends a test event and sees the delivery; others cannot', async () => {
    const a = await tenantWithAdmin(t);
    const empty = await get('/admin/webhooks', a.adminSession);
    expect(empty.status).toBe(200);
    expect(empty.raw).toContain('href="/admin/webhooks"');

    const refused = await post('/admin/webhooks', a.adminSession, { url: 'http://169.254.169.254/', all: '1' });
    expect(refused.status).toBe(422);
    expect(refused.raw).toContain('169.254.169.254');

    const added = await post('/admin/webhooks', a.adminSession, { url: rx.url(HOOK), description: 'Softphones', events: ['user.password_changed', 'user.disabled'] });
    expect(added.status).toBe(201);
    const secret = /value="(whsec_[^"]+)"/.exec(added.raw)?.[1];
    expect(secret).toBeDefined();
    const list = await get('/admin/webhooks', a.adminSession);
    expect(list.raw).toContain(rx.url(HOOK).slice('http://'.length));
    expect(list.raw).not.toContain(secret!);
    const id = /href="\/admin\/webhooks\/([0-9a-f-]{36})"/.exec(list.raw)![1]!;

    const sent = await post(`/admin/webhooks/${id}/test`, a.adminSession);
    expect(sent.status).toBe(303);
    await t.drain();
    expect(JSON.parse(received().at(-1)!)).toMatchObject({ type: 'webhook.test' });
    const page = await get(`/admin/webhooks/${id}`, a.adminSession);
    expect(page.raw).toContain('webhook.test');
    expect(page.raw).toContain('HTTP 200 — got it');
    const deliveryId = /\/deliveries\/([0-9a-f-]{36})\/retry/.exec(page.raw)![1]!;
    expect((await post(`/admin/webhooks/${id}/deliveries/${deliveryId}/retry`, a.adminSession)).status).toBe(303);
    await t.drain();
    expect(received()).toHaveLength(2);

    const rotated = await post(`/admin/webhooks/${id}/rotate`, a.adminSession);
    expect(rotated.raw).toMatch(/value="whsec_/);
    expect(rotated.raw).not.toContain(secret!);

    const b = await tenantWithAdmin(t);
    expect((await get(`/admin/webhooks/${id}`, b.adminSession)).status).toBe(404);
    expect((await post(`/admin/webhooks/${id}/delete`, b.adminSession)).status).toBe(404);
    expect((await get('/admin/webhooks', a.memberSession)).status).toBe(403);

    expect((await post(`/admin/webhooks/${id}/delete`, a.adminSession)).status).toBe(303);
    expect((await get('/admin/webhooks', a.adminSession)).raw).not.toContain(rx.url(HOOK).slice('http://'.length));
  });
});
