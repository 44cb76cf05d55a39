// The English catalogue: every string a hosted page shows. de.ts must have the same keys (the
// Messages type makes a missing or mistyped one a compile error).
import { html, type Html, type Part } from '../html.ts';

const plural = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`;

export const en = {
  lang: 'en',
  appName: 'Keyturn',
  skipToContent: 'Skip to content',
  titleSuffix: 'Keyturn',
  minutes: (n: number) => plural(n, 'minute', 'minutes'),
  hours: (n: number) => plural(n, 'hour', 'hours'),
  utc: 'UTC',

  // shared form words
  email: 'Email address',
  password: 'Password',
  signIn: 'Sign in',
  backToSignIn: 'Back to sign-in',
  continue: 'Continue',
  invalidEmail: 'Enter one email address, like name@example.com.',
  tooMany: (minutes: string) => `Too many requests — try again in ${minutes}.`,
  genericError: 'Something went wrong on our side. Please try again in a moment.',
  formExpired: 'This form expired. Please try again.',
  requestInvalid: 'This request could not be read. Please go back and try again.',
  errorHeading: 'There is a problem',
  notFoundTitle: 'Page not found',
  notFoundText: 'There is nothing at this address.',

  // adaptive captcha
  captchaNeeded: 'Please confirm you are a person, then send the form again.',
  captchaWorking: 'Checking that you are a person… (this takes a moment)',
  captchaDone: 'Done — you can send the form now.',
  captchaFailed: 'The check did not finish. Reload the page and try again.',
  captchaNoScript: 'This check needs JavaScript. Turn it on, or try again later.',
  captchaUnsupported: 'An extra check is needed that this page cannot show. Please try again later.',
  captchaUnavailable: 'The check that you are a person is not answering — try again in a minute.',

  // sign-in
  loginTitle: 'Sign in',
  loginTitleTenant: (tenant: string) => `Sign in to ${tenant}`,
  forgotLink: 'Forgot password?',
  loginFailed: 'The email address or password is not right.',
  sessionEnded: 'You were signed out. Sign in again to continue.',
  signedOut: 'You are signed out.',
  chooseTenantTitle: 'Choose an account',
  chooseTenantIntro: 'This email address and password fit more than one account. Which one do you want to use?',
  continueTo: (tenant: string) => `Continue to ${tenant}`,
  ticketExpired: 'The choice took too long and expired — please sign in again.',

  // single sign-on on the tenant login page
  ssoGoogle: 'Sign in with Google',
  ssoOther: 'Sign in with your organisation',
  or: 'or',
  ssoErrorUnavailable: 'Single sign-on is not available right now. Try again in a few minutes.',
  ssoErrorCancelled: 'Sign-in was cancelled.',
  ssoErrorInvalidState: 'The sign-in took too long or was interrupted. Please try again.',
  ssoErrorUnverifiedEmail: 'Your identity provider did not confirm your email address, so you could not be signed in.',
  ssoErrorWrongDomain: (tenant: string) => `That account does not belong to ${tenant}. Sign in with your work account.`,
  ssoErrorNotLinked: (tenant: string) => `There is no ${tenant} account for that sign-in. Ask your administrator to add you.`,

  // forgot password
  forgotTitle: 'Reset your password',
  forgotTitleTenant: (tenant: string) => `Reset your ${tenant} password`,
  forgotIntro: 'Enter the email address you sign in with. We will send you a link and a code to choose a new password.',
  sendLink: 'Send reset email',
  haveCode: 'Already have a code? Enter it here',
  sentTitle: 'Check your email',
  sentText: (ttl: string) => `If an account uses this address, an email with a reset link and a code is on its way. The link and the code work once, for ${ttl}.`,
  sentNothingHeading: 'Nothing arrived?',
  sentTipSpam: 'Look in your spam or junk folder.',
  sentTipAddress: 'Check that you typed the exact address you sign in with: the email only goes to the address on the account.',
  sentTipWait: 'Wait a few minutes — delivery can take a while.',
  sentTipAgain: (limit: { count: number; per: string } | null) =>
    `Still nothing after 10 minutes? Request a new email. Each new email replaces the previous one${limit ? `; you can ask up to ${limit.count} times in ${limit.per}` : ''}.`,
  requestAgain: 'Request a new email',

  // reset: the link moves out of the address bar
  movingTitle: 'Opening the reset page…',
  movingText: 'If nothing happens, continue here:',
  noProofTitle: 'Open the link from your email',
  noProofText: 'This page needs the link from the reset email. Open the link again, or enter the code from the same email.',

  // reset: the form
  resetTitle: 'Choose a new password',
  resetFor: 'New password for',
  resetAccountLine: (email: string, tenant: string) => `${email} at ${tenant}`,
  resetChooseLegend: 'Which accounts get the new password?',
  resetChooseHint: 'This address has accounts in several places. The new password is set for the ones you tick.',
  chooseOne: 'Choose at least one account.',
  newPassword: 'New password',
  repeatPassword: 'Repeat the new password',
  passwordsDontMatch: 'Passwords do not match',
  repeatMissing: 'Repeat the new password.',
  rulesHeading: 'Your new password needs',
  ruleMet: 'done',
  ruleNotMet: 'not yet',
  ruleMinLength: (n: number) => `At least ${plural(n, 'character', 'characters')}`,
  ruleMaxLength: (n: number) => `At most ${plural(n, 'character', 'characters')}`,
  ruleUppercase: 'An uppercase letter',
  ruleNumber: 'A number',
  ruleSpecial: 'A special character (like ! or a space)',
  ruleNotEmail: 'Not your email address',
  ruleNotCommon: 'Not a common or easily guessed password',
  policyFailed: 'The new password does not meet every rule yet — see the list below the field.',
  strengthLabel: 'Strength',
  strengthLevels: ['Very weak', 'Weak', 'Fair', 'Strong', 'Very strong'] as string[],
  confirm: 'Confirm new password',
  useCodeInstead: 'Enter the code from the email instead',
  showPassword: 'Show',
  hidePassword: 'Hide',

  // reset: by code
  codeTitle: 'Enter your reset code',
  codeIntro: 'Enter the address the reset email was sent to and the 8-character code in it.',
  codeLabel: 'Code from the email',
  codeHint: 'Like ABCD-EFGH. Upper or lower case, with or without the dash.',
  codeWrong: 'This code is not right, or it was entered wrongly too often. Check it, use the link from the same email, or request a new email.',

  // reset: outcomes
  doneTitle: 'Your password has been reset',
  doneText: 'Every device that was signed in to the account has been signed out. Sign in with your new password.',
  expiredTitle: 'This link has expired',
  expiredText: (time: Part): Html => html`This link expired at ${time} — request a new one.`,
  usedTitle: 'This link was already used',
  usedText: (time: Part): Html => html`This link was already used at ${time}. If that was you, sign in with your new password.`,
  supersededTitle: 'A newer link was sent',
  supersededText: (time: Part): Html => html`A newer link was sent at ${time} — use the newest email.`,
  revokedTitle: 'This link no longer works',
  revokedText: (time: Part): Html => html`The account changed at ${time} (new password, new email address, or disabled), so this link stopped working. Request a new one if you still need it.`,
  unavailableText: 'The account behind this link can no longer be reset. Please contact your administrator.',
  invalidTitle: 'This link is not valid',
  invalidText: 'The link may be incomplete — some email programs break long links. Enter the code from the email instead, or request a new email.',
  failedTitle: 'Password reset failed',
  failedIntro: 'The link stopped working while this page was open, so the password was not changed.',
  requestNew: 'Request a new link',

  // settings
  accountTitle: 'Your account',
  signedInAs: (email: string, tenant: string) => `Signed in as ${email} at ${tenant}.`,
  changePasswordLink: 'Change password',
  signOut: 'Sign out',
  settingsTitle: 'Change your password',
  currentPassword: 'Current password',
  wrongCurrent: 'The current password is not right. Nothing was changed.',
  wrongCurrentField: 'This is not your current password.',
  savePassword: 'Change password',
  updated: 'Password updated; other devices were signed out.',
  backToAccount: 'Back to your account',

  // dev mailbox
  mailboxTitle: 'Dev mailbox',
  mailboxIntro: 'Mail Keyturn would have sent. This page exists only while mail goes to the dev mailbox.',
  mailboxEmpty: 'No messages yet. Ask for a password reset and it shows up here.',
  mailboxReceived: 'Received',
  mailboxTo: 'To',
  mailboxFrom: 'From',
  mailboxSubject: 'Subject',
  mailboxAll: 'All messages',
  mailboxPreview: 'The message as it renders',
  mailboxPlain: 'Plain-text version',
  mailboxRefresh: 'Refresh',
};

export type Messages = typeof en;
