// The second step's hosted pages at the HTTP level (plain form posts, no browser): /login/verify,
// /login/enroll and the reset page's factor step. The ticket stays in its sealed cookie, never in
// a page; every refusal is the form again (or sign-in, once the ticket is gone).
import { describe, expect, it } from 'vitest';
import { STRONG, STRONG2, useTestApp, type Res } from '../helpers/app.ts';
import { insertFactor } from '../../src/features/mfa/store.ts';
import { account, oneAddressTwoTenants } from '../helpers/fixtures.ts';
import { cookieHeader, cookiesOf, postForm } from '../helpers/http.ts';
import { codeAt, enrolTotp, midStep, nextStep, totpAccount, whoAmI, wrongCode } from './helpers.ts';

const t = useTestApp();

const HELD = 'keyturn_second_step';
const get = (url: string, cookie = '', headers: Record<string, string> = {}) => t.api('GET', url, undefined, { cookie, ...headers });
const heldOf = (res: Res) => cookiesOf(res).find((c) => c.startsWith(`${HELD}=`)) ?? '';
/** The set-cookie line that ends the held step. */
const clearsHeld = (res: Res) => ([] as string[]).concat(res.headers['set-cookie'] ?? []).some((c) => c.startsWith(`${HELD}=;`));

/** Signs in on the tenant's page with the password; the answer and the held-step cookie. */
async function passwordStep(slug: string, email: string, next?: string) {
  const res = await postForm(t, `/t/${slug}/login${next ? `?next=${encodeURIComponent(next)}` : ''}`, { email, password: STRONG });
  expect(res.status, res.raw).toBe(303);
  return { res, held: heldOf(res) };
}

describe('/login/verify', () => {
  it('asks for the code without showing the ticket, counts wrong codes, then signs in with otp in amr', async () => {
    const { slug, email, totp } = await totpAccount(t, { prefix: 'verify' });
    const { res, held } = await passwordStep(slug, email, '/settings/password');
    expect(res.headers.location).toBe('https://keyturn.test/login/verify');
    expect(held).not.toBe('');

    const page = await get('/login/verify', held);
    expect(page.status).toBe(200);
    expect(page.raw).toContain('Two-step verification');
    expect(page.raw).toMatch(/<input id="code" name="code" type="text" autocomplete="one-time-code"/);
    expect(page.raw).toContain('Code from your authenticator app or a recovery code');
    expect(page.raw).not.toContain('use-security-key'); // no key on this account
    expect(page.raw).toContain(email);
    expect(page.raw).not.toContain(held.split('=')[1]);

    midStep(t);
    const wrong = await postForm(t, '/login/verify', { code: wrongCode(t, totp.secret) }, { cookie: held });
    expect(wrong.status).toBe(401);
    expect(wrong.raw).toContain('That code was not accepted');
    expect(wrong.raw).toContain('4 attempts left.');
    const empty = await postForm(t, '/login/verify', { code: '' }, { cookie: held });
    expect(empty.status).toBe(422);
    expect(empty.raw).toContain('Enter the code from your authenticator app or a recovery code.');

    const right = await postForm(t, '/login/verify', { code: codeAt(t, totp.secret) }, { cookie: held });
    expect(right.status, right.raw).toBe(303);
    expect(right.headers.location).toBe('/settings/password');
    expect(clearsHeld(right)).toBe(true);
    const session = cookiesOf(right).find((c) => c.startsWith('keyturn_session='))!;
    expect((await whoAmI(t, { cookie: session })).body.amr).toEqual(['pwd', 'otp']);
    nextStep(t);

    // The step is spent: the page sends the browser back to sign-in (which tenant's, a dead ticket no longer says), which says why.
    const after = await get('/login/verify', held);
    expect(after.status).toBe(303);
    expect(after.headers.location).toBe('/login?second-step=again&next=%2Fsettings%2Fpassword');
    expect(clearsHeld(after)).toBe(true);
    const login = await get(after.headers.location as string);
    expect(login.raw).toContain('Your sign-in took too long or was interrupted. Please sign in again.');
  });

  it('takes a recovery code in the same field, in any case and without the dash', async () => {
    const { slug, email, totp } = await totpAccount(t, { prefix: 'rcpage' });
    const { held } = await passwordStep(slug, email);
    const code = totp.recoveryCodes[0]!.replace('-', '').toUpperCase();
    const res = await postForm(t, '/login/verify', { code }, { cookie: held });
    expect(res.status, res.raw).toBe(303);
    expect(res.headers.location).toBe('/account');
    const session = cookiesOf(res).find((c) => c.startsWith('keyturn_session='))!;
    expect((await whoAmI(t, { cookie: session })).body.amr).toEqual(['pwd', 'otp']);
  });

  it('without the held step, or with a forged one, goes back to sign-in', async () => {
    const none = await get('/login/verify');
    expect(none.status).toBe(303);
    expect(none.headers.location).toBe('/login?second-step=again');
    const forged = await postForm(t, '/login/verify', { code: '123456' }, { cookie: `${HELD}=not-sealed` });
    expect(forged.status).toBe(303);
    expect(forged.headers.location).toBe('/login?second-step=again');
  });

  it('is bound to the browser that proved the password: the held cookie of one sign-in does not open another\'s ticket', async () => {
    const { slug, email, totp } = await totpAccount(t, { prefix: 'bound' });
    const { held } = await passwordStep(slug, email);
    // A second sign-in of the same account in another browser: its own ticket and binding.
    const other = await passwordStep(slug, email);
    expect(other.held).not.toBe(held);
    midStep(t);
    const res = await postForm(t, '/login/verify', { code: codeAt(t, totp.secret) }, { cookie: other.held });
    expect(res.status).toBe(303);
    expect(res.headers.location).toBe('/account');
    nextStep(t);
    expect((await get('/login/verify', held)).status).toBe(200); // the first is still waiting for its own answer
  });

  it('after five wrong codes the ticket is dead and sign-in says so', async () => {
    const { slug, email, totp } = await totpAccount(t, { prefix: 'worn' });
    const { held } = await passwordStep(slug, email);
    midStep(t);
    let last: Res | undefined;
    for (let i = 0; i < 5; i++) last = await postForm(t, '/login/verify', { code: wrongCode(t, totp.secret) }, { cookie: held });
    expect(last!.status).toBe(303);
    expect(last!.headers.location).toBe(`/t/${slug}/login?second-step=worn-out`);
    expect(clearsHeld(last!)).toBe(true);
    expect((await get(last!.headers.location as string)).raw).toContain('Too many wrong codes. Please sign in again.');
    // The right code no longer helps: the ticket is gone.
    const late = await postForm(t, '/login/verify', { code: codeAt(t, totp.secret) }, { cookie: held });
    expect(late.status).toBe(303);
    expect(late.headers.location).toMatch(/second-step=again/);
  });

  it('a security key: its button waits for JavaScript with the request options beside it; a key alone leaves no code field', async () => {
    const { slug, email, id } = await account(t, { prefix: 'keyonly' });
    // A registered key as the store holds it (the browser journeys make real ones): enough to offer it.
    await insertFactor(t.app.ctx.db, {
      userId: id, type: 'webauthn', label: 'Desk key', status: 'active', credentialId: 'AAECAwQFBgcICQ', publicKey: 'pQ', signCount: 0,
      transports: ['usb'], aaguid: '00000000-0000-0000-0000-000000000000', createdAt: t.clock.now(),
    });
    const { held } = await passwordStep(slug, email);
    const page = await get('/login/verify', held);
    expect(page.status).toBe(200);
    expect(page.raw).toMatch(/<button[^>]*id="use-security-key"[^>]*hidden>Use your security key<\/button>/);
    expect(page.raw).toContain('A security key needs JavaScript, which is off in this browser.');
    const attr = /data-options="([^"]+)"/.exec(page.raw)![1]!;
    const options = JSON.parse(attr.replace(/&#(\d+);/g, (_, n: string) => String.fromCharCode(Number(n))));
    expect(options.allowCredentials).toEqual([{ id: 'AAECAwQFBgcICQ', type: 'public-key', transports: ['usb'] }]);
    expect(options.rpId).toBe('keyturn.test');
    expect(page.raw).not.toContain('name="code"'); // no app and no recovery codes: nothing to type

    // Something that is not an assertion is refused without costing the ticket an answer.
    const junk = await postForm(t, '/login/verify', { webauthn: '{"not":"an assertion"}' }, { cookie: held });
    expect(junk.status).toBe(422);
    const forged = await postForm(t, '/login/verify', { webauthn: JSON.stringify({ id: 'AAECAwQFBgcICQ', type: 'public-key', response: {} }) }, { cookie: held });
    expect(forged.status).toBe(401);
    expect(forged.raw).toContain('That security key was not accepted.');
    expect(forged.raw).toContain('4 attempts left.');
  });

  it('speaks German', async () => {
    const { slug, email } = await totpAccount(t, { prefix: 'deutsch' });
    const { held } = await passwordStep(slug, email);
    const page = await get('/login/verify', held, { 'accept-language': 'de' });
    expect(page.raw).toContain('<html lang="de">');
    expect(page.raw).toContain('Code aus Ihrer Authenticator-App oder ein Wiederherstellungscode');
  });
});

describe('/login/enroll', () => {
  it('a tenant that requires a factor: the app is added on the page (QR code and key), recovery codes shown once, Continue signs in', async () => {
    const { slug, email } = await account(t, { prefix: 'enrol', tenant: { mfa: 'everyone' } });
    const { res, held } = await passwordStep(slug, email);
    expect(res.headers.location).toBe('https://keyturn.test/login/enroll');
    expect((await get('/login/verify', held)).headers.location).toBe('/login/enroll');

    const intro = await get('/login/enroll', held);
    expect(intro.status).toBe(200);
    expect(intro.raw).toContain('requires two-step verification');
    expect(intro.raw).toContain('Set up an authenticator app');
    // The security key needs JavaScript: the button is hidden, the sentence is in its place.
    expect(intro.raw).toMatch(/<button[^>]*id="add-security-key"[^>]*hidden>/);
    expect(intro.raw).toContain('A security key needs JavaScript');

    const app = await postForm(t, '/login/enroll', { step: 'app' }, { cookie: held });
    expect(app.status).toBe(200);
    expect(app.raw).toMatch(/<img[^>]*src="data:image\/svg\+xml;base64,[A-Za-z0-9+/=]+"/);
    const secret = /<code class="mfa-secret" id="totp-secret">([A-Z2-7 ]+)<\/code>/.exec(app.raw)![1]!.replace(/ /g, '');
    const factor = /name="factor" value="([0-9a-f-]{36})"/.exec(app.raw)![1]!;
    // Only the pending factor's id travels in the form, never the secret in any form.
    expect(app.raw.match(new RegExp(secret.slice(0, 8), 'g'))).toBeNull();

    // A wrong code shows the same key again.
    midStep(t);
    const wrong = await postForm(t, '/login/enroll', { step: 'confirm', factor, code: wrongCode(t, secret) }, { cookie: held });
    expect(wrong.status).toBe(401);
    expect(wrong.raw).toContain(secret.replace(/(.{4})/g, '$1 ').trim());
    // Another factor's id (or one of another account) confirms nothing.
    const swapped = await postForm(t, '/login/enroll', { step: 'confirm', factor: '00000000-0000-4000-8000-000000000000', code: codeAt(t, secret) }, { cookie: held });
    expect(swapped.status).toBe(409);

    const confirmed = await postForm(t, '/login/enroll', { step: 'confirm', factor, code: codeAt(t, secret) }, { cookie: held });
    expect(confirmed.status, confirmed.raw).toBe(200);
    const codes = [...confirmed.raw.matchAll(/<li><code>([a-z0-9]{5}-[a-z0-9]{5})<\/code><\/li>/g)].map((x) => x[1]);
    expect(codes).toHaveLength(10);
    expect(confirmed.raw).toContain('download="recovery-codes.txt" href="data:text/plain;charset=utf-8,');
    expect(confirmed.raw).not.toContain(held.split('=')[1]);
    nextStep(t);

    // A reload of the intro now only offers to finish.
    expect((await get('/login/enroll', held)).raw).toContain('Your second factor is set up.');

    const done = await postForm(t, '/login/enroll', { step: 'finish' }, { cookie: held });
    expect(done.status, done.raw).toBe(303);
    expect(done.headers.location).toBe('/account');
    expect(clearsHeld(done)).toBe(true);
    const session = cookiesOf(done).find((c) => c.startsWith('keyturn_session='))!;
    expect((await whoAmI(t, { cookie: session })).body.amr).toEqual(['pwd', 'otp']);

    // From now on sign-in asks for the code.
    expect((await passwordStep(slug, email)).res.headers.location).toBe('https://keyturn.test/login/verify');
    expect(t.logs.join('\n')).not.toContain(secret);
  });

  it('Continue before a factor was added goes back to the choice', async () => {
    const { slug, email } = await account(t, { prefix: 'enrolskip', tenant: { mfa: 'everyone' } });
    const { held } = await passwordStep(slug, email);
    const res = await postForm(t, '/login/enroll', { step: 'finish' }, { cookie: held });
    expect(res.status).toBe(409);
    expect(res.raw).toContain('Set up an authenticator app');
    expect(cookiesOf(res).some((c) => c.startsWith('keyturn_session='))).toBe(false);
  });
});

describe('the reset page\'s factor step', () => {
  async function openReset(email: string) {
    const { token } = await t.resetMail(email);
    const moved = await get(`/reset-password?token=${token}`);
    return { token, cookie: cookieHeader(moved) };
  }

  it('asks for the factor; without it or with a wrong one the link stays valid; a recovery code completes it', async () => {
    const { email, totp } = await totpAccount(t, { prefix: 'rpage' });
    const { token, cookie } = await openReset(email);
    const form = await get('/reset-password', cookie);
    expect(form.status).toBe(200);
    expect(form.raw).toContain('This account has two-step verification');
    expect(form.raw).toMatch(/<input id="mfa-code" name="mfa_code" type="text" autocomplete="one-time-code"/);

    const missing = await postForm(t, '/reset-password', { password: STRONG2, repeat: STRONG2 }, { cookie });
    expect(missing.status).toBe(403);
    expect(missing.raw).toContain('Enter the code from your authenticator app or a recovery code.');
    midStep(t);
    const wrong = await postForm(t, '/reset-password', { password: STRONG2, repeat: STRONG2, mfa_code: wrongCode(t, totp.secret) }, { cookie });
    expect(wrong.status).toBe(401);
    expect(wrong.raw).toContain('Your link still works');
    expect((await get('/reset-password', cookie)).status).toBe(200); // not consumed

    const done = await postForm(t, '/reset-password', { password: STRONG2, repeat: STRONG2, mfa_code: totp.recoveryCodes[1]! }, { cookie });
    expect(done.status, done.raw).toBe(303);
    expect(done.headers.location).toMatch(/^\/reset-password\/done/);
    expect((await t.api('POST', '/api/v1/password/reset/inspect', { token })).status).toBe(410);
    // The factor is still there: the new password alone does not sign in.
    const again = await t.api('POST', '/api/v1/login', { email, password: STRONG2 });
    expect(again.body.error).toBe('mfa_required');
  });

  it('several accounts: one field per account that has a factor, and a missing one is named', async () => {
    const { a, b, email } = await oneAddressTwoTenants(t, { prefix: 'rtwo' });
    const s = await t.login(email, STRONG, { tenant: a.slug });
    const totp = await enrolTotp(t, s);
    const { cookie } = await openReset(email);
    const form = await get('/reset-password', cookie);
    expect(form.raw).toContain(`name="mfa_code_${a.slug}"`);
    expect(form.raw).not.toContain(`name="mfa_code_${b.slug}"`);

    const missing = await postForm(t, '/reset-password', { choose: '1', tenants: [a.slug, b.slug], password: STRONG2, repeat: STRONG2 }, { cookie });
    expect(missing.status).toBe(403);
    expect(missing.raw).toContain(`Enter the code for ${a.slug.toUpperCase()}`);
    midStep(t);
    const both = await postForm(t, '/reset-password', { choose: '1', tenants: [a.slug, b.slug], password: STRONG2, repeat: STRONG2, [`mfa_code_${a.slug}`]: codeAt(t, totp.secret) }, { cookie });
    expect(both.status, both.raw).toBe(303);
    expect(both.headers.location).toBe('/reset-password/done');
    nextStep(t);
  });
});
