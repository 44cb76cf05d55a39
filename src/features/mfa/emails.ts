// What the owner hears about their second factors. A change they did not make is the sign of a
// taken-over session, so every "added" or "removed" notice carries the "this wasn't me" lock link.
import { esc, formatTime } from '../../platform/html.ts';
import type { MailContent } from '../../platform/outbox/outbox.ts';
import { layout, signed, type MailBrand } from '../password-reset/emails/messages.ts';

const KINDS = { totp: 'an authenticator app', webauthn: 'a security key or passkey' } as const;
const WASNT_ME = 'If this wasn\'t you, lock the account now: this signs everybody out and stops all reset links; your administrator can then help you back in.';

function notice(subject: string, line: string, lockUrl: string | null, brand: MailBrand['brand'], after = 'If it was you, there is nothing to do.'): MailContent {
  const text = [line, '', ...(lockUrl ? [WASNT_ME, lockUrl, ''] : []), after].join('\n');
  const html = layout(subject, [esc(line), ...(lockUrl ? [esc(WASNT_ME)] : [])],
    lockUrl ? { label: 'This wasn\'t me — lock my account', url: lockUrl } : undefined, esc(after), brand);
  return { subject, text: signed(text, brand), html };
}

export function factorAddedEmail(p: { tenantName: string; type: keyof typeof KINDS; label: string; at: Date; lockUrl: string } & MailBrand): MailContent {
  return notice('Two-step verification: a new sign-in factor was added',
    `${KINDS[p.type][0]!.toUpperCase()}${KINDS[p.type].slice(1)} ("${p.label}") was added to the two-step verification of your ${p.tenantName} account at ${formatTime(p.at)}.`,
    p.lockUrl, p.brand);
}

export function factorRemovedEmail(p: { tenantName: string; type: keyof typeof KINDS; label: string; at: Date; lockUrl: string } & MailBrand): MailContent {
  return notice('Two-step verification: a sign-in factor was removed',
    `${KINDS[p.type][0]!.toUpperCase()}${KINDS[p.type].slice(1)} ("${p.label}") was removed from the two-step verification of your ${p.tenantName} account at ${formatTime(p.at)}.`,
    p.lockUrl, p.brand);
}

export function recoveryCodesRenewedEmail(p: { tenantName: string; at: Date; lockUrl: string } & MailBrand): MailContent {
  return notice('Two-step verification: new recovery codes',
    `New recovery codes were made for your ${p.tenantName} account at ${formatTime(p.at)}. The old ones no longer work.`,
    p.lockUrl, p.brand);
}

export function recoveryCodeUsedEmail(p: { tenantName: string; at: Date; left: number; lockUrl: string } & MailBrand): MailContent {
  const left = p.left === 0
    ? 'You have no recovery codes left: make new ones in your security settings.'
    : `You have ${p.left} recovery code${p.left === 1 ? '' : 's'} left${p.left <= 3 ? ': make new ones in your security settings soon' : ''}.`;
  return notice('A recovery code was used',
    `A recovery code was used for your ${p.tenantName} account at ${formatTime(p.at)}. ${left}`,
    p.lockUrl, p.brand);
}

export function factorsResetEmail(p: { tenantName: string; at: Date; reason: string } & MailBrand): MailContent {
  return notice('Two-step verification was reset',
    `An administrator removed every two-step verification factor and recovery code of your ${p.tenantName} account at ${formatTime(p.at)} (reason given: ${p.reason}). Everybody was signed out. Set up two-step verification again after you sign in.`,
    null, p.brand, 'If you did not ask for this, contact your administrator now.');
}
