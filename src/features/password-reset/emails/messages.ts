// The reset flow's emails. No secret other than the reset link and its code ever goes in a mail;
// the "password changed" notice carries no token for the reset, only its own lock link.
import { esc, formatTime, listInWords } from '../../../platform/html.ts';
import type { MailContent } from '../../../platform/outbox/outbox.ts';
import { accessibleShade, type Brand } from '../../tenants/settings.ts';

/** The tenant's look in its emails (the tenant's `brand`); Keyturn's when absent (mail for several tenants). */
export interface MailBrand { brand?: Brand; }

function masthead(brand: Brand | undefined): string {
  const inner = !brand
    ? '<strong style="font-size:16px">Keyturn</strong>'
    : brand.logoUrl
      ? `<img src="${esc(brand.logoUrl)}" alt="${esc(brand.name)}" style="max-height:40px;max-width:200px;border:0">`
      : `<strong style="font-size:16px">${esc(brand.name)}</strong>`;
  return `<p style="margin:0 0 24px">${inner}</p>`;
}

/** The plain-text part, signed with the brand's name (whose name the HTML part shows at the top). */
export const signed = (text: string, brand: Brand | undefined) => (brand ? `${text}\n\n— ${brand.name}` : text);

export function layout(title: string, paragraphs: string[], button?: { label: string; url: string }, footer?: string, brand?: Brand): string {
  const body = paragraphs.map((p) => `<p style="margin:0 0 16px">${p}</p>`).join('\n');
  const colour = brand?.colour ? accessibleShade(brand.colour) : '#1f4ed8';
  const cta = button
    ? `<p style="margin:24px 0"><a href="${esc(button.url)}" style="background:${colour};color:#ffffff;padding:12px 20px;border-radius:6px;text-decoration:none;font-weight:600;display:inline-block">${esc(button.label)}</a></p>`
    : '';
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width"><title>${esc(title)}</title></head>
<body style="font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;color:#1a1a1a;line-height:1.5;margin:0;padding:24px;background:#f6f7f9">
<div style="max-width:560px;margin:0 auto;background:#ffffff;padding:32px;border-radius:8px">
${masthead(brand)}<h1 style="font-size:22px;margin:0 0 16px">${esc(title)}</h1>
${body}
${cta}
${footer ? `<p style="margin:24px 0 0;color:#5b6170;font-size:13px">${footer}</p>` : ''}
</div></body></html>`;
}

export function resetEmail(p: { url: string; codeUrl: string; code: string; expiresAt: Date; tenantNames: string[]; byAdmin: boolean } & MailBrand): MailContent {
  const accounts = listInWords(p.tenantNames);
  const expires = formatTime(p.expiresAt);
  const intro = p.byAdmin
    ? `An administrator started a password reset for your ${accounts} account${p.tenantNames.length > 1 ? 's' : ''}.`
    : `Someone (hopefully you) asked to reset the password of your ${accounts} account${p.tenantNames.length > 1 ? 's' : ''}.`;
  const text = [
    intro,
    '',
    'Reset your password here:',
    p.url,
    '',
    `If the link does not open, go to ${p.codeUrl} and enter this code: ${p.code}`,
    '',
    `The link and the code work once and expire at ${expires}.`,
    'If you did not ask for this, ignore this email: your password stays as it is.',
  ].join('\n');
  const html = layout(
    'Reset your password',
    [
      esc(intro),
      `This link and code work once and expire at <strong>${esc(expires)}</strong>.`,
    ],
    { label: 'Reset password', url: p.url },
    [
      `If the button does not work, copy this address into your browser:<br><a href="${esc(p.url)}">${esc(p.url)}</a>`,
      `Or go to <a href="${esc(p.codeUrl)}">${esc(p.codeUrl)}</a> and enter the code <strong style="font-family:monospace;font-size:16px">${esc(p.code)}</strong>.`,
      'If you did not ask for this, ignore this email: your password stays as it is.',
    ].join('<br><br>'),
    p.brand,
  );
  return { subject: 'Reset your password', text: signed(text, p.brand), html };
}

export type ResetMailInput = Parameters<typeof resetEmail>[0];

/**
 * Forgot-password for an account that has no password and signs in with Google (or the tenant's
 * OpenID Connect IdP): use that button; a password is optional, as a fallback, through the usual link.
 */
export function googleAccountResetEmail(p: ResetMailInput & { signInUrl: string }): MailContent {
  const accounts = listInWords(p.tenantNames);
  const expires = formatTime(p.expiresAt);
  const intro = `Someone (hopefully you) asked to reset the password of your ${accounts} account. Your account has no password: you sign in with Google.`;
  const use = `To sign in, use the "Sign in with Google" button on ${p.signInUrl} with this same email address.`;
  const optional = 'You only need a password if you want a way in for when Google sign-in is unavailable. It does not change your Google password, and Google sign-in keeps working.';
  const text = [
    intro, '', use, '', optional, 'To set one, open this link:', p.url, '',
    `If the link does not open, go to ${p.codeUrl} and enter this code: ${p.code}`, '',
    `The link and the code work once and expire at ${expires}.`,
    'If you did not ask for this, ignore this email: nothing changes.',
  ].join('\n');
  const html = layout(
    'You sign in with Google',
    [esc(intro), `${esc('To sign in, use the "Sign in with Google" button on')} <a href="${esc(p.signInUrl)}">${esc(p.signInUrl)}</a> ${esc('with this same email address.')}`, esc(optional)],
    { label: 'Set a password', url: p.url },
    [
      `If the button does not work, copy this address into your browser:<br><a href="${esc(p.url)}">${esc(p.url)}</a>`,
      `Or go to <a href="${esc(p.codeUrl)}">${esc(p.codeUrl)}</a> and enter the code <strong style="font-family:monospace;font-size:16px">${esc(p.code)}</strong>.`,
      `The link and the code work once and expire at ${esc(expires)}.`,
      'If you did not ask for this, ignore this email: nothing changes.',
    ].join('<br><br>'),
    p.brand,
  );
  return { subject: 'You sign in with Google', text: signed(text, p.brand), html };
}

/** Forgot-password in a tenant that allows only Google sign-in: no link, just where to sign in. */
export function ssoEnforcedEmail(p: { tenantNames: string[]; signInUrl: string } & MailBrand): MailContent {
  const accounts = listInWords(p.tenantNames);
  const line = `Someone asked to reset the password of your ${accounts} account. Password sign-in is off there: you sign in with Google, so no reset link was sent.`;
  const use = `Use the "Sign in with Google" button on ${p.signInUrl} with this same email address. If that does not work, contact your administrator.`;
  return {
    subject: 'Password sign-in is off for your account',
    text: signed(`${line}\n\n${use}\n\nIf you did not ask for this, you can ignore this email.`, p.brand),
    html: layout('Password sign-in is off', [esc(line), esc(use)], { label: 'Go to the sign-in page', url: p.signInUrl }, 'If you did not ask for this, you can ignore this email.', p.brand),
  };
}

export function accountDisabledEmail(p: { tenantNames: string[] } & MailBrand): MailContent {
  const accounts = listInWords(p.tenantNames);
  const line = `Someone asked to reset the password of your ${accounts} account, but the account is disabled, so no reset link was sent.`;
  const ask = 'Please contact your administrator to have it enabled again.';
  return {
    subject: 'Your account is disabled',
    text: signed(`${line}\n\n${ask}\n\nIf you did not ask for this, you can ignore this email.`, p.brand),
    html: layout('Your account is disabled', [esc(line), esc(ask)], undefined, 'If you did not ask for this, you can ignore this email.', p.brand),
  };
}

export function passwordChangedEmail(p: { tenantName: string; at: Date; how: 'reset' | 'change'; lockUrl: string } & MailBrand): MailContent {
  const when = formatTime(p.at);
  const how = p.how === 'change' ? 'changed in your settings' : 'reset with an emailed link or code';
  const signedOut = p.how === 'change' ? 'Your other devices were signed out.' : 'Every device that was signed in has been signed out.';
  const line = `The password of your ${p.tenantName} account was ${how} at ${when}. ${signedOut}`;
  const wasntMe = 'If this wasn\'t you, lock the account now: this signs everybody out, stops all reset links, and your administrator can then help you back in.';
  return {
    subject: 'Your password was changed',
    text: signed(`${line}\n\n${wasntMe}\n${p.lockUrl}\n\nIf it was you, there is nothing to do.`, p.brand),
    html: layout('Your password was changed', [esc(line), esc(wasntMe)], { label: 'This wasn\'t me — lock my account', url: p.lockUrl }, 'If it was you, there is nothing to do.', p.brand),
  };
}

export function accountLockedEmail(p: { tenantName: string; at: Date } & MailBrand): MailContent {
  const line = `Your ${p.tenantName} account was locked at ${formatTime(p.at)} from the "this wasn't me" link. Everybody was signed out and all reset links stopped working.`;
  const next = 'Contact your administrator to unlock it and choose a new password.';
  return {
    subject: 'Your account is locked',
    text: signed(`${line}\n\n${next}`, p.brand),
    html: layout('Your account is locked', [esc(line), esc(next)], undefined, undefined, p.brand),
  };
}

/**
 * A user an admin created without a password: a normal reset link (admin lifetime), worded as an
 * invitation. The code works as in every reset email.
 */
export function welcomeEmail(p: ResetMailInput & { signInUrl: string }): MailContent {
  const tenant = listInWords(p.tenantNames);
  const expires = formatTime(p.expiresAt);
  const intro = `An administrator created a ${tenant} account for you. Choose your password to start.`;
  const text = [
    intro,
    '',
    'Set your password here:',
    p.url,
    '',
    `If the link does not open, go to ${p.codeUrl} and enter this code: ${p.code}`,
    '',
    `The link and the code work once and expire at ${expires}. After that, ask your administrator for a new one.`,
    `Afterwards you sign in at ${p.signInUrl} with this email address.`,
  ].join('\n');
  const html = layout(
    'Welcome — set your password',
    [
      esc(intro),
      `This link and code work once and expire at <strong>${esc(expires)}</strong>. After that, ask your administrator for a new one.`,
    ],
    { label: 'Set your password', url: p.url },
    [
      `If the button does not work, copy this address into your browser:<br><a href="${esc(p.url)}">${esc(p.url)}</a>`,
      `Or go to <a href="${esc(p.codeUrl)}">${esc(p.codeUrl)}</a> and enter the code <strong style="font-family:monospace;font-size:16px">${esc(p.code)}</strong>.`,
      `Afterwards you sign in at <a href="${esc(p.signInUrl)}">${esc(p.signInUrl)}</a> with this email address.`,
    ].join('<br><br>'),
    p.brand,
  );
  return { subject: 'Welcome — set your password', text: signed(text, p.brand), html };
}

/**
 * The account-wide sign-in budget is spent: browsers this address never used are paused. The
 * owner's own browsers go on; the button makes the browser it is opened in one of them.
 */
export function signInPausedEmail(p: { url: string; expiresAt: Date; tenantNames: string[] } & MailBrand): MailContent {
  const intro = `Many sign-ins to your ${listInWords(p.tenantNames)} account failed in the last hour. To protect it, sign-in from browsers you have not used before is paused for up to an hour. Browsers you have signed in with before are not affected.`;
  const action = `If this was you and you are on a new browser, open this link in it to sign in from there (until ${formatTime(p.expiresAt)}):`;
  const footer = 'If it was not you, you need do nothing: your password was not accepted. Consider changing it if it is easy to guess.';
  return {
    subject: 'Sign-in to your account was paused',
    text: signed([intro, '', action, p.url, '', footer].join('\n'), p.brand),
    html: layout('Sign-in to your account was paused', [esc(intro), esc(action)], { label: 'Sign in from this browser', url: p.url }, esc(footer), p.brand),
  };
}
