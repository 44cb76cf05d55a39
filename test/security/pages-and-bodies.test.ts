// Security review, issue 11: hosted pages and request bodies.
//   item 6 — a NUL byte in page input is a 400 page, and a failing page logs no typed address or stack;
//   item 9 — an oversized body is answered with a readable 413, never a broken connection.
import net, { type AddressInfo } from 'node:net';
import { beforeAll, describe, expect, it } from 'vitest';
import { RESET_COOKIE } from '../../src/web/pages/reset-proof.ts';
import { SESSION_COOKIE } from '../../src/features/sessions/sessions.ts';
import { STRONG, unique, useTestApp, withTestApp, type TestApp } from '../helpers/app.ts';
import { account } from '../helpers/fixtures.ts';
import { form, ORIGIN } from '../helpers/http.ts';

describe('issue 11 item 6: NUL bytes on hosted pages', () => {
  const t = useTestApp();

  // Attack: PostgreSQL text cannot hold U+0000. Sending one in a form field, a query parameter, a
  // path segment or a cookie (the reset cookie carries a base64 address, so a NUL can hide inside
  // it) made the query fail and the page answer 500 — three of them without signing in — and the
  // page error handler wrote the failed query, typed address included, to the log. Every page
  // route must refuse it with a 400 page, like the JSON API does.
  it('item 6 (NUL on pages): a U+0000 in a form field, query, path or cookie of any page route is a 400 page, never a 5xx', async () => {
    const admin = await account(t, { prefix: 'nul', role: 'admin' }); // signed in below, and the :id the admin routes act on
    const { slug, email } = admin;
    const s = await t.login(email);
    const signedIn = { cookie: s.cookie };
    const csrf = { _csrf: s.csrf };
    const nulEmailProof = `c.${Buffer.from(`${email}\u0000`, 'utf8').toString('base64url')}.ABCD2345`;

    // [method, path with :slug/:id placeholders, form fields the route reads, query fields it reads, signed in?]
    const routes: [string, string, string[], string[], boolean][] = [
      ['GET', '/login', [], ['next', 'sso_error'], false],
      ['POST', '/login', ['email', 'password', 'ticket', 'tenant', 'next', 'captcha'], ['next'], false],
      ['GET', '/t/:slug/login', [], ['next', 'sso_error'], false],
      ['POST', '/t/:slug/login', ['email', 'password', 'ticket', 'next', 'captcha'], [], false],
      ['GET', '/forgot-password', [], [], false],
      ['POST', '/forgot-password', ['email', 'captcha'], [], false],
      ['GET', '/t/:slug/forgot-password', [], [], false],
      ['POST', '/t/:slug/forgot-password', ['email', 'captcha'], [], false],
      ['GET', '/t/:slug/forgot-password/sent', [], [], false],
      ['GET', '/reset-password', [], ['token'], false],
      ['POST', '/reset-password', ['password', 'repeat', 'choose', 'tenants'], [], false],
      ['GET', '/reset-password/code', [], ['tenant'], false],
      ['POST', '/reset-password/code', ['email', 'code'], ['tenant'], false],
      ['GET', '/reset-password/done', [], ['tenant'], false],
      ['GET', '/t/:slug/brand.css', [], [], false],
      ['GET', '/account', [], [], true],
      ['GET', '/settings/password', [], ['status'], true],
      ['POST', '/settings/password', ['currentPassword', 'password', 'repeat'], [], true],
      ['GET', '/admin', [], ['q', 'status', 'role', 'after', 'done'], true],
      ['GET', '/admin/users/new', [], [], true],
      ['POST', '/admin/users', ['email', 'name', 'role', 'sendWelcome'], [], true],
      ['GET', '/admin/users/:id', [], ['done'], true],
      ['POST', '/admin/users/:id', ['name', 'email', 'role'], [], true],
      ['POST', '/admin/users/:id/disable', [], [], true],
      ['POST', '/admin/users/:id/sign-out', [], [], true],
      ['GET', '/admin/users/:id/reset', [], [], true],
      ['POST', '/admin/users/:id/reset', ['delivery', 'expiresIn', 'reason'], [], true],
      ['GET', '/admin/users/:id/reset/link', [], [], true],
      ['POST', '/admin/users/:id/identities/:identityId/unlink', [], [], true],
      ['GET', '/admin/audit', [], ['user', 'userId', 'type', 'before'], true],
      ['GET', '/admin/branding', [], ['done'], true],
      ['POST', '/admin/branding', ['name', 'logoUrl', 'useColour', 'color'], [], true],
      ['POST', '/logout', ['_csrf'], [], true], // last: on the code before the fix, it signs out
    ];
    const valid: Record<string, string> = {
      email, password: STRONG, repeat: STRONG, currentPassword: STRONG, name: 'Ann', role: 'member', delivery: 'link', reason: 'r',
      code: 'ABCD-2345', tenant: slug, tenants: slug, choose: '1', next: '/account',
    };
    const fill = (path: string, nulIn?: string) => path
      .replace(':slug', nulIn === 'slug' ? `${slug}%00` : slug)
      .replace(':id', nulIn === 'id' ? `${admin.id}%00` : admin.id)
      .replace(':identityId', nulIn === 'identityId' ? '%00' : '00000000-0000-4000-8000-000000000000');

    const answers: string[] = [];
    const send = async (what: string, method: string, url: string, fields: Record<string, string> | undefined, cookie: string | undefined) => {
      const res = await t.app.publicApp.inject({
        method: method as 'GET', url,
        headers: {
          ...ORIGIN, ...(cookie ? { cookie } : {}),
          ...(method === 'POST' ? { 'content-type': 'application/x-www-form-urlencoded' } : {}),
        },
        ...(method === 'POST' ? { payload: form(fields ?? {}) } : {}),
      });
      answers.push(`${what}: ${res.statusCode}${res.statusCode === 400 && !/^text\/html/.test(String(res.headers['content-type'])) && !url.endsWith('.css') ? ' (not a page)' : ''}`);
    };

    for (const [method, path, fields, query, auth] of routes) {
      const base = Object.fromEntries(fields.map((f) => [f, valid[f] ?? 'x']));
      const post: Record<string, string> | undefined = method === 'POST' ? { ...base, ...(auth ? csrf : {}) } : undefined;
      const cookie = auth ? signedIn.cookie : undefined;
      for (const f of fields) await send(`${method} ${path} form ${f}`, method, fill(path), { ...post, [f]: `${post?.[f] ?? ''}\u0000` }, cookie);
      for (const q of query) await send(`${method} ${path} ?${q}`, method, `${fill(path)}?${q}=${encodeURIComponent(valid[q] ?? 'x')}%00`, post, cookie);
      for (const p of ['slug', 'id', 'identityId'].filter((p) => path.includes(`:${p}`))) {
        await send(`${method} ${path} :${p}`, method, fill(path, p), post, cookie);
      }
      const sessionCookie = auth ? signedIn.cookie.replace(`${SESSION_COOKIE}=`, `${SESSION_COOKIE}=%00`) : `${SESSION_COOKIE}=${'a'.repeat(30)}%00`;
      await send(`${method} ${path} session cookie`, method, fill(path), post, sessionCookie);
      // The NUL inside the reset cookie shows only once it is decoded, by the page that reads it.
      if (path === '/reset-password') await send(`${method} ${path} reset cookie`, method, fill(path), post, `${RESET_COOKIE}=${nulEmailProof}`);
    }

    const wrong = answers.filter((a) => !a.endsWith(': 400'));
    expect(wrong).toEqual([]);

    // Single sign-on and the "this wasn't me" lock link: never a 5xx either (slug pattern, hashed state and token).
    const other: string[] = [];
    for (const [method, url, fields, cookie] of [
      ['GET', `/t/${slug}%00/sso/start`], ['GET', `/t/${slug}/sso/start?returnTo=/a%00`],
      ['GET', `/t/${slug}/sso/callback?state=a%00&code=b%00`, undefined, 'keyturn_sso=a%00'],
      ['GET', '/account/lock?token=a%00'], ['POST', '/account/lock', { token: 'a\u0000' }],
    ] as [string, string, Record<string, string>?, string?][]) {
      const res = await t.app.publicApp.inject({
        method: method as 'GET', url, headers: { ...ORIGIN, ...(cookie ? { cookie } : {}), ...(fields ? { 'content-type': 'application/x-www-form-urlencoded' } : {}) },
        ...(fields ? { payload: form(fields) } : {}),
      });
      other.push(`${method} ${url}: ${res.statusCode}`);
    }
    expect(other.filter((a) => / 5\d\d$/.test(a))).toEqual([]);
    expect(t.logs.join('')).not.toContain(email);
  });

  // Attack: any unexpected failure of a page (here a query that fails) logged the raw error: the
  // query parameters — the address the visitor typed — and a stack trace went into the log.
  it('item 6 (page error log): a page that fails logs neither the typed address nor a stack', async () => {
    await withTestApp({}, async (u) => {
      const typed = `${unique('typed')}@example.com`;
      await u.app.ctx.db.execute('alter table users rename to users_gone');
      const res = await u.app.publicApp.inject({
        method: 'POST', url: '/login', payload: form({ email: typed, password: STRONG }),
        headers: { ...ORIGIN, 'content-type': 'application/x-www-form-urlencoded' },
      });
      expect(res.statusCode).toBe(500);
      expect(res.headers['content-type']).toMatch(/^text\/html/);
      const logs = u.logs.join('');
      expect(logs).toContain('page failed');
      expect(logs).not.toContain(typed);
      expect(logs).not.toMatch(/\bat \S+ \(|\\n\s+at /);
    });
  });
});

describe('issue 11 item 9: oversized bodies', () => {
  const t = useTestApp();
  let publicUrl: string;
  let adminUrl: string;
  beforeAll(async () => {
    const at = async (app: TestApp['app']['publicApp']) => {
      await app.listen({ port: 0, host: '127.0.0.1' });
      return `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
    };
    publicUrl = await at(t.app.publicApp);
    adminUrl = await at(t.app.adminApp);
  });

  /** What a client reads back: the status and body, or the error it got instead (EPIPE, ECONNRESET …). */
  async function send(url: string, bytes: number, headers: Record<string, string> = {}): Promise<string> {
    const body = JSON.stringify({ email: 'a@example.com', password: 'x'.repeat(bytes) });
    try {
      const res = await fetch(url, { method: 'POST', body, headers: { 'content-type': 'application/json', ...ORIGIN, ...headers } });
      return `${res.status} ${await res.text()}`;
    } catch (e) {
      const err = e as Error & { cause?: { code?: string } };
      return `failed: ${err.cause?.code ?? err.message}`;
    }
  }
  const TOO_LARGE = `413 ${JSON.stringify({ error: 'payload_too_large', message: 'The request body is too large.' })}`;

  // Attack (and plain bad luck): a body over the limit was answered 413, but the connection was torn
  // down while the client was still sending, so about half the time the client saw EPIPE or
  // ECONNRESET instead of the answer — and retried, sending the same megabytes again. Every client
  // must be able to read the 413.
  it('item 9 (413 readable): twenty 3 MiB JSON bodies on the public listener each get a readable 413 in the contract shape', async () => {
    const answers: string[] = [];
    for (let i = 0; i < 20; i++) answers.push(await send(`${publicUrl}/api/v1/login`, 3 * 1024 * 1024));
    expect(answers.filter((a) => a !== TOO_LARGE)).toEqual([]);
  });

  /**
   * A client that writes its whole body before it reads, as curl and many HTTP libraries do, one
   * 64 KiB chunk per turn of the event loop (as over a network, it is slower than the server's
   * answer). It keeps writing when the server closes its side (allowHalfOpen), so a connection torn
   * down under its writes shows as EPIPE or ECONNRESET. `forever`: the body never ends.
   */
  function writeAllThenRead(url: string, path: string, size: number, opts: { headers?: Record<string, string>; forever?: boolean } = {}) {
    const { port } = new URL(url);
    return new Promise<{ answer: string; error: string | null; sent: number }>((resolve) => {
      const socket = net.connect({ port: Number(port), host: '127.0.0.1', allowHalfOpen: true });
      let answer = '';
      let error: string | null = null;
      let sent = 0;
      socket.on('data', (d) => { answer += d.toString(); });
      socket.on('error', (e: NodeJS.ErrnoException) => { error = e.code ?? e.message; });
      socket.on('close', () => resolve({ answer, error, sent }));
      const head = { 'content-type': 'application/json', ...ORIGIN, ...opts.headers };
      socket.write(`POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: ${opts.forever ? 2 ** 40 : size}\r\n${
        Object.entries(head).map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`);
      const chunk = Buffer.alloc(64 * 1024, 'x');
      const pump = () => {
        if (socket.destroyed) return;
        if (!opts.forever && sent >= size) return void socket.end();
        const part = opts.forever ? chunk : chunk.subarray(0, Math.min(chunk.length, size - sent));
        socket.write(part, (e) => { if (!e) { sent += part.length; setTimeout(pump, 0); } });
      };
      pump();
    });
  }

  // The same attack with a client that reads only once it has sent everything: the server closed
  // the connection after the first few hundred KiB, the next write hit a reset connection (EPIPE)
  // and, often, the 413 was lost with it.
  it('item 9 (413 readable): a client that sends the whole 3 MiB body before reading gets the 413 and no broken pipe', async () => {
    const answers: string[] = [];
    for (let i = 0; i < 20; i++) {
      const r = await writeAllThenRead(publicUrl, '/api/v1/login', 3 * 1024 * 1024);
      const status = r.answer.split('\r\n')[0];
      const body = r.answer.slice(r.answer.indexOf('\r\n\r\n') + 4);
      answers.push(`${status} ${body} ${r.error ?? 'no error'} sent ${r.sent}`);
    }
    const expected = `HTTP/1.1 413 Payload Too Large ${TOO_LARGE.slice(4)} no error sent ${3 * 1024 * 1024}`;
    expect(answers.filter((a) => a !== expected)).toEqual([]);
    // A page form: the same, answered with the page's own 413.
    const page = await writeAllThenRead(publicUrl, '/login', 3 * 1024 * 1024, { headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expect([page.answer.split('\r\n')[0], page.error]).toEqual(['HTTP/1.1 413 Payload Too Large', null]);
    expect(page.answer).toContain('text/html');
  });

  // A body that never ends must not hold the connection: the server reads a bounded amount, then closes.
  it('item 9 (bounded): a body that never ends is cut off after a bounded amount', async () => {
    const started = Date.now();
    const r = await writeAllThenRead(publicUrl, '/api/v1/login', 0, { forever: true });
    expect(r.sent).toBeLessThan(64 * 1024 * 1024);
    expect(Date.now() - started).toBeLessThan(30_000);
  });

  it('item 9 (413 readable): bodies over the operator listener\'s 20 MiB limit get a readable 413 too', async () => {
    const answers: string[] = [];
    const authorization = `Bearer ${t.app.adminApiKey}`;
    for (let i = 0; i < 5; i++) {
      answers.push(await send(`${adminUrl}/admin/v1/tenants`, 21 * 1024 * 1024, { authorization }));
      const r = await writeAllThenRead(adminUrl, '/admin/v1/tenants', 21 * 1024 * 1024, { headers: { authorization } });
      answers.push(r.error ? `failed: ${r.error}` : `${r.answer.split(' ')[1]} ${r.answer.slice(r.answer.indexOf('\r\n\r\n') + 4)}`);
    }
    expect(answers.filter((a) => a !== TOO_LARGE)).toEqual([]);
  });
});
