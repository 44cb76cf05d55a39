// /settings/security at the HTTP level (no browser): plain form posts as a browser without
// JavaScript sends them. The key of an authenticator app is on the page that sets it up and on no
// other; recovery codes are shown once; every change asks for the password; the tenant's rule
// keeps the last factor.
import { Secret, TOTP } from 'otpauth';
import { describe, expect, it } from 'vitest';
import { STRONG, useTestApp, type Res, type Session } from '../helpers/app.ts';
import { account } from '../helpers/fixtures.ts';
import { cookieHeader, postForm } from '../helpers/http.ts';

const t = useTestApp();

const page = (s: Session, url: string, headers: Record<string, string> = {}) => t.api('GET', url, undefined, { cookie: s.cookie, ...headers });
const post = (s: Session, url: string, fields: Record<string, string>, cookie = '') =>
  postForm(t, url, { _csrf: s.csrf, ...fields }, { cookie: [s.cookie, cookie].filter(Boolean).join('; ') });

/** One form value of a page, by the input's name. */
const valueOf = (res: Res, name: string) => new RegExp(`<input[^>]* name="${name}"[^>]* value="([^"]*)"`).exec(res.raw)?.[1];
const secretOf = (res: Res) => /<code class="mfa-secret" id="totp-secret">([A-Z2-7 ]+)<\/code>/.exec(res.raw)?.[1]?.replace(/ /g, '');
const codeNow = (secret: string, offsetSteps = 0) =>
  new TOTP({ secret: Secret.fromBase32(secret) }).generate({ timestamp: t.clock.now().getTime() + offsetSteps * 30_000 });
const codesOf = (res: Res) => [...(/<ul class="mfa-codes" id="recovery-codes">(.*?)<\/ul>/s.exec(res.raw)?.[1] ?? '').matchAll(/<code>([^<]+)<\/code>/g)].map((x) => x[1]!);

/** Signs in and adds an authenticator app through the pages; what each step answered. */
async function enrolTotp(opts: { slug?: string; label?: string } = {}) {
  const { email, slug } = await account(t, opts.slug ? { slug: opts.slug } : {});
  const s = await t.login(email);
  const setup = await post(s, '/settings/security/totp', { currentPassword: STRONG });
  expect(setup.status, setup.raw).toBe(200);
  const secret = secretOf(setup)!;
  const id = valueOf(setup, 'id')!;
  const confirmed = await post(s, '/settings/security/totp/confirm', { id, code: codeNow(secret), label: opts.label ?? '' });
  return { email, slug, s, setup, secret, id, confirmed };
}

describe('/settings/security', () => {
  it('sends a browser without a session to sign in, and back here afterwards', async () => {
    const res = await t.api('GET', '/settings/security');
    expect(res.status).toBe(303);
    expect(res.headers.location).toBe('/login?next=%2Fsettings%2Fsecurity');
  });

  it('an authenticator app: its key is on the setup page only — never in a URL, the list, or the page after', async () => {
    const { s, setup, secret, id, confirmed } = await enrolTotp({ label: 'Work phone' });
    // The setup page: the QR code as an inline SVG image, the key grouped in fours, the factor id.
    expect(secret).toMatch(/^[A-Z2-7]{32}$/);
    expect(setup.raw).toMatch(/<img class="mfa-qr" src="data:image\/svg\+xml;base64,[A-Za-z0-9+/=]+" alt="QR code"/);
    expect(setup.headers['cache-control']).toBe('no-store');
    expect(id).toMatch(/^[0-9a-f-]{36}$/);

    // The first factor: on to the recovery codes, which wait in a sealed cookie, never in the URL.
    expect(confirmed.status).toBe(303);
    expect(confirmed.headers.location).toBe('/settings/security/recovery-codes');
    const held = cookieHeader(confirmed);
    expect(held).toMatch(/^keyturn_recovery_codes=/);
    expect(String(confirmed.headers['set-cookie'])).toMatch(/HttpOnly/i);
    expect(String(confirmed.headers['set-cookie'])).toMatch(/SameSite=Strict/i);
    expect(String(confirmed.headers['set-cookie'])).toMatch(/Path=\/settings\/security/);

    const shown = await page(s, '/settings/security/recovery-codes', { cookie: `${s.cookie}; ${held}` });
    expect(shown.status).toBe(200);
    const codes = codesOf(shown);
    expect(codes).toHaveLength(10);
    for (const c of codes) expect(c).toMatch(/^[a-z2-9]{5}-[a-z2-9]{5}$/);
    expect(shown.raw).toContain('download="recovery-codes.txt"');
    expect(decodeURIComponent(/href="data:text\/plain;charset=utf-8,([^"]+)"/.exec(shown.raw)![1]!)).toContain(codes.join('\n'));
    // Read once: the answer clears the cookie.
    expect(String(shown.headers['set-cookie'])).toMatch(/keyturn_recovery_codes=;/);
    expect(shown.raw).not.toContain(secret);

    const list = await page(s, '/settings/security');
    expect(list.status).toBe(200);
    expect(list.raw).toContain('Work phone');
    expect(list.raw).toContain('Authenticator app');
    expect(list.raw).toContain('10 of 10 recovery codes left');
    const grouped = secret.replace(/(.{4})/g, '$1 ').trim();
    for (const html of [list.raw, (await page(s, `/settings/security/remove/${id}`)).raw]) {
      expect(html).not.toContain(secret);
      expect(html).not.toContain(grouped);
      expect(html).not.toContain('otpauth://');
      expect(html).not.toContain('data:image/svg+xml');
      expect(html).not.toContain('totp-secret');
      for (const c of codes) expect(html).not.toContain(c);
    }
    // The id of the set-up factor cannot show its key again once it is confirmed.
    const replay = await post(s, '/settings/security/totp/confirm', { id, code: '000000' });
    expect(replay.status).toBe(409);
    expect(replay.raw).not.toContain(secret);
    expect(replay.raw).toContain('took too long');
    // No secret went into a log line either.
    expect(t.logs.join('\n')).not.toContain(secret);
  });

  it('a mistyped code shows the same QR code and key again; an empty one asks for the code', async () => {
    const { email } = await account(t);
    const s = await t.login(email);
    const setup = await post(s, '/settings/security/totp', { currentPassword: STRONG });
    const secret = secretOf(setup)!;
    const id = valueOf(setup, 'id')!;
    const empty = await post(s, '/settings/security/totp/confirm', { id, code: '', label: 'Phone' });
    expect(empty.status).toBe(422);
    expect(empty.raw).toContain('Enter the six-digit code the app shows.');
    const wrongCode = String((Number(codeNow(secret)) + 500_000) % 1_000_000).padStart(6, '0');
    const wrong = await post(s, '/settings/security/totp/confirm', { id, code: wrongCode, label: 'Phone' });
    expect(wrong.status).toBe(401);
    expect(wrong.raw).toContain('That code is not right.');
    expect(secretOf(wrong)).toBe(secret);
    expect(valueOf(wrong, 'id')).toBe(id);
    expect(valueOf(wrong, 'label')).toBe('Phone'); // what was typed stays
    const right = await post(s, '/settings/security/totp/confirm', { id, code: codeNow(secret), label: 'Phone' });
    expect(right.status).toBe(303);
  });

  it('every change asks for the password: a wrong or missing one changes nothing', async () => {
    const { email } = await account(t);
    const s = await t.login(email);
    for (const currentPassword of ['', 'Wrong-Password-1!']) {
      const res = await post(s, '/settings/security/totp', { currentPassword });
      expect(res.status).toBe(403);
      expect(res.raw).toContain('The current password is not right.');
      expect(res.raw).not.toContain('totp-secret');
    }
    const status = await t.api('GET', '/api/v1/mfa', undefined, { cookie: s.cookie });
    expect(status.body.factors).toEqual([]);
  });

  it('a form without the session\'s CSRF token is refused with the page, not acted on', async () => {
    const { email } = await account(t);
    const s = await t.login(email);
    const res = await postForm(t, '/settings/security/totp', { _csrf: 'forged', currentPassword: STRONG }, { cookie: s.cookie });
    expect(res.status).toBe(403);
    expect(res.raw).toContain('This form expired.');
    expect(res.raw).not.toContain('totp-secret');
  });

  it('removing a factor takes the password; the last one stays while the tenant requires one', async () => {
    const { s, slug, id } = await enrolTotp();
    const wrong = await post(s, `/settings/security/remove/${id}`, { currentPassword: 'Wrong-Password-1!' });
    expect(wrong.status).toBe(403);
    expect(wrong.raw).toContain('The current password is not right.');

    await t.op('PATCH', `/admin/v1/tenants/${slug}`, { mfa: 'everyone' });
    expect((await page(s, '/settings/security')).raw).toContain('Your organisation requires two-step verification for your account.');
    const kept = await post(s, `/settings/security/remove/${id}`, { currentPassword: STRONG });
    expect(kept.status).toBe(409);
    expect(kept.raw).toContain('your last second factor cannot be removed');

    await t.op('PATCH', `/admin/v1/tenants/${slug}`, { mfa: 'optional' });
    const removed = await post(s, `/settings/security/remove/${id}`, { currentPassword: STRONG });
    expect(removed.status).toBe(303);
    expect(removed.headers.location).toBe('/settings/security?done=removed');
    const after = await page(s, '/settings/security?done=removed');
    expect(after.raw).toContain('The second factor was removed.');
    expect(after.raw).toContain('You have not added a second factor yet');
    // Gone: its remove page is a 404 page, as is an id that is not one.
    expect((await page(s, `/settings/security/remove/${id}`)).status).toBe(404);
    expect((await page(s, '/settings/security/remove/not-a-uuid')).status).toBe(404);
  });

  it('new recovery codes: shown once, the old set stops working', async () => {
    const { s, email, secret } = await enrolTotp();
    const made = await post(s, '/settings/security/recovery-codes', { currentPassword: STRONG });
    expect(made.status).toBe(303);
    const held = cookieHeader(made);
    const shown = await page(s, '/settings/security/recovery-codes', { cookie: `${s.cookie}; ${held}` });
    expect(shown.raw).toContain('New recovery codes made; the old ones no longer work.');
    const codes = codesOf(shown);
    expect(codes).toHaveLength(10);
    // Shown once: without the cookie (the browser dropped it) the page sends back to the overview.
    const again = await page(s, '/settings/security/recovery-codes');
    expect(again.status).toBe(303);
    expect(again.headers.location).toBe('/settings/security');
    // Another account's browser cannot open these codes with its own session.
    const other = await t.login((await account(t)).email);
    const stolen = await t.api('GET', '/settings/security/recovery-codes', undefined, { cookie: `${other.cookie}; ${held}` });
    expect(stolen.status).toBe(303);
    // The new set signs in.
    const login = await t.api('POST', '/api/v1/login', { email, password: STRONG });
    expect(login.body.error).toBe('mfa_required');
    const rc = await t.api('POST', '/api/v1/login/mfa', { ticket: login.body.ticket, method: 'recovery_code', code: codes[0] });
    expect(rc.status).toBe(200);
    expect(secret).toBeTruthy();
  });

  it('a security key needs the script: the form says so, and a post without the browser\'s answer adds nothing', async () => {
    const { email } = await account(t);
    const s = await t.login(email);
    const html = (await page(s, '/settings/security')).raw;
    expect(html).toMatch(/<button class="btn btn-secondary" type="submit" disabled data-key-submit>/);
    expect(html).toContain('Adding a security key needs JavaScript');
    const none = await post(s, '/settings/security/key', { response: '', label: 'Key' });
    expect(none.status).toBe(400);
    expect(none.raw).toContain('Adding a security key needs JavaScript');
    const forged = await post(s, '/settings/security/key', { response: JSON.stringify({ id: 'abc', type: 'public-key', response: {} }), label: 'Key' });
    expect(forged.status).toBe(401);
    expect(forged.raw).toContain('The security key was not accepted.');
    expect((await t.api('GET', '/api/v1/mfa', undefined, { cookie: s.cookie })).body.factors).toEqual([]);
  });

  it('speaks German', async () => {
    const { email } = await account(t);
    const s = await t.login(email);
    const de = await page(s, '/settings/security', { 'accept-language': 'de' });
    expect(de.raw).toContain('<h1>Zwei-Schritt-Bestätigung</h1>');
    expect(de.raw).toContain('Authenticator-App hinzufügen');
  });
});
