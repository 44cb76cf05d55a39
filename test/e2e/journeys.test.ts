// The journeys in a real Chromium with JavaScript on: reset by link and by code with the live
// checklist, the outcome pages, the two-tenant chooser, and changing the password in settings.
import type { Page } from 'playwright-core';
import { describe, expect, it, vi } from 'vitest';
import {
  account, attr, browserSuite, checked, disabled, enterResetCode, fillNewPassword, h1, oneAddressTwoTenants, openResetLink, pathOf, STRONG, text, unique, visible,
} from '../helpers/browser.ts';

vi.setConfig({ testTimeout: 60_000 });

// From the second request for one address on, forgot-password asks for the captcha.
const { live, openPage, signIn, openMailLink } = browserSuite({ env: { CAPTCHA_AFTER: 'forgotPerAccount=0', CAPTCHA_DIFFICULTY: '2000' } });

const newPage = () => openPage({ viewport: { width: 1280, height: 800 }, locale: 'en-GB' });

async function requestReset(page: Page, email: string, path = '/forgot-password') {
  const since = live.mail.messages.length;
  await page.goto(live.url + path);
  await page.getByLabel('Email address').fill(email);
  await page.getByRole('button', { name: 'Send reset email' }).click();
  await page.waitForLoadState('load');
  if (await page.locator('[data-captcha]').count()) {
    // A repeated request: the browser solves the proof of work by itself, then we send again.
    await attr(page.locator('[data-captcha]'), 'data-solved').toBe('true');
    await page.getByRole('button', { name: 'Send reset email' }).click();
  }
  await pathOf(page).toBe(`${path}/sent`);
  return live.resetMailFor(email, since);
}

const rule = (page: Page, id: string) => page.locator(`[data-rule="${id}"]`);

describe('reset by link, JavaScript on', () => {
  it('forgot → mail → link → token leaves the URL → live checklist → success → new sign-in; the old session is signed out', async () => {
    const { slug, tenantName: name, email } = await account(live, { prefix: 'jane' });

    // Someone (the attacker, or the owner's other laptop) is signed in with the old password.
    const old = await newPage();
    await signIn(old, `/t/${slug}/login`, email, STRONG);
    await pathOf(old).toBe('/account');

    const page = await newPage();
    await page.goto(`${live.url}/t/${slug}/login`);
    await h1(page).toBe(`Sign in to ${name}`);
    await page.getByRole('link', { name: 'Forgot password?' }).click();
    await pathOf(page).toBe(`/t/${slug}/forgot-password`);
    const { token, mail } = await requestReset(page, email, `/t/${slug}/forgot-password`);
    await h1(page).toBe('Check your email');

    const historyBefore = await page.evaluate(() => history.length);
    await openMailLink(page, mail.html);
    expect(page.url()).toBe(`${live.url}/reset-password`);
    // about:blank (the "webmail") + one entry: the refresh replaced the tokenised URL in history.
    expect(await page.evaluate(() => history.length)).toBe(historyBefore + 2);
    await page.goBack();
    expect(page.url()).toBe('about:blank');
    await page.goForward();
    await page.waitForURL(`${live.url}/reset-password`);
    expect(await page.evaluate(() => document.documentElement.outerHTML)).not.toContain(token);
    const cookies = await page.context().cookies(live.url + '/reset-password');
    expect(cookies.find((c) => c.name === 'keyturn_reset')).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/reset-password' });
    await h1(page).toBe('Choose a new password');
    await text(page.locator('.accounts')).toContain(email);
    await text(page.locator('.accounts')).toContain(name);

    const confirm = page.getByRole('button', { name: 'Confirm new password' });
    await disabled(confirm).toBe(true);
    const pw = page.getByLabel('New password', { exact: true });
    await pw.focus();
    await pw.pressSequentially('q');
    await attr(rule(page, 'min_length'), 'data-ok').toBe('false');
    await attr(rule(page, 'uppercase'), 'data-ok').toBe('false');
    await pw.pressSequentially('Q');
    await attr(rule(page, 'uppercase'), 'data-ok').toBe('true');
    await attr(rule(page, 'number'), 'data-ok').toBe('false');
    await pw.pressSequentially('7');
    await attr(rule(page, 'number'), 'data-ok').toBe('true');
    await attr(rule(page, 'special'), 'data-ok').toBe('false');
    await pw.pressSequentially('-');
    await attr(rule(page, 'special'), 'data-ok').toBe('true');
    await attr(rule(page, 'min_length'), 'data-ok').toBe('false');
    await pw.pressSequentially('zebra');
    await attr(rule(page, 'min_length'), 'data-ok').toBe('true');
    await pw.pressSequentially('-Lantern-58');
    await attr(rule(page, 'not_common'), 'data-ok').toBe('true');
    await visible(page.locator('[data-meter]')).toBe(true);
    await text(page.locator('[data-meter-text]')).not.toBe('—');
    const newPassword = 'qQ7-zebra-Lantern-58';

    const repeat = page.getByLabel('Repeat the new password');
    await repeat.fill('qQ7-zebra');
    await text(page.locator('#repeat-error')).toBe('Passwords do not match');
    await disabled(confirm).toBe(true);
    await repeat.fill(newPassword);
    await text(page.locator('#repeat-error')).toBe('');
    await disabled(confirm).toBe(false);
    await confirm.click();

    await pathOf(page).toBe('/reset-password/done');
    await h1(page).toBe('Your password has been reset');
    expect((await page.context().cookies(live.url + '/reset-password')).find((c) => c.name === 'keyturn_reset')).toBeUndefined();
    await page.getByRole('link', { name: 'Sign in' }).click();
    await pathOf(page).toBe(`/t/${slug}/login`);
    await signIn(page, `/t/${slug}/login`, email, newPassword);
    await pathOf(page).toBe('/account');
    await visible(page.getByText(`Signed in as ${email}`)).toBe(true);

    // The old session is gone on its next click.
    await old.getByRole('link', { name: 'Change password' }).click();
    await pathOf(old).toBe('/login');
    await visible(old.getByText('You were signed out')).toBe(true);

    // The token never reached a log line.
    expect(live.logs.join('\n')).not.toContain(token);
  });

  it('the same journey by code: email + code, any case, without the dash', async () => {
    const { email } = await account(live, { prefix: 'cody' });
    const page = await newPage();
    const { code } = await requestReset(page, email);
    await page.goto(`${live.url}/reset-password/code`);
    await enterResetCode(page, email, code.replace('-', '').toLowerCase());
    await page.waitForURL(`${live.url}/reset-password`);
    await text(page.locator('.accounts')).toContain(email);
    await fillNewPassword(page, 'Copper-Kettle-913!');
    await page.getByRole('button', { name: 'Confirm new password' }).click();
    await h1(page).toBe('Your password has been reset');
    await signIn(page, '/login', email, 'Copper-Kettle-913!');
    await pathOf(page).toBe('/account');
  });

  it('a wrong code says so and changes nothing', async () => {
    const page = await newPage();
    await page.goto(`${live.url}/reset-password/code`);
    await enterResetCode(page, `${unique('nobody')}@example.com`, 'ABCD-EFGH');
    await text(page.locator('.field-error')).toContain('This code is not right');
  });
});

describe('outcome pages', () => {
  it('an expired link says when it expired and offers a new one', async () => {
    const { email } = await account(live, { prefix: 'exp' });
    const page = await newPage();
    const { mail } = await requestReset(page, email);
    live.clock.advance(2 * 3600_000);
    try {
      await openMailLink(page, mail.html);
      await h1(page).toBe('This link has expired');
      await text(page.locator('main')).toMatch(/This link expired at \d\d:\d\d/);
      await visible(page.getByRole('button', { name: 'Request a new link' })).toBe(true);
    } finally {
      live.clock.advance(-2 * 3600_000);
    }
  });

  it('a used link says when it was used', async () => {
    const { email } = await account(live, { prefix: 'used' });
    const page = await newPage();
    const { token, mail } = await requestReset(page, email);
    const res = await live.app.publicApp.inject({ method: 'POST', url: '/api/v1/password/reset', payload: { token, password: 'Velvet-Harbor-204!' } });
    expect(res.statusCode).toBe(200);
    await openMailLink(page, mail.html);
    await h1(page).toBe('This link was already used');
    await text(page.locator('main')).toMatch(/already used at \d\d:\d\d/);
  });

  it('a superseded link points to the newest email', async () => {
    const { email } = await account(live, { prefix: 'sup' });
    const page = await newPage();
    const first = await requestReset(page, email);
    await requestReset(page, email);
    await openMailLink(page, first.mail.html);
    await h1(page).toBe('A newer link was sent');
    await text(page.locator('main')).toMatch(/A newer link was sent at \d\d:\d\d .*use the newest email/);
  });

  it('a mangled link is invalid and offers the code', async () => {
    const page = await newPage();
    await openResetLink(page, `${live.url}/reset-password?token=${'x'.repeat(43)}`);
    await h1(page).toBe('This link is not valid');
    await visible(page.getByRole('link', { name: 'Enter the code from the email instead' })).toBe(true);
  });

  it('a link that dies while the page is open ends in "Password reset failed"', async () => {
    const { email } = await account(live, { prefix: 'race' });
    const page = await newPage();
    const { mail } = await requestReset(page, email);
    await openMailLink(page, mail.html);
    await h1(page).toBe('Choose a new password');
    // Meanwhile a newer email is requested (another tab): this link is superseded.
    const other = await newPage();
    await requestReset(other, email);
    await fillNewPassword(page, 'Amber-Falcon-662!');
    await page.getByRole('button', { name: 'Confirm new password' }).click();
    await h1(page).toBe('Password reset failed');
    await text(page.locator('main')).toContain('use the newest email');
  });
});

describe('adaptive captcha', () => {
  it('a repeated request for one address asks for the captcha, which the browser solves by itself', async () => {
    const { email } = await account(live, { prefix: 'again' });
    const page = await newPage();
    await requestReset(page, email);
    await page.goto(`${live.url}/forgot-password`);
    await page.getByLabel('Email address').fill(email);
    await page.getByRole('button', { name: 'Send reset email' }).click();
    expect(await page.getByLabel('Email address').inputValue()).toBe(email);
    await attr(page.locator('[data-captcha]'), 'data-solved').toBe('true');
    await text(page.locator('[data-captcha-status]')).toBe('Done — you can send the form now.');
    expect(await page.getByRole('alert').count()).toBe(0); // one message at a time (issue 11 item 12)
    const since = live.mail.messages.length;
    await page.getByRole('button', { name: 'Send reset email' }).click();
    await pathOf(page).toBe('/forgot-password/sent');
    await live.resetMailFor(email, since);
  });
});

describe('two tenants', () => {
  it('sign-in asks which account, then signs in to the chosen one', async () => {
    const { a, b, email } = await oneAddressTwoTenants(live, { prefix: 'multi', names: ['Alpha Support', 'Beta Sales'] });
    const page = await newPage();
    await signIn(page, '/login', email, STRONG);
    await h1(page).toBe('Choose an account');
    await page.getByRole('button', { name: 'Continue to Beta Sales' }).click();
    await pathOf(page).toBe('/account');
    await visible(page.getByText(`Signed in as ${email} at Beta Sales.`)).toBe(true);
  });

  it('the reset page lists both accounts and resets only the ticked one', async () => {
    const { a, b, email } = await oneAddressTwoTenants(live, { prefix: 'both', names: ['Gamma Care', 'Delta Desk'] });
    const page = await newPage();
    const { mail } = await requestReset(page, email);
    await openMailLink(page, mail.html);
    const gamma = page.getByRole('checkbox', { name: /Gamma Care/ });
    const delta = page.getByRole('checkbox', { name: /Delta Desk/ });
    await checked(gamma).toBe(true);
    await checked(delta).toBe(true);
    await delta.uncheck();
    await fillNewPassword(page, 'Orchid-Valley-381!');
    const confirm = page.getByRole('button', { name: 'Confirm new password' });
    await gamma.uncheck();
    await disabled(confirm).toBe(true); // no account chosen
    await gamma.check();
    await confirm.click();
    await h1(page).toBe('Your password has been reset');
    // New password only in Gamma: sign-in goes straight there; Delta keeps the old one.
    await signIn(page, '/login', email, 'Orchid-Valley-381!');
    await visible(page.getByText(`Signed in as ${email} at Gamma Care.`)).toBe(true);
    const other = await newPage();
    await signIn(other, `/t/${b.slug}/login`, email, STRONG);
    await visible(other.getByText(`Signed in as ${email} at Delta Desk.`)).toBe(true);
  });
});

async function signedIn(email: string, password = STRONG): Promise<Page> {
  const page = await openPage();
  await signIn(page, '/login', email, password);
  await pathOf(page).toBe('/account');
  return page;
}

describe('/settings/password', () => {
  it('asks for sign-in first and comes back afterwards', async () => {
    const { email } = await account(live, { prefix: 'back' });
    const page = await openPage();
    await page.goto(`${live.url}/settings/password`);
    await pathOf(page).toBe('/login');
    await page.getByLabel('Email address').fill(email);
    await page.getByLabel('Password', { exact: true }).fill(STRONG);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await pathOf(page).toBe('/settings/password');
  });

  it('a wrong current password changes nothing; the right one updates it and signs out the other devices', async () => {
    const { email } = await account(live, { prefix: 'chg' });
    const other = await signedIn(email);
    const page = await signedIn(email);
    await page.getByRole('link', { name: 'Change password' }).click();
    await pathOf(page).toBe('/settings/password');
    await h1(page).toBe('Change your password');

    const save = page.getByRole('button', { name: 'Change password' });
    await disabled(save).toBe(true);
    await page.getByLabel('Current password').fill('Not-The-Password-1!');
    const pw = page.getByLabel('New password', { exact: true });
    await pw.pressSequentially('Pebble-Canyon-47!');
    await attr(page.locator('[data-rule="not_common"]'), 'data-ok').toBe('true');
    await page.getByLabel('Repeat the new password').fill('Pebble-Canyon-47?');
    await text(page.locator('#repeat-error')).toBe('Passwords do not match');
    await page.getByLabel('Repeat the new password').fill('Pebble-Canyon-47!');
    await disabled(save).toBe(false);
    await save.click();
    await text(page.locator('.alert-error')).toBe('The current password is not right. Nothing was changed.');
    await text(page.locator('#current-password-error')).toBe('This is not your current password.');

    // Nothing changed: the other device is still signed in.
    await other.reload();
    await pathOf(other).toBe('/account');

    await page.getByLabel('Current password').fill(STRONG);
    await fillNewPassword(page, 'Pebble-Canyon-47!');
    await disabled(save).toBe(false);
    await save.click();
    await text(page.getByRole('status')).toBe('Password updated; other devices were signed out.');
    expect(new URL(page.url()).searchParams.get('status')).toBe('updated');

    // This device stays signed in, the other one is out on its next click.
    await page.getByRole('link', { name: 'Back to your account' }).click();
    await pathOf(page).toBe('/account');
    await other.getByRole('link', { name: 'Change password' }).click();
    await pathOf(other).toBe('/login');
    await text(other.getByRole('status')).toContain('You were signed out');

    await signedIn(email, 'Pebble-Canyon-47!');
  });

  it('signs out from the account page', async () => {
    const { slug, email } = await account(live, { prefix: 'out' });
    const page = await signedIn(email);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await pathOf(page).toBe(`/t/${slug}/login`); // the tenant the session was in (issue 11 item 15)
    await text(page.getByRole('status')).toBe('You are signed out.');
    await page.goto(`${live.url}/account`);
    await pathOf(page).toBe('/login');
  });
});
