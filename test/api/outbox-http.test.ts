// HTTP deliveries (back-channel logout, webhooks) leave through the same outbox as mail: a real
// receiver on 127.0.0.1, the app's own worker and clock.
import { beforeAll, describe, expect, it } from 'vitest';
import { eq } from 'drizzle-orm';
import { databaseKinds, unique, useTestApp, type TestApp } from '../helpers/app.ts';
import { freePort } from '../helpers/ports.ts';
import { receiver } from '../helpers/receiver.ts';
import { enqueueHttp, sendDue } from '../../src/platform/outbox/outbox.ts';
import { PermanentDeliveryError, type HttpPreparer } from '../../src/platform/outbox/http.ts';
import { AllowList } from '../../src/platform/outbox/ssrf.ts';
import { outbox } from '../../src/platform/schema.ts';


const row = async (t: TestApp, id: string) => (await t.app.ctx.db.select().from(outbox).where(eq(outbox.id, id)))[0]!;

/** A preparer that signs nothing but shows it ran at send time with the payload and the attempt. */
const echo: HttpPreparer = async (payload, attempt) => ({
  body: JSON.stringify({ payload, attempt }),
  contentType: 'application/json',
  headers: { 'x-test-attempt': String(attempt.attempts) },
});

const queue = (t: TestApp, kind: string, url: string, payload: unknown = { secret: 'do-not-log-me' }) =>
  t.app.ctx.db.transaction((tx) => enqueueHttp(tx, t.app.ctx.secrets, t.clock, { kind, url, payload }));

describe.each(databaseKinds())('HTTP deliveries through the outbox (WEBHOOK_ALLOWED_HOSTS=127.0.0.1, %s)', (db) => {
  const t = useTestApp({ db, env: { WEBHOOK_ALLOWED_HOSTS: '127.0.0.1', WEBHOOK_RETRY_WINDOW: '10m' } });
  const rx = receiver();
  beforeAll(() => {
    t.app.ctx.deliveries.register('test_echo', echo);
    t.app.ctx.deliveries.register('test_gives_up', async () => { throw new PermanentDeliveryError('the endpoint was deleted'); });
  });

  it('a 2xx answer delivers it: the body and headers are the ones prepared at send time, the payload is dropped', async () => {
    const path = `/${unique('ok')}`;
    rx.answers.set(path, { status: 204, body: '' });
    const id = await queue(t, 'test_echo', `${rx.url(path)}?token=query-secret`);
    const queued = await row(t, id);
    expect(queued).toMatchObject({ channel: 'http', status: 'queued', subject: '' });
    expect(queued.sealedBody).not.toContain('do-not-log-me');
    await t.drain();
    const [got] = rx.to(path);
    expect(JSON.parse(got!.body)).toEqual({ payload: { secret: 'do-not-log-me' }, attempt: { id, attempts: 1 } });
    expect(got!.headers).toMatchObject({ 'content-type': 'application/json', 'x-test-attempt': '1' });
    expect(await row(t, id)).toMatchObject({ status: 'sent', attempts: 1, responseStatus: 204, sealedBody: null });
    // The operator sees it with the other deliveries: the URL without its query string.
    const list = await t.op('GET', '/admin/v1/deliveries?limit=50');
    expect(list.body.deliveries.find((d: { id: string }) => d.id === id)).toMatchObject({
      channel: 'http', kind: 'test_echo', to: rx.url(path), status: 'sent', attempts: 1, responseStatus: 204, lastError: null,
    });
    expect(list.raw).not.toContain('query-secret');
  });

  it('after a 500 it is retried with backoff, keeping the answer\'s status and first 1 KiB', async () => {
    const path = `/${unique('busy')}`;
    rx.answers.set(path, { status: 500, body: `overloaded ${'x'.repeat(3000)}` });
    const id = await queue(t, 'test_echo', rx.url(path));
    await t.drain();
    const first = await row(t, id);
    expect(first).toMatchObject({ status: 'queued', attempts: 1, lastError: 'HTTP 500', responseStatus: 500 });
    expect(first.responseBody).toMatch(/^overloaded x+$/);
    expect(Buffer.byteLength(first.responseBody!)).toBe(1024);
    expect(first.nextAttemptAt.getTime()).toBeGreaterThan(t.clock.now().getTime());
    await t.drain(); // not due yet
    expect(rx.to(path)).toHaveLength(1);
    rx.answers.set(path, { status: 200, body: 'thanks' });
    t.clock.advance(5_000);
    await t.drain();
    expect(rx.to(path)).toHaveLength(2);
    expect(rx.to(path)[1]!.headers['x-test-attempt']).toBe('2');
    expect(await row(t, id)).toMatchObject({ status: 'sent', attempts: 2, responseStatus: 200, responseBody: 'thanks' });
  });

  it('408 and 429 are retried; another 4xx fails for good at once', async () => {
    for (const status of [408, 429]) {
      const path = `/${unique(`r${status}`)}`;
      rx.answers.set(path, { status });
      const id = await queue(t, 'test_echo', rx.url(path));
      await t.drain();
      expect(await row(t, id)).toMatchObject({ status: 'queued', lastError: `HTTP ${status}` });
    }
    const path = `/${unique('gone')}`;
    rx.answers.set(path, { status: 410, body: 'no such endpoint' });
    const id = await queue(t, 'test_echo', rx.url(path));
    await t.drain();
    expect(await row(t, id)).toMatchObject({ status: 'failed', attempts: 1, lastError: 'HTTP 410', responseStatus: 410, responseBody: 'no such endpoint', sealedBody: null });
    t.clock.advance(60_000);
    await t.drain();
    expect(rx.to(path)).toHaveLength(1);
    const given = t.logs.filter((l) => l.includes('given up') && l.includes(id));
    expect(given).toHaveLength(1);
    expect(given[0]).toContain('"cause":"refused"');
  });

  it('a refused connection is retried with backoff', async () => {
    const id = await queue(t, 'test_echo', `http://127.0.0.1:${await freePort()}/hook`);
    await t.drain();
    const r = await row(t, id);
    expect(r).toMatchObject({ status: 'queued', attempts: 1, responseStatus: null });
    expect(r.lastError).toMatch(/ECONNREFUSED/);
    expect(r.nextAttemptAt.getTime() - t.clock.now().getTime()).toBeGreaterThan(4_000);
  });

  it('a receiver that does not answer in time is retried (short timeout here; 10 s in the app)', async () => {
    const path = `/${unique('hang')}`;
    rx.answers.set(path, 'hang');
    const id = await queue(t, 'test_echo', rx.url(path));
    const sent = await sendDue(t.app.ctx.db, t.app.ctx.secrets, t.clock, {
      http: { kinds: t.app.ctx.deliveries, allowed: new AllowList(['127.0.0.1']), timeoutMs: 300 },
    });
    expect(sent).toBeGreaterThanOrEqual(1);
    const r = await row(t, id);
    expect(r).toMatchObject({ status: 'queued', attempts: 1 });
    expect(r.lastError).toMatch(/no answer within/);
    rx.answers.set(path, { status: 200 }); // the app's own worker would wait 10 s on its next try
  });

  it('is given up once WEBHOOK_RETRY_WINDOW has passed, and logged without its payload', async () => {
    const path = `/${unique('down')}`;
    rx.answers.set(path, { status: 503 });
    const id = await queue(t, 'test_echo', rx.url(path));
    await t.drain();
    t.clock.advance(5 * 60_000);
    await t.drain();
    expect(await row(t, id)).toMatchObject({ status: 'queued', attempts: 2 });
    t.clock.advance(6 * 60_000); // 11 min after it was queued
    await t.drain();
    expect(await row(t, id)).toMatchObject({ status: 'failed', attempts: 3, lastError: 'HTTP 503', sealedBody: null });
    const given = t.logs.filter((l) => l.includes('given up') && l.includes(id));
    expect(given[0]).toContain('"cause":"retry_window_ended"');
    expect(t.logs.join('\n')).not.toContain('do-not-log-me');
  });

  it('a kind nobody registered, or a preparer that says so, fails for good with a clear reason', async () => {
    const a = await queue(t, 'test_nobody', rx.url('/nobody'));
    const b = await queue(t, 'test_gives_up', rx.url('/deleted'));
    await t.drain();
    expect(await row(t, a)).toMatchObject({ status: 'failed', lastError: 'no preparer is registered for the delivery kind "test_nobody"' });
    expect(await row(t, b)).toMatchObject({ status: 'failed', lastError: 'the endpoint was deleted' });
    expect(rx.to('/nobody')).toHaveLength(0);
    expect(rx.to('/deleted')).toHaveLength(0);
  });

  it('a kind is registered once', () => {
    expect(() => t.app.ctx.deliveries.register('test_echo', echo)).toThrow(/registered twice/);
  });

  it('mail and HTTP rows go through one worker: an email still goes out', async () => {
    const slug = (await t.tenant()).slug;
    const email = `${unique('mix')}@example.com`;
    await t.user(slug, email);
    const path = `/${unique('mix')}`;
    const id = await queue(t, 'test_echo', rx.url(path));
    await t.resetMail(email);
    expect(await row(t, id)).toMatchObject({ status: 'sent' });
    expect(rx.to(path)).toHaveLength(1);
  });

  it('a URL with credentials or another scheme cannot be queued', async () => {
    await expect(queue(t, 'test_echo', 'http://user:pw@127.0.0.1/x')).rejects.toThrow(/credentials/);
    await expect(queue(t, 'test_echo', 'ftp://127.0.0.1/x')).rejects.toThrow(/http/);
  });
});

describe('destinations on our own network are refused (no WEBHOOK_ALLOWED_HOSTS)', () => {
  const t = useTestApp();
  const rx = receiver();
  beforeAll(() => { t.app.ctx.deliveries.register('test_echo', echo); });

  it.each([
    ['127.0.0.1', (u: (p: string, h?: string) => string, p: string) => u(p), /127\.0\.0\.1 is a loopback address \(127\.0\.0\.0\/8\): refused \(not in WEBHOOK_ALLOWED_HOSTS\)/],
    ['localhost (resolves to 127.0.0.1)', (u: (p: string, h?: string) => string, p: string) => u(p, 'localhost'), /localhost resolves to 127\.0\.0\.1 is a loopback address/],
    ['an IPv4-mapped IPv6 loopback', (u: (p: string, h?: string) => string, p: string) => u(p, '[::ffff:127.0.0.1]'), /loopback address \(127\.0\.0\.0\/8\) inside an IPv6 address/],
    ['the metadata address', (_u: unknown, p: string) => `http://169.254.169.254${p}`, /link-local or cloud metadata/],
  ])('%s: the row fails naming the rule, and no request reaches the server', async (_name, url, reason) => {
    const path = `/${unique('ssrf')}`;
    const id = await queue(t, 'test_echo', url(rx.url, path));
    await t.drain();
    const r = await row(t, id);
    expect(r).toMatchObject({ status: 'failed', attempts: 1, sealedBody: null });
    expect(r.lastError).toMatch(reason);
    expect(rx.to(path)).toHaveLength(0);
  });
});

describe('a host listed by name (WEBHOOK_ALLOWED_HOSTS=localhost)', () => {
  const t = useTestApp({ env: { WEBHOOK_ALLOWED_HOSTS: 'localhost' } });
  const rx = receiver();
  beforeAll(() => { t.app.ctx.deliveries.register('test_echo', echo); });

  it('is delivered to, while the same address written as an IP is still refused', async () => {
    const byName = `/${unique('name')}`;
    const byIp = `/${unique('ip')}`;
    const a = await queue(t, 'test_echo', rx.url(byName, 'localhost'));
    const b = await queue(t, 'test_echo', rx.url(byIp));
    await t.drain();
    expect(await row(t, a)).toMatchObject({ status: 'sent', responseStatus: 200 });
    expect(rx.to(byName)).toHaveLength(1);
    expect(rx.to(byName)[0]!.headers.host).toMatch(/^localhost:\d+$/);
    expect(await row(t, b)).toMatchObject({ status: 'failed' });
    expect(rx.to(byIp)).toHaveLength(0);
  });
});
