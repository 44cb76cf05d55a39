// The second step in English and German: /login/verify, /login/enroll and the reset page's factor
// step. German in the Sie-Form like de.ts; secondStepDe has every key of secondStepEn (the type
// checks it). Adding an app and saving recovery codes use the words of /settings/security (security.ts).

const plural = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`;

export const secondStepEn = {
  verifyTitle: 'Two-step verification',
  verifyIntro: 'Your password was right. To finish signing in, prove it is you with your second factor.',
  verifyIntroGoogle: 'Google confirmed your account. To finish signing in, prove it is you with your second factor.',
  codeLabel: 'Code from your authenticator app or a recovery code',
  recoveryCodeLabel: 'Recovery code',
  codeHint: 'Six digits from the app, or a recovery code like abcde-23456.',
  recoveryCodeHint: 'One of the codes you saved, like abcde-23456.',
  verify: 'Verify',
  codeMissing: 'Enter the code from your authenticator app or a recovery code.',
  codeWrong: 'That code was not accepted. Codes from an authenticator app change every 30 seconds and work once.',
  attemptsLeft: (n: number) => `${plural(n, 'attempt', 'attempts')} left.`,
  lostFactor: 'Lost your phone or security key? Use one of your recovery codes. Without one, ask your administrator to reset your two-step verification.',
  /** Shown on the sign-in page when the held step is gone: expired, used, or never there. */
  signInAgain: 'Your sign-in took too long or was interrupted. Please sign in again.',
  wornOut: 'Too many wrong codes. Please sign in again.',

  useSecurityKey: 'Use your security key',
  keyNoScript: 'A security key needs JavaScript, which is off in this browser. Turn it on, or enter a code instead.',
  keyUnsupported: 'This browser cannot use a security key. Enter a code instead, or try another browser.',
  keyWorking: 'Follow your browser: touch your security key or confirm the passkey.',
  keyFailed: 'The security key did not answer: it was cancelled or took too long. Try again, or enter a code.',
  keyWrong: 'That security key was not accepted. Try again, or enter a code.',
  keyReady: 'Security key confirmed. Now choose the new password.',

  enrollTitle: 'Set up two-step verification',
  enrollIntro: (tenant: string) => `Your organisation, ${tenant}, requires two-step verification. Add a second factor to finish signing in: from now on, signing in will also ask for it.`,
  enrollApp: 'Set up an authenticator app',
  enrollKey: 'Use a security key instead',
  enrollKeyHint: 'A USB or NFC security key, or a passkey kept on this device or your phone.',
  enrollKeyNoScript: 'A security key needs JavaScript, which is off in this browser. Set up an authenticator app instead.',
  enrollKeyUnsupported: 'This browser cannot use security keys. Set up an authenticator app instead.',
  enrollDone: 'Two-step verification is set up.',
  enrollAlreadyDone: 'Your second factor is set up. Continue to finish signing in.',
  finish: 'Continue',

  resetLegend: 'Two-step verification',
  resetLegendFor: (tenant: string) => `Two-step verification for ${tenant}`,
  resetHint: 'This account has two-step verification: the email proves the address, your second factor proves it is you.',
  resetFactorMissing: (tenant: string) => `Enter the code for ${tenant}, or clear its tick to leave that account's password as it is.`,
  resetFactorWrong: 'A code or security key was not accepted. Your link still works: try again with a new code.',
};

export const secondStepDe: typeof secondStepEn = {
  verifyTitle: 'Zwei-Schritt-Bestätigung',
  verifyIntro: 'Ihr Passwort war richtig. Bestätigen Sie mit Ihrem zweiten Faktor, dass Sie es sind, um die Anmeldung abzuschließen.',
  verifyIntroGoogle: 'Google hat Ihr Konto bestätigt. Bestätigen Sie mit Ihrem zweiten Faktor, dass Sie es sind, um die Anmeldung abzuschließen.',
  codeLabel: 'Code aus Ihrer Authenticator-App oder ein Wiederherstellungscode',
  recoveryCodeLabel: 'Wiederherstellungscode',
  codeHint: 'Sechs Ziffern aus der App oder ein Wiederherstellungscode wie abcde-23456.',
  recoveryCodeHint: 'Einer der Codes, die Sie gespeichert haben, wie abcde-23456.',
  verify: 'Bestätigen',
  codeMissing: 'Geben Sie den Code aus Ihrer Authenticator-App oder einen Wiederherstellungscode ein.',
  codeWrong: 'Dieser Code wurde nicht angenommen. Codes aus einer Authenticator-App wechseln alle 30 Sekunden und funktionieren nur einmal.',
  attemptsLeft: (n: number) => `Noch ${plural(n, 'Versuch', 'Versuche')}.`,
  lostFactor: 'Telefon oder Sicherheitsschlüssel verloren? Verwenden Sie einen Ihrer Wiederherstellungscodes. Ohne einen bitten Sie Ihre Administration, Ihre Zwei-Schritt-Bestätigung zurückzusetzen.',
  signInAgain: 'Ihre Anmeldung hat zu lange gedauert oder wurde unterbrochen. Bitte melden Sie sich noch einmal an.',
  wornOut: 'Zu viele falsche Codes. Bitte melden Sie sich noch einmal an.',

  useSecurityKey: 'Sicherheitsschlüssel verwenden',
  keyNoScript: 'Für einen Sicherheitsschlüssel wird JavaScript benötigt, das in diesem Browser ausgeschaltet ist. Schalten Sie es ein oder geben Sie stattdessen einen Code ein.',
  keyUnsupported: 'Dieser Browser kann keinen Sicherheitsschlüssel verwenden. Geben Sie stattdessen einen Code ein oder versuchen Sie einen anderen Browser.',
  keyWorking: 'Folgen Sie Ihrem Browser: Berühren Sie Ihren Sicherheitsschlüssel oder bestätigen Sie den Passkey.',
  keyFailed: 'Der Sicherheitsschlüssel hat nicht geantwortet: Der Vorgang wurde abgebrochen oder hat zu lange gedauert. Versuchen Sie es noch einmal oder geben Sie einen Code ein.',
  keyWrong: 'Dieser Sicherheitsschlüssel wurde nicht angenommen. Versuchen Sie es noch einmal oder geben Sie einen Code ein.',
  keyReady: 'Sicherheitsschlüssel bestätigt. Wählen Sie jetzt das neue Passwort.',

  enrollTitle: 'Zwei-Schritt-Bestätigung einrichten',
  enrollIntro: (tenant: string) => `Ihre Organisation, ${tenant}, verlangt die Zwei-Schritt-Bestätigung. Fügen Sie einen zweiten Faktor hinzu, um die Anmeldung abzuschließen: Künftig fragt die Anmeldung auch danach.`,
  enrollApp: 'Authenticator-App einrichten',
  enrollKey: 'Stattdessen einen Sicherheitsschlüssel verwenden',
  enrollKeyHint: 'Ein USB- oder NFC-Sicherheitsschlüssel oder ein Passkey auf diesem Gerät oder Ihrem Telefon.',
  enrollKeyNoScript: 'Für einen Sicherheitsschlüssel wird JavaScript benötigt, das in diesem Browser ausgeschaltet ist. Richten Sie stattdessen eine Authenticator-App ein.',
  enrollKeyUnsupported: 'Dieser Browser kann keine Sicherheitsschlüssel verwenden. Richten Sie stattdessen eine Authenticator-App ein.',
  enrollDone: 'Die Zwei-Schritt-Bestätigung ist eingerichtet.',
  enrollAlreadyDone: 'Ihr zweiter Faktor ist eingerichtet. Fahren Sie fort, um die Anmeldung abzuschließen.',
  finish: 'Weiter',

  resetLegend: 'Zwei-Schritt-Bestätigung',
  resetLegendFor: (tenant: string) => `Zwei-Schritt-Bestätigung für ${tenant}`,
  resetHint: 'Dieses Konto hat die Zwei-Schritt-Bestätigung: Die E-Mail belegt die Adresse, Ihr zweiter Faktor belegt, dass Sie es sind.',
  resetFactorMissing: (tenant: string) => `Geben Sie den Code für ${tenant} ein oder entfernen Sie dort das Häkchen, damit das Passwort dieses Kontos bleibt, wie es ist.`,
  resetFactorWrong: 'Ein Code oder Sicherheitsschlüssel wurde nicht angenommen. Ihr Link funktioniert weiter: Versuchen Sie es mit einem neuen Code.',
};
