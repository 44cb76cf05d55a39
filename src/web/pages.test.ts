// Hosted pages at the HTTP level (no browser): plain form posts, headers, the token leaving the
// URL, the rate-limit message, escaping.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { rateLimited } from '../errors.ts';
import { esc } from '../platform/html.ts';
import { extractReset, startTestApp, STRONG, STRONG2, unique, type Res, type TestApp } from '../../test/helpers/app.ts';
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
      // Only the sealed "sent to" note for the next page, set alike for both (item 15 below).
      expect(cookiesOf(r).map((c) => c.replace(/=[^;]*/, '=…'))).toEqual(['keyturn_sent_to=…; Max-Age=600; Path=/forgot-password; HttpOnly; Secure; SameSite=Strict']);
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
      expect(de.raw).toContain('Zu viele Anfragen — versuchen Sie es in 60 Minuten noch einmal.');
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

describe('issue 11 (items 8, 10, 11): sign-in and password pages', () => {
  /** The "this wasn't me" token from the newest "password changed" notice to `email`. */
  async function lockLinkFor(email: string, since: number): Promise<string> {
    await t.drain();
    const notice = await t.mail.waitFor((m) => t.mail.messages.indexOf(m) >= since && m.subject === 'Your password was changed' && m.to.includes(email.toLowerCase()));
    const token = /account\/lock\?token=([A-Za-z0-9_-]+)/.exec(notice.text)?.[1];
    expect(token).toBeTruthy();
    return token!;
  }

  /** A member whose password was changed (STRONG → STRONG2) by the API, and the lock link of the notice. */
  async function changedAccount() {
    const { slug } = await t.tenant();
    const email = `${unique('lock')}@example.com`;
    await t.user(slug, email);
    const s = await t.login(email);
    const since = t.mail.messages.length;
    const change = await t.api('POST', '/api/v1/password/change', { currentPassword: STRONG, newPassword: STRONG2 }, { cookie: s.cookie, 'x-csrf-token': s.csrf, origin: ORIGIN });
    expect(change.status).toBe(200);
    return { slug, email, lockToken: await lockLinkFor(email, since) };
  }

  const ticketOf = (res: Res) => /name="ticket" value="([^"]+)"/.exec(res.raw)?.[1];

  it('item 8 (password in the chooser): the no-JavaScript chooser carries a single-use ticket, never the password; the ticket alone signs in', async () => {
    const a = await t.tenant();
    const b = await t.tenant();
    const email = `${unique('two')}@example.com`;
    await t.user(a.slug, email);
    await t.user(b.slug, email);

    const chooser = await post('/login', { email, password: STRONG, next: '/settings/password' });
    expect(chooser.status).toBe(200);
    expect(chooser.raw).toContain('Choose an account');
    expect(chooser.raw).not.toContain(STRONG);
    expect(chooser.raw).not.toContain(esc(STRONG));
    expect(chooser.raw).not.toContain('name="password"');
    expect(chooser.raw).toContain(`name="email" value="${email}"`);
    const ticket = ticketOf(chooser);
    expect(ticket).toBeTruthy();

    // Choosing a tenant signs in with the ticket alone (no password in the form).
    const chosen = await post('/login', { email, ticket: ticket!, tenant: b.slug, next: '/settings/password' });
    expect(chosen.status).toBe(303);
    expect(chosen.headers.location).toBe('/settings/password');
    expect((await get('/account', { cookie: cookieHeader(chosen) })).raw).toContain(`Signed in as ${email} at ${b.slug.toUpperCase()}.`);

    // Single use: the same ticket again goes back to the login page with "choice expired".
    const again = await post('/login', { email, ticket: ticket!, tenant: a.slug });
    expect(again.status).toBe(401);
    expect(again.raw).toContain('The choice took too long and expired');
    expect(again.raw).toContain('name="password"');
    expect(cookiesOf(again).join()).not.toMatch(/keyturn_session=[^;]/);

    // Only for the address it was issued for.
    const other = ticketOf(await post('/login', { email, password: STRONG }));
    expect((await post('/login', { email: `${unique('else')}@example.com`, ticket: other!, tenant: a.slug })).status).toBe(401);

    // Expired after a few minutes.
    const late = ticketOf(await post('/login', { email, password: STRONG }));
    t.clock.advance(6 * 60_000);
    try {
      const expired = await post('/login', { email, ticket: late!, tenant: a.slug });
      expect(expired.status).toBe(401);
      expect(expired.raw).toContain('The choice took too long and expired');
    } finally {
      t.clock.advance(-6 * 60_000);
    }

    // The JSON API is unchanged: a ticket without the password is not enough there.
    const api = await t.api('POST', '/api/v1/login', { email, password: STRONG });
    expect(api.status).toBe(300);
    expect((await t.api('POST', '/api/v1/login', { email, tenant: a.slug, ticket: api.body.ticket })).status).toBe(400);
    expect((await t.api('POST', '/api/v1/login', { email, password: STRONG, tenant: a.slug, ticket: api.body.ticket })).status).toBe(200);
  });

  it('item 10 (history rule): a reused password fails the history rule in the checklist, with its own message, in English and German', async () => {
    const { slug } = await t.tenant();
    const email = `${unique('reuse')}@example.com`;
    await t.user(slug, email);
    const { token } = await resetMail(email);
    const cookie = cookieHeader(await get(`/reset-password?token=${token}`));
    const form = await get('/reset-password', { cookie });
    expect(form.raw).toContain('data-rule="not_reused" data-ok="unknown"');
    expect(form.raw).toContain('Not one of your last 5 passwords');

    const reused = await post('/reset-password', { password: STRONG, repeat: STRONG }, { cookie });
    expect(reused.status).toBe(422);
    expect(reused.raw).toContain('data-rule="not_reused" data-ok="false"');
    expect(reused.raw).toContain('You used this password recently');
    expect(reused.raw).not.toContain('does not meet every rule yet');
    const de = await post('/reset-password', { password: STRONG, repeat: STRONG }, { cookie, 'accept-language': 'de' });
    expect(de.raw).toContain('Nicht eines Ihrer letzten 5 Passwörter');
    expect(de.raw).toContain('Sie haben dieses Passwort vor Kurzem verwendet');

    const s = await t.login(email);
    const change = await post('/settings/password', { currentPassword: STRONG, password: STRONG, repeat: STRONG, _csrf: s.csrf }, { cookie: s.cookie });
    expect(change.status).toBe(422);
    expect(change.raw).toContain('data-rule="not_reused" data-ok="false"');
    expect(change.raw).toContain('You used this password recently');

    // A tenant with history 1 says "your current password"; with history 0 the rule is not listed.
    const { slug: one } = await t.tenant(unique('one'), { passwordPolicy: { history: 1 } });
    const { slug: off } = await t.tenant(unique('off'), { passwordPolicy: { history: 0 } });
    for (const [tenantSlug, expected] of [[one, 'Not your current password'], [off, null]] as const) {
      const address = `${unique('depth')}@example.com`;
      await t.user(tenantSlug, address);
      const session = await t.login(address);
      const page = await get('/settings/password', { cookie: session.cookie });
      if (expected) expect(page.raw).toContain(expected);
      else expect(page.raw).not.toContain('data-rule="not_reused"');
    }
  });

  it('item 11 (locked account): the right password on a locked account says it is locked and what to do, on both login pages, in English and German', async () => {
    const { slug, email, lockToken } = await changedAccount();
    expect((await post('/account/lock', { token: lockToken })).status).toBe(200);
    for (const url of ['/login', `/t/${slug}/login`]) {
      const res = await post(url, { email, password: STRONG2 });
      expect(res.status, url).toBe(403);
      expect(res.raw, url).toContain('This account is locked');
      expect(res.raw, url).toContain('everybody was signed out');
      expect(res.raw, url).toContain('administrator');
      expect(res.raw, url).not.toContain('The email address or password is not right.');
    }
    const de = await post('/login', { email, password: STRONG2 }, { 'accept-language': 'de' });
    expect(de.raw).toContain('Dieses Konto ist gesperrt');
    // Without the right password nothing is learnt: the usual answer.
    const wrong = await post('/login', { email, password: 'Wrong-Password-1!' });
    expect(wrong.status).toBe(401);
    expect(wrong.raw).toContain('The email address or password is not right.');
  });

  it('item 11 (lock page): the "this wasn\'t me" page uses the layout and the reader\'s language; GET changes nothing, POST locks, a dead link is 410', async () => {
    const { email, lockToken } = await changedAccount();
    const en = await get(`/account/lock?token=${lockToken}`);
    expect(en.status).toBe(200);
    expect(en.headers['cache-control']).toBe('no-store');
    expect(en.raw).toContain('<html lang="en">');
    expect(en.raw).toContain('href="/assets/app.css"');
    expect(en.raw).toContain('Lock your account?');
    expect(en.raw.match(/<button/g)).toHaveLength(1);
    expect(en.raw).toContain('>Lock my account</button>');
    const de = await get(`/account/lock?token=${lockToken}`, { 'accept-language': 'de' });
    expect(de.raw).toContain('<html lang="de">');
    expect(de.raw).toContain('>Konto sperren</button>');
    // Opening the page (twice) changed nothing.
    expect((await t.login(email, STRONG2)).status).toBe(200);

    const locked = await post('/account/lock', { token: lockToken }, { 'accept-language': 'de' });
    expect(locked.status).toBe(200);
    expect(locked.raw).toContain('Ihr Konto ist gesperrt');
    expect((await t.login(email, STRONG2)).status).not.toBe(200);
    const dead = await post('/account/lock', { token: lockToken });
    expect(dead.status).toBe(410);
    expect(dead.raw).toContain('This link no longer works');
    expect(dead.raw).toContain('<html lang="en">');
    expect((await post('/account/lock', { token: lockToken }, { 'accept-language': 'de' })).raw).toContain('Dieser Link funktioniert nicht mehr');
  });
});

describe('issue 11 item 15: rough edges a new user found', () => {
  it('item 15: the check-your-email page names the address typed, the same way for known and unknown addresses, never in the URL', async () => {
    const { slug } = await t.tenant();
    const known = `${unique('Known.Person')}@example.com`;
    await t.user(slug, known);
    const unknown = `${unique('nobody')}@example.com`;
    const sentFor = async (path: string, email: string) => {
      const res = await post(path, { email: `  ${email} ` });
      expect(res.status).toBe(303);
      expect(String(res.headers.location)).toBe(`${path}/sent`); // nothing about the address in the URL
      const cookie = cookiesOf(res).find((c) => c.startsWith('keyturn_sent_to='))!;
      expect(cookie).toMatch(new RegExp(`; Max-Age=600; Path=${path}; HttpOnly; Secure; SameSite=Strict$`));
      expect(decodeURIComponent(cookie)).not.toContain(email.split('@')[0]); // sealed, not readable
      return (await get(`${path}/sent`, { cookie: cookie.split(';')[0]! })).raw;
    };
    const forKnown = await sentFor('/forgot-password', known);
    const forUnknown = await sentFor('/forgot-password', unknown);
    expect(forKnown).toContain(`If an account uses <strong class="sent-to">${known}</strong>, an email with a reset link and a code is on its way there.`);
    expect(forUnknown).toContain(`<strong class="sent-to">${unknown}</strong>`);
    // The same page, word for word, but for the address.
    expect(forKnown.replace(known, 'ADDRESS')).toBe(forUnknown.replace(unknown, 'ADDRESS'));
    const other = `${unique('Tenant.Person')}@example.com`; // a second request for one address would ask for the captcha
    await t.user(slug, other);
    const tenantPage = await sentFor(`/t/${slug}/forgot-password`, other);
    expect(tenantPage).toContain(`<strong class="sent-to">${other}</strong>`);
    const de = await get('/forgot-password/sent', { cookie: cookiesOf(await post('/forgot-password', { email: unknown.replace('nobody', 'niemand') }))[0]!.split(';')[0]!, 'accept-language': 'de' });
    expect(de.raw).toContain(`Wenn ein Konto die Adresse <strong class="sent-to">${unknown.replace('nobody', 'niemand')}</strong> verwendet`);
    // Without the note, or with a forged one, the page still works and names no address.
    for (const cookie of [undefined, 'keyturn_sent_to=bm9ib2R5QGV4YW1wbGUuY29t']) {
      const plain = await get('/forgot-password/sent', cookie ? { cookie } : {});
      expect(plain.status).toBe(200);
      expect(plain.raw).toContain('If an account uses this address');
      expect(plain.raw).not.toContain('sent-to');
    }
    await t.drain();
  });

  it('item 15: after a password change the form does not stay on the page: a confirmation without fields', async () => {
    const { slug } = await t.tenant();
    const email = `${unique('changed')}@example.com`;
    await t.user(slug, email);
    const s = await t.login(email);
    const ok = await post('/settings/password', { currentPassword: STRONG, password: 'Cobalt-Ridge-355!', repeat: 'Cobalt-Ridge-355!', _csrf: s.csrf }, { cookie: s.cookie });
    expect(ok.status).toBe(303);
    const done = await get(String(ok.headers.location), { cookie: s.cookie });
    expect(done.status).toBe(200);
    expect(done.raw).toContain('<h1>Your password was changed</h1>');
    expect(done.raw).toContain('Password updated; other devices were signed out.');
    expect(done.raw).not.toContain('action="/settings/password"');
    expect(done.raw).not.toMatch(/<input[^>]+type="password"/);
    expect(done.raw).toContain('href="/account"');
    // The form itself is still there for the next change.
    expect((await get('/settings/password', { cookie: s.cookie })).raw).toContain('name="currentPassword"');
  });

  it('item 15: after sign-out from a tenant session the tenant context is kept (its sign-in page, "You are signed out")', async () => {
    const { slug } = await t.tenant();
    const email = `${unique('leave')}@example.com`;
    await t.user(slug, email);
    const s = await t.login(email);
    const out = await post('/logout', { _csrf: s.csrf }, { cookie: s.cookie });
    expect(out.status).toBe(303);
    expect(out.headers.location).toBe(`/t/${slug}/login?signed-out=1`);
    const landing = await get(String(out.headers.location));
    expect(landing.raw).toContain(`Sign in to ${slug.toUpperCase()}`);
    expect(landing.raw).toContain('You are signed out.');
    // Without a session (already ended) there is no tenant to go back to.
    expect((await post('/logout', {})).headers.location).toBe('/login?signed-out=1');
  });

  it('item 15: the 7-day reset-link lifetime reads "7 days", not "168 hours", in English and German', async () => {
    const { slug } = await t.tenant();
    const admin = `${unique('boss')}@example.com`;
    await t.user(slug, admin, { role: 'admin' });
    const member = await t.user(slug, `${unique('staff')}@example.com`);
    const s = await t.login(admin);
    const en = await get(`/admin/users/${member.id}/reset`, { cookie: s.cookie });
    expect(en.status).toBe(200);
    expect(en.raw).toContain('<option value="7d">7 days</option>');
    expect(en.raw).toContain('<option value="24h">24 hours</option>');
    expect(en.raw).not.toContain('168');
    const de = await get(`/admin/users/${member.id}/reset`, { cookie: s.cookie, 'accept-language': 'de' });
    expect(de.raw).toContain('<option value="7d">7 Tage</option>');
    expect(de.raw).not.toContain('168');
  });

  it('item 15: German uses the formal "Sie" everywhere, never "du", "dich", "dir" or "dein…"', async () => {
    const { de } = await import('./i18n/de.ts');
    const informal = /(?<!\p{L})(du|dich|dir|dein\p{L}*)(?!\p{L})/iu;
    const texts: string[] = [];
    const samples: unknown[][] = [['a@example.com', 'ACME', 'X'], [2], [{ count: 5, per: '1 Stunde' }], [null]];
    const walk = (value: unknown, key: string): void => {
      if (typeof value === 'string') texts.push(`${key}: ${value}`);
      else if (typeof value === 'function') {
        for (const args of samples) {
          try {
            texts.push(`${key}: ${String((value as (...a: unknown[]) => unknown)(...args))}`);
          } catch { /* a sample that does not fit this function */ }
        }
      } else if (value && typeof value === 'object') for (const [k, v] of Object.entries(value)) walk(v, `${key}.${k}`);
    };
    walk(de, 'de');
    expect(texts.length).toBeGreaterThan(250);
    expect(texts.filter((x) => informal.test(x))).toEqual([]);
    // And as the pages render it.
    const { slug } = await t.tenant();
    for (const url of ['/login', `/t/${slug}/login`, '/forgot-password', '/forgot-password/sent', '/reset-password', '/reset-password/code', '/reset-password/done']) {
      const res = await get(url, { 'accept-language': 'de' });
      const words = res.raw.replace(/<[^>]*>/g, ' ');
      expect(words.match(informal), url).toBeNull();
    }
    expect((await get('/forgot-password', { 'accept-language': 'de' })).raw).toContain('Geben Sie die E-Mail-Adresse ein, mit der Sie sich anmelden.');
  });

  it('item 15: /favicon.ico is served (no page causes a 404) and every page links it', async () => {
    const icon = await t.app.publicApp.inject({ method: 'GET', url: '/favicon.ico' });
    expect(icon.statusCode).toBe(200);
    expect(icon.headers['content-type']).toBe('image/x-icon');
    const bytes = icon.rawPayload;
    expect([...bytes.subarray(0, 6)]).toEqual([0, 0, 1, 0, 2, 0]); // an icon file holding two images
    expect(bytes.readUInt32LE(6 + 8) + bytes.readUInt32LE(6 + 16 + 8) + 6 + 32).toBe(bytes.length);
    const { slug } = await t.tenant();
    for (const url of ['/login', `/t/${slug}/login`, '/forgot-password', '/reset-password/code', '/t/no-such-tenant/login']) {
      expect((await get(url)).raw, url).toContain('<link rel="icon" href="/favicon.ico"');
    }
  });

  it('item 15: HTML is compressed (gzip or brotli) when the client accepts it, with every security header kept', async () => {
    const { slug } = await t.tenant();
    for (const url of ['/login', `/t/${slug}/forgot-password`, '/reset-password/code']) {
      const plain = await t.app.publicApp.inject({ method: 'GET', url });
      expect(plain.headers['content-encoding'], url).toBeUndefined();
      expect(String(plain.headers.vary), url).toContain('Accept-Encoding');
      const gz = await t.app.publicApp.inject({ method: 'GET', url, headers: { 'accept-encoding': 'gzip, deflate' } });
      expect(gz.statusCode, url).toBe(200);
      expect(gz.headers['content-encoding'], url).toBe('gzip');
      expect(String(gz.headers.vary), url).toBe('Accept-Language, Cookie, Accept-Encoding');
      expect(gunzipSync(gz.rawPayload).toString('utf8'), url).toBe(plain.body);
      expect(Number(gz.headers['content-length']), url).toBe(gz.rawPayload.length);
      expect(gz.rawPayload.length, url).toBeLessThan(plain.rawPayload.length * 0.75);
      const br = await t.app.publicApp.inject({ method: 'GET', url, headers: { 'accept-encoding': 'gzip, deflate, br' } });
      expect(br.headers['content-encoding'], url).toBe('br');
      expect(brotliDecompressSync(br.rawPayload).toString('utf8'), url).toBe(plain.body);
      for (const res of [gz, br]) {
        for (const header of ['content-security-policy', 'referrer-policy', 'x-content-type-options', 'x-frame-options', 'strict-transport-security', 'cross-origin-opener-policy']) {
          expect(res.headers[header], `${url} ${header}`).toBe(plain.headers[header]);
        }
        expect(res.headers['cache-control'], url).toBe('no-store');
        expect(res.headers['content-type'], url).toBe('text/html; charset=utf-8');
      }
    }
    // A refused encoding is not used; a small body (under 1 KiB) goes as it is.
    expect((await t.app.publicApp.inject({ method: 'GET', url: '/login', headers: { 'accept-encoding': 'gzip;q=0, br;q=0' } })).headers['content-encoding']).toBeUndefined();
    const css = await t.app.publicApp.inject({ method: 'GET', url: '/assets/app.css', headers: { 'accept-encoding': 'gzip' } });
    expect(css.headers['content-encoding']).toBe('gzip');
    expect(css.headers.vary).toBe('Accept-Encoding');
  });
});

describe('the admin console checks its admin once, at its door', () => {
  it('a signed-out form post signs in and comes back to the page of its form; a member is refused before the CSRF check', async () => {
    const { slug } = await t.tenant();
    const member = await t.user(slug, `${unique('m')}@example.com`, { password: STRONG });
    const id = '00000000-0000-4000-8000-000000000000';
    for (const [url, back] of [
      ['/admin/users', '/admin/users/new'],
      [`/admin/users/${id}`, `/admin/users/${id}`],
      [`/admin/users/${id}/disable`, `/admin/users/${id}`],
      [`/admin/users/${id}/reset`, `/admin/users/${id}`],
      [`/admin/users/${id}/identities/x/unlink`, `/admin/users/${id}`],
    ] as const) {
      const res = await post(url, { _csrf: 'x' });
      expect(res.status, url).toBe(303);
      expect(res.headers.location, url).toBe(`/login?next=${encodeURIComponent(back)}`);
    }
    const audit = await get('/admin/audit?type=user_created');
    expect(audit.status).toBe(303);
    expect(audit.headers.location).toBe(`/login?next=${encodeURIComponent('/admin/audit?type=user_created')}`);
    const s = await t.login(member.email);
    const refused = await post(`/admin/users/${id}/disable`, {}, { cookie: s.cookie });
    expect(refused.status).toBe(403);
    expect(refused.raw).toContain('Administrators only');
  });
});
