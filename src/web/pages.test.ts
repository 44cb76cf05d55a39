// Hosted pages at the HTTP level (no browser): plain form posts, headers, the token leaving the
// URL, the rate-limit message, escaping.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gunzipSync } from 'node:zlib';
import { rateLimited } from '../errors.ts';
import { extractReset, startTestApp, STRONG, unique, type Res, type TestApp } from '../../test/helpers/app.ts';
import { pickLanguage } from './i18n/index.ts';
import { safeNext } from './respond.ts';

let t: TestApp;
const ORIGIN = 'https://keyturn.test';
// From the second request for one address on, forgot-password asks for the captcha.
beforeAll(async () => { t = await startTestApp({ env: { CAPTCHA_PROVIDER: 'altcha', CAPTCHA_AFTER: 'forgotPerAccount=0', CAPTCHA_DIFFICULTY: '1000' } }); });
afterAll(async () => { await t?.close(); });

const form = (fields: Record<string, string | string[]>) => {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(fields)) for (const x of ([] as string[]).concat(v)) p.append(k, x);
  return p.toString();
};
const post = (url: string, fields: Record<string, string | string[]>, headers: Record<string, string> = {}) =>
  t.api('POST', url, form(fields), { 'content-type': 'application/x-www-form-urlencoded', origin: ORIGIN, ...headers });
const get = (url: string, headers: Record<string, string> = {}) => t.api('GET', url, undefined, headers);
const cookiesOf = (res: Res) => ([] as string[]).concat(res.headers['set-cookie'] ?? []);
const cookieHeader = (res: Res) => cookiesOf(res).map((c) => c.split(';')[0]).join('; ');

/** Requests a reset and returns the token and code of the mail to exactly this address. */
async function resetMail(email: string) {
  const before = t.mail.messages.length;
  expect((await t.forgot(email)).status).toBe(202);
  await t.drain();
  const m = await t.mail.waitFor((x) => t.mail.messages.indexOf(x) >= before && x.subject === 'Reset your password' && x.to.includes(email.toLowerCase()));
  return extractReset(m);
}

describe('every page', () => {
  it('is HTML that is never cached, loads script only from files, and keeps the strict headers', async () => {
    const { slug } = await t.tenant();
    for (const url of ['/login', `/t/${slug}/login`, '/forgot-password', `/t/${slug}/forgot-password`, '/forgot-password/sent',
      '/reset-password', '/reset-password/code', '/reset-password/done', `/reset-password?token=${'a'.repeat(43)}`]) {
      const res = await get(url);
      expect(res.status, url).toBe(200);
      expect(res.headers['content-type'], url).toBe('text/html; charset=utf-8');
      expect(res.headers['cache-control'], url).toBe('no-store');
      expect(res.headers['referrer-policy'], url).toBe('no-referrer');
      const csp = String(res.headers['content-security-policy']);
      expect(csp, url).toContain("script-src 'self'");
      expect(csp, url).toContain("frame-ancestors 'none'");
      expect(csp, url).not.toContain('unsafe-inline');
      // No inline script or style, no third-party resource.
      for (const tag of res.raw.match(/<script[^>]*>/g) ?? []) expect(tag, url).toMatch(/ src="\/assets\//);
      expect(res.raw, url).not.toMatch(/<style|\sstyle="|\son[a-z]+="/i);
      expect(res.raw, url).not.toMatch(/(src|href)="(https?:)?\/\//);
    }
  });

  it('speaks German when Accept-Language prefers it, English otherwise', async () => {
    const de = await get('/login', { 'accept-language': 'de-CH, de;q=0.9, en;q=0.8' });
    expect(de.raw).toContain('<html lang="de">');
    expect(de.raw).toContain('Passwort vergessen?');
    expect(de.headers['content-language']).toBe('de');
    expect((await get('/login', { 'accept-language': 'fr-FR, en;q=0.5, de;q=0.4' })).raw).toContain('Forgot password?');
    expect(pickLanguage('fr, de;q=0.1')).toBe('de');
    expect(pickLanguage('de;q=0, en')).toBe('en');
    expect(pickLanguage(undefined)).toBe('en');
  });

  it('escapes what it shows (a tenant name with markup)', async () => {
    const slug = unique('xss');
    await t.op('POST', '/admin/v1/tenants', { slug, name: '<script>alert(1)</script>' });
    const res = await get(`/t/${slug}/login`);
    expect(res.raw).not.toContain('<script>alert');
    expect(res.raw).toContain('&#60;script&#62;alert(1)&#60;/script&#62;');
  });

  it('a tenant with single sign-on shows its button, explains SSO errors, and hides the password form when SSO is enforced', async () => {
    const google = { clientId: 'client-1', clientSecret: 'secret-1' };
    const both = unique('sso');
    await t.op('POST', '/admin/v1/tenants', { slug: both, name: 'Both Ways', loginMethods: ['password', 'google'], google });
    const page = await get(`/t/${both}/login?next=/settings/password`);
    expect(page.raw).toContain(`href="/t/${both}/sso/start?returnTo=%2Fsettings%2Fpassword">Sign in with Google</a>`);
    expect(page.raw).toContain('name="password"');
    const refused = await get(`/t/${both}/login?sso_error=not_linked`);
    expect(refused.raw).toContain('There is no Both Ways account for that sign-in.');
    const only = unique('ssoonly');
    await t.op('POST', '/admin/v1/tenants', { slug: only, name: 'Google Only', loginMethods: ['google'], google: { ...google, issuer: 'https://idp.example.com' } });
    const ssoOnly = await get(`/t/${only}/login`);
    expect(ssoOnly.raw).toContain('Sign in with Google');
    expect(ssoOnly.raw).not.toContain('name="password"');
    expect((await get('/login')).raw).not.toContain('/sso/start');
  });

  it('an unknown tenant is a 404 page', async () => {
    const res = await get('/t/no-such-tenant/login');
    expect(res.status).toBe(404);
    expect(res.raw).toContain('Page not found');
  });
});

describe('sign-in without JavaScript', () => {
  it('one message for a wrong password and an unknown address; success sets the cookie and redirects', async () => {
    const { slug } = await t.tenant();
    const email = `${unique('form')}@example.com`;
    await t.user(slug, email);
    const wrong = await post('/login', { email, password: 'Wrong-Password-1!' });
    const unknown = await post('/login', { email: `${unique('nobody')}@example.com`, password: STRONG });
    expect(wrong.status).toBe(401);
    expect(unknown.status).toBe(401);
    for (const r of [wrong, unknown]) expect(r.raw).toContain('The email address or password is not right.');
    const ok = await post('/login', { email, password: STRONG, next: '/settings/password' });
    expect(ok.status).toBe(303);
    expect(ok.headers.location).toBe('/settings/password');
    expect(cookiesOf(ok).join()).toMatch(/keyturn_session=.*HttpOnly/);
  });

  it('never redirects to another site after sign-in', () => {
    expect(safeNext('//evil.example/x')).toBe('/account');
    expect(safeNext('/\\evil.example')).toBe('/account');
    expect(safeNext('https://evil.example')).toBe('/account');
    expect(safeNext('/settings/password')).toBe('/settings/password');
  });

  it('refuses a form posted from another origin', async () => {
    const res = await post('/login', { email: 'a@example.com', password: 'x' }, { origin: 'https://evil.example' });
    expect(res.status).toBe(403);
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
  });
});

describe('forgot password without JavaScript', () => {
  it('answers every address the same way: 303 to the same "Check your email" page', async () => {
    const { slug } = await t.tenant();
    const email = `${unique('known')}@example.com`;
    await t.user(slug, email);
    const known = await post('/forgot-password', { email });
    const unknown = await post('/forgot-password', { email: `${unique('unknown')}@example.com` });
    for (const r of [known, unknown]) {
      expect(r.status).toBe(303);
      expect(r.headers.location).toBe('/forgot-password/sent');
      expect(r.headers['set-cookie']).toBeUndefined();
    }
    const sent = await get('/forgot-password/sent');
    expect(sent.raw).toContain('Check your email');
    expect(sent.raw).toContain('spam');
    const tenantForm = await post(`/t/${slug}/forgot-password`, { email: `${unique('other')}@example.com` });
    expect(tenantForm.headers.location).toBe(`/t/${slug}/forgot-password/sent`);
    await t.drain();
  });

  it('says what is wrong with an address that is not one', async () => {
    const res = await post('/forgot-password', { email: 'a@example.com, b@example.com' });
    expect(res.status).toBe(400);
    expect(res.raw).toContain('Enter one email address');
  });

  it('shows "Too many requests — try again in N minutes" with Retry-After on a rate limit', async () => {
    const limits = t.app.ctx.limits;
    // Every budget reads as spent for an hour, whichever way the guard asks.
    const saved = { consume: limits.consume, check: limits.check, count: limits.count, counts: limits.counts, admit: limits.admit };
    const refuse = async () => { throw rateLimited(3600); };
    const spent = { consumed: 1e9, msBeforeNext: 3600_000 };
    Object.assign(limits, {
      consume: refuse, check: refuse, count: async () => spent, counts: async (refs: unknown[]) => refs.map(() => spent), admit: async () => null,
    });
    try {
      const res = await post('/forgot-password', { email: `${unique('busy')}@example.com` });
      expect(res.status).toBe(429);
      expect(res.headers['retry-after']).toBe('3600');
      expect(res.raw).toContain('Too many requests — try again in 60 minutes.');
      const de = await post('/forgot-password', { email: `${unique('busy')}@example.com` }, { 'accept-language': 'de' });
      expect(de.raw).toContain('Zu viele Anfragen — versuche es in 60 Minuten noch einmal.');
      const login = await post('/login', { email: `${unique('busy')}@example.com`, password: 'x' });
      expect(login.status).toBe(429);
      expect(login.raw).toContain('Too many requests — try again in 60 minutes.');
    } finally {
      Object.assign(limits, saved);
    }
  });
});

describe('adaptive captcha on the forgot form', () => {
  it('asks for it on a repeated request (428), says it needs JavaScript, and accepts a solved answer', async () => {
    const email = `${unique('captcha')}@example.com`;
    expect((await post('/forgot-password', { email })).status).toBe(303);
    const asked = await post('/forgot-password', { email });
    expect(asked.status).toBe(428);
    expect(asked.raw).toContain('Please confirm you are a person, then send the form again.');
    expect(asked.raw).toContain('This check needs JavaScript.');
    expect(asked.raw).toContain(`value="${email}"`);
    const attr = /data-challenge="([^"]+)"/.exec(asked.raw)?.[1];
    expect(attr).toBeDefined();
    const challenge = JSON.parse(attr!.replace(/&#(\d+);/g, (_, n: string) => String.fromCharCode(Number(n))));
    // Solve it the way the page script does (same library, Node's hash instead of WebCrypto).
    const [{ solveChallenge }, { deriveKey }] = await Promise.all([import('altcha-lib'), import('altcha-lib/algorithms/sha')]);
    const solution = await solveChallenge({ challenge, deriveKey });
    const answer = Buffer.from(JSON.stringify({ challenge, solution })).toString('base64');
    const ok = await post('/forgot-password', { email, captcha: answer });
    expect(ok.status).toBe(303);
    // An answer is good once.
    expect((await post('/forgot-password', { email, captcha: answer })).status).toBe(428);
  });
});

describe('/reset-password', () => {
  it('moves the token out of the URL into a short-lived strict cookie with a 200 + refresh, and changes nothing', async () => {
    const { slug } = await t.tenant();
    const email = `${unique('move')}@example.com`;
    await t.user(slug, email);
    const { token } = await resetMail(email);
    const first = await get(`/reset-password?token=${token}`);
    expect(first.status).toBe(200); // not a redirect: a Strict cookie would not ride along a cross-site 302
    expect(first.raw).toContain('<meta http-equiv="refresh" content="0;url=/reset-password">');
    expect(first.headers['referrer-policy']).toBe('no-referrer');
    expect(first.raw).not.toContain('name="referrer"');
    expect(first.raw).toMatch(/<a class="btn btn-primary" href="\/reset-password">Continue<\/a>/);
    expect(first.raw).not.toContain(token);
    const cookie = cookiesOf(first).find((c) => c.startsWith('keyturn_reset='))!;
    expect(cookie).toMatch(/HttpOnly/);
    expect(cookie).toMatch(/SameSite=Strict/);
    expect(cookie).toMatch(/Path=\/reset-password/);
    expect(cookie).toMatch(/Max-Age=1800/);
    // Opening the link twice and showing the page changes nothing: the token still works.
    await get(`/reset-password?token=${token}`);
    const page = await get('/reset-password', { cookie: cookieHeader(first) });
    expect(page.status).toBe(200);
    expect(page.headers['cache-control']).toBe('no-store');
    expect(page.raw).toContain(email);
    expect(page.raw).not.toContain(token);
    expect((await t.api('POST', '/api/v1/password/reset/inspect', { token })).status).toBe(200);
    // The token never reached a log line in the clear.
    expect(t.logs.join('\n')).not.toContain(token);
  });

  it('a full reset by form posts: mismatch and weak passwords are refused by the server, then success', async () => {
    const { slug } = await t.tenant();
    const email = `${unique('plain')}@example.com`;
    await t.user(slug, email);
    const { token } = await resetMail(email);
    const cookie = cookieHeader(await get(`/reset-password?token=${token}`));
    const mismatch = await post('/reset-password', { password: 'Juniper-Sky-472!', repeat: 'Juniper-Sky-427!' }, { cookie });
    expect(mismatch.status).toBe(422);
    expect(mismatch.raw).toContain('Passwords do not match');
    const weak = await post('/reset-password', { password: 'Password123!', repeat: 'Password123!' }, { cookie });
    expect(weak.status).toBe(422);
    expect(weak.raw).toContain('data-rule="not_common" data-ok="false"');
    const ok = await post('/reset-password', { password: 'Juniper-Sky-472!', repeat: 'Juniper-Sky-472!' }, { cookie });
    expect(ok.status).toBe(303);
    expect(ok.headers.location).toBe(`/reset-password/done?tenant=${slug}`);
    expect(cookiesOf(ok).join()).toMatch(/keyturn_reset=;/); // cleared
    const again = await post('/reset-password', { password: 'Juniper-Sky-472!', repeat: 'Juniper-Sky-472!' }, { cookie });
    expect(again.status).toBe(410);
    expect(again.raw).toContain('Password reset failed');
    expect(again.raw).toContain('This link was already used at');
    expect((await t.login(email, 'Juniper-Sky-472!')).status).toBe(200);
  });

  it('outcome pages answer with the status of the error', async () => {
    const invalid = await get('/reset-password', { cookie: `keyturn_reset=t.${'b'.repeat(43)}` });
    expect(invalid.status).toBe(404);
    expect(invalid.raw).toContain('This link is not valid');
    const none = await get('/reset-password');
    expect(none.raw).toContain('Open the link from your email');
  });

  it('the code form keeps the code in the cookie and pre-fills the address on an expired code', async () => {
    const { slug } = await t.tenant();
    const email = `${unique('code')}@example.com`;
    await t.user(slug, email);
    const { code } = await resetMail(email);
    const wrong = await post('/reset-password/code', { email, code: 'ZZZZ-ZZZZ' });
    expect(wrong.raw).toContain('This code is not right');
    const right = await post('/reset-password/code', { email, code: code.toLowerCase() });
    expect(right.status).toBe(303);
    expect(right.headers.location).toBe('/reset-password');
    const page = await get('/reset-password', { cookie: cookieHeader(right) });
    expect(page.raw).toContain('Choose a new password');
    t.clock.advance(2 * 3600_000);
    try {
      const expired = await post('/reset-password/code', { email, code });
      expect(expired.status).toBe(410);
      expect(expired.raw).toContain('This link has expired');
      expect(expired.raw).toContain(`value="${email}"`);
    } finally {
      t.clock.advance(-2 * 3600_000);
    }
  });
});

describe('/settings/password without JavaScript', () => {
  it('needs the CSRF token, refuses a wrong current password, then changes it', async () => {
    const { slug } = await t.tenant();
    const email = `${unique('set')}@example.com`;
    await t.user(slug, email);
    const s = await t.login(email);
    const fields = { currentPassword: STRONG, password: 'Cobalt-Ridge-355!', repeat: 'Cobalt-Ridge-355!' };
    const noCsrf = await post('/settings/password', fields, { cookie: s.cookie });
    expect(noCsrf.status).toBe(403);
    expect(noCsrf.raw).toContain('This form expired');
    const wrong = await post('/settings/password', { ...fields, currentPassword: 'Nope-Nope-123!', _csrf: s.csrf }, { cookie: s.cookie });
    expect(wrong.status).toBe(403);
    expect(wrong.raw).toContain('The current password is not right. Nothing was changed.');
    const ok = await post('/settings/password', { ...fields, _csrf: s.csrf }, { cookie: s.cookie });
    expect(ok.status).toBe(303);
    expect(ok.headers.location).toBe('/settings/password?status=updated');
    expect((await get('/settings/password?status=updated', { cookie: s.cookie })).raw).toContain('Password updated; other devices were signed out.');
    const signedOut = await get('/settings/password');
    expect(signedOut.status).toBe(303);
    expect(signedOut.headers.location).toBe('/login?next=%2Fsettings%2Fpassword');
  });
});

describe('/dev/mailbox and assets', () => {
  it('the dev mailbox does not exist when mail goes over SMTP', async () => {
    expect((await get('/dev/mailbox')).status).toBe(404);
  });

  it('serves the client bundle (policy module inside, zxcvbn in a lazy chunk), gzipped and revalidated', async () => {
    const res = await t.app.publicApp.inject({ method: 'GET', url: '/assets/app.js', headers: { 'accept-encoding': 'gzip' } });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(res.headers['cache-control']).toBe('no-cache');
    const js = res.headers['content-encoding'] === 'gzip' ? gunzipSync(res.rawPayload).toString() : res.body;
    expect(js).toContain('min_length');
    const chunk = /import\("\.\/(chunk-[A-Z0-9]+\.js)"\)/.exec(js)?.[1];
    expect(chunk).toBeDefined();
    const lazy = await t.app.publicApp.inject({ method: 'GET', url: `/assets/${chunk}` });
    expect(lazy.statusCode).toBe(200);
    expect(lazy.headers['cache-control']).toContain('immutable');
    const again = await t.app.publicApp.inject({ method: 'GET', url: '/assets/app.js', headers: { 'if-none-match': String(res.headers.etag) } });
    expect(again.statusCode).toBe(304);
    expect((await t.app.publicApp.inject({ method: 'GET', url: '/assets/app.css' })).statusCode).toBe(200);
    expect((await t.app.publicApp.inject({ method: 'GET', url: '/assets/nope.js' })).statusCode).toBe(404);
  });
});
